//! RFC 6901 JSON pointers, as JSON patch paths use them.

use super::PatchError;

/// The reference tokens of `pointer` (`""` is the whole document), with `~1` and `~0`
/// unescaped.
pub(super) fn parse(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(PatchError::does_not_apply(format!(
            "JSON pointer {pointer:?} does not start with '/'"
        )));
    };
    // `~1` first, so `~01` stays `~1` as RFC 6901 requires.
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

/// An array index token: a non-negative decimal without leading zeros, or a negative one
/// counting from the end (upstream's JSON patch library accepts those).
pub(super) fn index(token: &str, len: usize, allow_end: bool) -> Result<usize, PatchError> {
    let bad = || PatchError::does_not_apply(format!("Unable to access invalid index: {token}"));
    let digits = token.strip_prefix('-').unwrap_or(token);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return Err(bad());
    }
    let n: usize = digits.parse().map_err(|_| bad())?;
    let max = if allow_end { len } else { len.wrapping_sub(1) };
    let i = if token.starts_with('-') {
        len.checked_sub(n).ok_or_else(bad)?
    } else {
        n
    };
    if len == 0 && !allow_end || i > max {
        return Err(bad());
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unescaped() {
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(parse("/a~1b/c~0d/~01").unwrap(), ["a/b", "c~d", "~1"]);
        assert_eq!(parse("/").unwrap(), [""]);
        assert!(parse("a").is_err());
    }

    #[test]
    fn indices() {
        assert_eq!(index("0", 2, false).unwrap(), 0);
        assert_eq!(index("2", 2, true).unwrap(), 2);
        assert!(index("2", 2, false).is_err());
        assert!(index("01", 2, false).is_err());
        assert!(index("x", 2, false).is_err());
        assert_eq!(index("-1", 2, false).unwrap(), 1);
        assert!(index("-3", 2, false).is_err());
        assert!(index("0", 0, false).is_err());
    }
}
