//! The options of `pods/log`, `pods/exec` and `pods/attach` (query parameters, as upstream's
//! `PodLogOptions`, `PodExecOptions` and `PodAttachOptions`), checked and re-encoded the way
//! upstream's apiserver sends them to the kubelet.

use rkube_api::status::{ApiError, ErrorDetails, FieldCause};
use serde_json::json;

/// A query as ordered key-value pairs (repeated keys kept).
pub struct Pairs(Vec<(String, String)>);

impl Pairs {
    /// Parses a raw query.
    pub fn parse(raw: Option<&str>) -> Pairs {
        Pairs(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None | Some("" | "0" | "f" | "F" | "false" | "False" | "FALSE") => Ok(false),
            Some("1" | "t" | "T" | "true" | "True" | "TRUE") => Ok(true),
            Some(v) => Err(ApiError::bad_request(format!(
                "invalid value {v:?} for {key}: expected a boolean"
            ))),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid value {v:?} for {key}: expected an integer"
                    ))
                })
            })
            .transpose()
    }
}

fn encode(pairs: &[(&str, String)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

/// The kubelet query of a `pods/log` request for pod `pod` (validated as upstream's
/// `ValidatePodLogOptions`).
pub fn log_query(q: &Pairs, pod: &str) -> Result<String, ApiError> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for key in ["follow", "previous", "timestamps"] {
        if q.flag(key)? {
            out.push((key, "true".into()));
        }
    }
    let mut causes = Vec::new();
    let since_seconds = q.int("sinceSeconds")?;
    let tail = q.int("tailLines")?;
    let limit = q.int("limitBytes")?;
    if let Some(t) = tail.filter(|t| *t < 0) {
        causes.push(FieldCause::invalid(
            "tailLines",
            &json!(t),
            "must be greater than or equal to 0",
        ));
    }
    if let Some(l) = limit.filter(|l| *l < 1) {
        causes.push(FieldCause::invalid(
            "limitBytes",
            &json!(l),
            "must be greater than 0",
        ));
    }
    if let Some(s) = since_seconds.filter(|s| *s < 1) {
        causes.push(FieldCause::invalid(
            "sinceSeconds",
            &json!(s),
            "must be greater than 0",
        ));
    }
    let since_time = match q.get("sinceTime").filter(|v| !v.is_empty()) {
        Some(v) => Some(v.parse::<jiff::Timestamp>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid value {v:?} for sinceTime: expected RFC 3339"
            ))
        })?),
        None => None,
    };
    if since_seconds.is_some() && since_time.is_some() {
        causes.push(FieldCause::forbidden(
            "",
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    if !causes.is_empty() {
        return Err(invalid_log_options(pod, causes));
    }
    if let Some(s) = since_seconds {
        out.push(("sinceSeconds", s.to_string()));
    }
    if let Some(t) = since_time {
        out.push(("sinceTime", t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
    }
    if let Some(t) = tail {
        out.push(("tailLines", t.to_string()));
    }
    if let Some(l) = limit {
        out.push(("limitBytes", l.to_string()));
    }
    Ok(encode(&out))
}

fn invalid_log_options(pod: &str, causes: Vec<FieldCause>) -> ApiError {
    let joined: Vec<String> = causes.iter().map(FieldCause::to_message).collect();
    let list = match joined.as_slice() {
        [one] => one.clone(),
        _ => format!("[{}]", joined.join(", ")),
    };
    ApiError {
        code: 422,
        reason: "Invalid",
        message: format!("PodLogOptions \"{pod}\" is invalid: {list}"),
        details: Some(Box::new(ErrorDetails {
            name: pod.to_string(),
            kind: "PodLogOptions".into(),
            causes,
            ..Default::default()
        })),
    }
}

/// The kubelet query of an exec (`with_command`) or attach request: the flags as `1`, then
/// the command.
pub fn stream_query(q: &Pairs, with_command: bool) -> Result<String, ApiError> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for key in ["stdin", "stdout", "stderr", "tty"] {
        if q.flag(key)? {
            out.push((key, "1".into()));
        }
    }
    if with_command {
        out.extend(q.all("command").map(|c| ("command", c.to_string())));
    }
    Ok(encode(&out))
}

/// The kubelet query of a `pods/portforward` request: each `ports` value must be a port number
/// (upstream's `PodPortForwardOptions`).
pub fn port_forward_query(q: &Pairs) -> Result<String, ApiError> {
    let mut out: Vec<(&str, String)> = Vec::new();
    for p in q.all("ports") {
        for one in p.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match one.parse::<u16>() {
                Ok(n) if n > 0 => out.push(("ports", n.to_string())),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid port {one:?}: ports must be between 1 and 65535"
                    )));
                }
            }
        }
    }
    Ok(encode(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_forward_ports_checked() {
        let q = Pairs::parse(Some("ports=8080,9090&ports=53"));
        assert_eq!(
            port_forward_query(&q).unwrap(),
            "ports=8080&ports=9090&ports=53"
        );
        assert_eq!(port_forward_query(&Pairs::parse(None)).unwrap(), "");
        assert_eq!(
            port_forward_query(&Pairs::parse(Some("ports=0")))
                .unwrap_err()
                .code,
            400
        );
        assert!(port_forward_query(&Pairs::parse(Some("ports=http"))).is_err());
    }

    #[test]
    fn log_options_re_encoded() {
        let q = Pairs::parse(Some(
            "container=c&follow=true&tailLines=3&limitBytes=100&sinceTime=2025-01-01T00:00:00.5Z",
        ));
        assert_eq!(
            log_query(&q, "p").unwrap(),
            "follow=true&sinceTime=2025-01-01T00%3A00%3A00Z&tailLines=3&limitBytes=100"
        );
        let bad = Pairs::parse(Some("tailLines=-1&limitBytes=0"));
        let e = log_query(&bad, "p").unwrap_err();
        assert_eq!(e.code, 422);
        assert!(
            e.message
                .starts_with("PodLogOptions \"p\" is invalid: [tailLines: Invalid value: -1"),
            "{}",
            e.message
        );
        assert_eq!(
            log_query(&Pairs::parse(Some("follow=x")), "p")
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn exec_options_re_encoded() {
        let q = Pairs::parse(Some(
            "command=sh&command=-c&command=exit+3&container=c&stdin=true&stdout=true&stderr=false",
        ));
        assert_eq!(
            stream_query(&q, true).unwrap(),
            "stdin=1&stdout=1&command=sh&command=-c&command=exit+3"
        );
        assert_eq!(stream_query(&q, false).unwrap(), "stdin=1&stdout=1");
    }
}
