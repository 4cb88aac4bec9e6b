//! How to reach etcd: endpoints, TLS material and timeouts, checked before connecting.

use crate::StoreError;
use etcd_client::{Certificate, ConnectOptions, Identity, TlsOptions};
use std::fmt;
use std::time::Duration;

/// Connection settings for [`super::EtcdStore`].
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// Client URLs of the members, `http://host:port` or `https://host:port`. Requests are
    /// spread over all of them; a member that does not answer is retried on another.
    pub endpoints: Vec<String>,
    /// TLS material; required for `https://` endpoints, refused for `http://` ones.
    pub tls: Option<EtcdTls>,
    /// How long to wait for a TCP (and TLS) connection to one member.
    pub dial_timeout: Duration,
    /// How long one store operation may take, retries on other members included; also how long
    /// a broken watch keeps trying to resume before it ends with [`StoreError::Unavailable`].
    pub request_timeout: Duration,
}

impl EtcdConfig {
    /// Plain settings for `endpoints`: no TLS, 5 s dial timeout, 15 s request timeout.
    pub fn new<S: Into<String>>(endpoints: impl IntoIterator<Item = S>) -> EtcdConfig {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            tls: None,
            dial_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
        }
    }
}

/// TLS material for etcd, PEM-encoded. Every piece is optional: without `ca_pem` the server
/// certificate must chain to a root the TLS stack already trusts; `cert_pem` and `key_pem`
/// (a client certificate) go together.
#[derive(Clone, Default)]
pub struct EtcdTls {
    /// CA certificate(s) to verify the members' server certificates.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate chain, for etcd's `--client-cert-auth`.
    pub cert_pem: Option<Vec<u8>>,
    /// The client certificate's private key.
    pub key_pem: Option<Vec<u8>>,
}

impl fmt::Debug for EtcdTls {
    // Never print the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdTls")
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<pem>"))
            .field("cert_pem", &self.cert_pem.as_ref().map(|_| "<pem>"))
            .field("key_pem", &self.key_pem.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl EtcdConfig {
    /// The endpoints as one string, for error messages.
    pub(super) fn endpoints_label(&self) -> String {
        if self.endpoints.is_empty() {
            "(no endpoints)".to_string()
        } else {
            self.endpoints.join(",")
        }
    }

    /// Checks the settings and turns them into etcd-client options.
    pub(super) fn connect_options(&self) -> Result<ConnectOptions, StoreError> {
        let bad = |reason: String| StoreError::Unavailable {
            endpoints: self.endpoints_label(),
            reason: format!("invalid etcd configuration: {reason}"),
        };
        if self.endpoints.is_empty() {
            return Err(bad("no endpoints given".to_string()));
        }
        for ep in &self.endpoints {
            let https = check_endpoint(ep).map_err(|why| bad(format!("endpoint {ep:?}: {why}")))?;
            match (https, &self.tls) {
                (true, None) => {
                    return Err(bad(format!(
                        "endpoint {ep:?} is https but no TLS settings were given"
                    )));
                }
                (false, Some(_)) => {
                    return Err(bad(format!(
                        "endpoint {ep:?} is plain http but TLS settings were given"
                    )));
                }
                _ => {}
            }
        }
        if self.dial_timeout.is_zero() || self.request_timeout.is_zero() {
            return Err(bad(
                "dial_timeout and request_timeout must be positive".to_string()
            ));
        }
        let mut opts = ConnectOptions::new()
            .with_connect_timeout(self.dial_timeout)
            // Notice dead connections (a partitioned member) while requests or watches are open.
            // etcd refuses pings on idle connections (PermitWithoutStream=false), so only then.
            .with_keep_alive(Duration::from_secs(10), self.dial_timeout)
            .with_keep_alive_while_idle(false)
            // A member cut off from the leader answers "no leader" instead of serving stale
            // data or holding watches that will never see another event.
            .with_require_leader(true);
        if let Some(tls) = &self.tls {
            let mut t = TlsOptions::new();
            if let Some(ca) = &tls.ca_pem {
                t = t.ca_certificate(Certificate::from_pem(ca));
            }
            match (&tls.cert_pem, &tls.key_pem) {
                (Some(cert), Some(key)) => t = t.identity(Identity::from_pem(cert, key)),
                (None, None) => {}
                _ => {
                    return Err(bad(
                        "a client certificate and its key must be given together".to_string(),
                    ));
                }
            }
            opts = opts.with_tls(t);
        }
        Ok(opts)
    }
}

/// Checks that `ep` is `http(s)://host[:port][/]`; returns whether it is https.
fn check_endpoint(ep: &str) -> Result<bool, &'static str> {
    let (https, rest) = if let Some(rest) = ep.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = ep.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err("must start with http:// or https://");
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() {
        return Err("has no host");
    }
    if authority.contains(['/', '?', '#', '@']) || authority.chars().any(char::is_whitespace) {
        return Err("must be scheme://host:port with no path, query or user");
    }
    // The port is after the last ':' unless that ':' is inside a bracketed IPv6 address.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    if host.is_empty() || host == "[]" {
        return Err("has no host");
    }
    if let Some(port) = port
        && port.parse::<u16>().map_or(true, |p| p == 0)
    {
        return Err("has an invalid port");
    }
    Ok(https)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls() {
        assert_eq!(check_endpoint("http://127.0.0.1:2379"), Ok(false));
        assert_eq!(check_endpoint("https://etcd.example:2379/"), Ok(true));
        assert_eq!(check_endpoint("http://[::1]:2379"), Ok(false));
        assert_eq!(check_endpoint("http://localhost"), Ok(false));
        assert!(check_endpoint("127.0.0.1:2379").is_err());
        assert!(check_endpoint("http://").is_err());
        assert!(check_endpoint("http://:2379").is_err());
        assert!(check_endpoint("http://h:99999").is_err());
        assert!(check_endpoint("http://h:2379/v3").is_err());
        assert!(check_endpoint("unix:///run/etcd.sock").is_err());
    }

    #[test]
    fn bad_configurations_are_refused_with_the_reason() {
        let err = EtcdConfig::new(Vec::<String>::new())
            .connect_options()
            .err();
        assert!(
            matches!(err, Some(StoreError::Unavailable { ref reason, .. }) if reason.contains("no endpoints"))
        );

        let err = EtcdConfig::new(["etcd:2379"]).connect_options().err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            msg.contains("etcd:2379") && msg.contains("http://"),
            "{msg}"
        );

        let err = EtcdConfig::new(["https://etcd:2379"])
            .connect_options()
            .err();
        assert!(err.is_some_and(|e| e.to_string().contains("no TLS settings")));

        let mut cfg = EtcdConfig::new(["http://etcd:2379"]);
        cfg.tls = Some(EtcdTls::default());
        assert!(cfg.connect_options().is_err());

        let mut cfg = EtcdConfig::new(["https://etcd:2379"]);
        cfg.tls = Some(EtcdTls {
            cert_pem: Some(b"cert".to_vec()),
            ..EtcdTls::default()
        });
        assert!(
            cfg.connect_options()
                .err()
                .is_some_and(|e| e.to_string().contains("together"))
        );

        assert!(
            EtcdConfig::new(["http://a:1", "http://b:2"])
                .connect_options()
                .is_ok()
        );
    }
}
