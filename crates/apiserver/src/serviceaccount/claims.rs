//! The claims of a service-account token, as upstream writes them: registered claims (`iss`,
//! `sub` = `system:serviceaccount:<ns>:<name>`, `aud`, `exp`, `iat`, `nbf`, `jti`) and the
//! private `kubernetes.io` claim naming the namespace, the ServiceAccount and the object the
//! token is bound to (`pod` with its `node`, or `secret`, or `node`), each by name and uid,
//! plus `warnafter` when the expiry was extended.

use serde::{Deserialize, Serialize};

/// An object a token names: name and uid.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ref {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
}

/// The `kubernetes.io` claim.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kubernetes {
    /// The service account's namespace.
    pub namespace: String,
    /// The service account.
    pub serviceaccount: Ref,
    /// The pod the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
    /// The secret the token is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Ref>,
    /// The node (of the bound pod, or bound directly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Ref>,
    /// When clients should be warned that the token is past its requested lifetime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

/// Every claim of a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: the service account's user name.
    pub sub: String,
    /// Audiences.
    pub aud: Vec<String>,
    /// Expiry (unix seconds).
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// A unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The binding.
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: Kubernetes,
}

impl Claims {
    /// Parses verified claims; `aud` may be a string or a list (RFC 7519). `None` if they
    /// are not a service-account token's.
    pub fn parse(value: serde_json::Value) -> Option<Claims> {
        let mut value = value;
        if let Some(aud) = value
            .get("aud")
            .and_then(|a| a.as_str())
            .map(str::to_string)
        {
            value["aud"] = serde_json::json!([aud]);
        }
        serde_json::from_value(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upstream_shape() {
        let c = Claims {
            iss: "https://kubernetes.default.svc.cluster.local".into(),
            sub: "system:serviceaccount:default:default".into(),
            aud: vec!["https://kubernetes.default.svc.cluster.local".into()],
            exp: 200,
            iat: 100,
            nbf: 100,
            jti: Some("j".into()),
            kubernetes: Kubernetes {
                namespace: "default".into(),
                serviceaccount: Ref {
                    name: "default".into(),
                    uid: "u1".into(),
                },
                pod: Some(Ref {
                    name: "p".into(),
                    uid: "u2".into(),
                }),
                ..Kubernetes::default()
            },
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(
            v["kubernetes.io"],
            json!({"namespace": "default", "serviceaccount": {"name": "default", "uid": "u1"},
                "pod": {"name": "p", "uid": "u2"}})
        );
        assert_eq!(Claims::parse(v), Some(c.clone()));
        let mut single = serde_json::to_value(&c).unwrap();
        single["aud"] = json!("x");
        assert_eq!(Claims::parse(single).unwrap().aud, ["x"]);
        assert_eq!(Claims::parse(json!({"sub": "x"})), None);
    }
}
