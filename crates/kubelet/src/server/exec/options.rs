//! The query of `/exec/…` and `/attach/…`: `command` (repeated, exec only) and the `stdin`,
//! `stdout`, `stderr`, `tty` flags (`1`, as the apiserver sends them; `true` is accepted too).

/// Which streams a remote command uses, and (exec) what it runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamOptions {
    /// The command and its arguments (exec).
    pub command: Vec<String>,
    /// Attach the client's stdin.
    pub stdin: bool,
    /// Send stdout.
    pub stdout: bool,
    /// Send stderr (never with a TTY, which merges it into stdout).
    pub stderr: bool,
    /// Allocate a terminal.
    pub tty: bool,
}

impl StreamOptions {
    /// With a TTY there is no separate stderr (upstream drops it silently).
    pub fn with_tty(mut self, tty: bool) -> Self {
        self.tty = tty;
        if tty {
            self.stderr = false;
        }
        self
    }
}

/// Reads the query; the error is upstream's text (answered with 400).
pub fn parse(query: Option<&str>) -> Result<StreamOptions, String> {
    let mut opts = StreamOptions::default();
    let mut tty = false;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let on = matches!(value.as_ref(), "1" | "true");
        match key.as_ref() {
            "command" => opts.command.push(value.into_owned()),
            "stdin" => opts.stdin = on,
            "stdout" => opts.stdout = on,
            "stderr" => opts.stderr = on,
            "tty" => tty = on,
            _ => {}
        }
    }
    let opts = opts.with_tty(tty);
    if !opts.stdin && !opts.stdout && !opts.stderr {
        return Err("you must specify at least 1 of stdin, stdout, stderr".into());
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_repeated_commands() {
        let o = parse(Some(
            "command=sh&command=-c&command=echo+a%26b&stdout=1&stderr=true",
        ))
        .unwrap();
        assert_eq!(o.command, ["sh", "-c", "echo a&b"]);
        assert!(o.stdout && o.stderr && !o.stdin && !o.tty);
        let o = parse(Some("stdin=1&stderr=1&tty=1")).unwrap();
        assert!(o.tty && o.stdin && !o.stderr, "a TTY drops stderr");
        assert_eq!(
            parse(Some("command=ls&stdout=0")).unwrap_err(),
            "you must specify at least 1 of stdin, stdout, stderr"
        );
    }
}
