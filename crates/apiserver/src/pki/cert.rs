//! Certificate generation (rcgen) and inspection (x509-parser).

use std::collections::BTreeSet;
use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType,
};
use x509_parser::extensions::{GeneralName, ParsedExtension};

use super::{PkiError, SanSet};

/// Validity of the cluster CA, in days (10 years, as k3s).
pub const CA_VALIDITY_DAYS: i64 = 3650;
/// Validity of leaf certificates (serving and client), in days.
pub const LEAF_VALIDITY_DAYS: i64 = 365;
/// Leaf certificates with less than this many days left are reissued at start.
pub const RENEW_BEFORE_DAYS: i64 = 90;

/// A certificate and its private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CertKeyPem {
    /// The certificate, PEM (`CERTIFICATE`).
    pub cert_pem: String,
    /// The private key, PEM (PKCS#8 `PRIVATE KEY`, ECDSA P-256).
    pub key_pem: String,
}

impl std::fmt::Debug for CertKeyPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertKeyPem")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// What kind of leaf to issue.
pub(crate) enum Leaf<'a> {
    /// The apiserver's serving certificate.
    Serving(&'a SanSet),
    /// A client certificate: CN = user, O = groups.
    Client { cn: &'a str, groups: &'a [&'a str] },
}

/// Sets not_before to yesterday (clock skew) and not_after to `days` from today, at
/// 00:00 UTC.
fn set_validity(params: &mut CertificateParams, days: i64) -> Result<(), PkiError> {
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date();
    let at = |offset: i64| -> Result<_, PkiError> {
        let d = today
            .checked_add(jiff::Span::new().days(offset))
            .map_err(|e| PkiError::Clock(e.to_string()))?;
        let month = u8::try_from(d.month()).map_err(|e| PkiError::Clock(e.to_string()))?;
        let day = u8::try_from(d.day()).map_err(|e| PkiError::Clock(e.to_string()))?;
        Ok(rcgen::date_time_ymd(i32::from(d.year()), month, day))
    };
    params.not_before = at(-1)?;
    params.not_after = at(days)?;
    Ok(())
}

fn new_key() -> Result<KeyPair, PkiError> {
    Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)
}

/// Generates a new self-signed cluster CA with CN `rkube-ca@<unix time>`.
pub(crate) fn new_ca() -> Result<CertKeyPem, PkiError> {
    let key = new_key()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        format!("rkube-ca@{}", jiff::Timestamp::now().as_second()),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, CA_VALIDITY_DAYS)?;
    let cert = params.self_signed(&key)?;
    Ok(CertKeyPem {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Issues a leaf certificate with a fresh key, signed by `issuer`.
pub(crate) fn issue(issuer: &Issuer<'_, KeyPair>, leaf: Leaf<'_>) -> Result<CertKeyPem, PkiError> {
    let key = new_key()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    match leaf {
        Leaf::Serving(sans) => {
            dn.push(DnType::CommonName, "kube-apiserver");
            params.subject_alt_names = sans
                .dns
                .iter()
                .map(|n| {
                    n.clone()
                        .try_into()
                        .map(SanType::DnsName)
                        .map_err(|_| PkiError::InvalidSan(n.clone()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            params
                .subject_alt_names
                .extend(sans.ips.iter().map(|ip| SanType::IpAddress(*ip)));
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
        Leaf::Client { cn, groups } => {
            if cn.is_empty() {
                return Err(PkiError::InvalidSubject("empty common name".into()));
            }
            dn.push(DnType::CommonName, cn);
            for g in groups {
                dn.push(DnType::OrganizationName, *g);
            }
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
    }
    params.distinguished_name = dn;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, LEAF_VALIDITY_DAYS)?;
    let cert = params.signed_by(&key, issuer)?;
    Ok(CertKeyPem {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// What we need to know about an existing certificate to decide whether to keep it.
#[derive(Debug)]
pub(crate) struct CertInfo {
    /// Expiry, Unix seconds.
    pub not_after: i64,
    /// Subject alternative names.
    pub sans: SanSet,
    /// Subject common name (first CN attribute), if any.
    pub common_name: Option<String>,
    /// Subject organizations.
    pub organizations: Vec<String>,
    /// Subject key identifier extension.
    pub subject_key_id: Option<Vec<u8>>,
    /// Authority key identifier extension (key identifier part).
    pub authority_key_id: Option<Vec<u8>>,
    /// The DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
}

impl CertInfo {
    /// Whether the certificate expires within `days` days (or has expired).
    pub fn expires_within_days(&self, days: i64) -> bool {
        self.not_after - jiff::Timestamp::now().as_second() < days * 86_400
    }

    /// Whether this certificate names `ca` as its issuer by key identifier.
    pub fn issued_by(&self, ca: &CertInfo) -> bool {
        matches!((&self.authority_key_id, &ca.subject_key_id), (Some(a), Some(s)) if a == s)
    }
}

/// Parses the first certificate of a PEM string.
pub(crate) fn inspect_pem(pem: &str) -> Result<CertInfo, String> {
    let der = first_cert_der(pem)?;
    inspect_der(&der)
}

/// The DER of the first `CERTIFICATE` block in `pem`.
pub(crate) fn first_cert_der(pem: &str) -> Result<Vec<u8>, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|c| c.to_vec())
        .map_err(|e| format!("no certificate in PEM: {e}"))
}

/// Parses a DER certificate.
pub(crate) fn inspect_der(der: &[u8]) -> Result<CertInfo, String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| format!("bad certificate: {e}"))?;
    let mut info = CertInfo {
        not_after: cert.validity().not_after.timestamp(),
        sans: SanSet::default(),
        common_name: cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_string),
        organizations: cert
            .subject()
            .iter_organization()
            .filter_map(|a| a.as_str().ok())
            .map(str::to_string)
            .collect(),
        subject_key_id: None,
        authority_key_id: None,
        spki: cert.public_key().raw.to_vec(),
    };
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(n) => {
                            info.sans.dns.insert(n.to_ascii_lowercase());
                        }
                        GeneralName::IPAddress(b) => {
                            if let Some(ip) = ip_from_bytes(b) {
                                info.sans.ips.insert(ip);
                            }
                        }
                        _ => {}
                    }
                }
            }
            ParsedExtension::SubjectKeyIdentifier(k) => info.subject_key_id = Some(k.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                info.authority_key_id = a.key_identifier.as_ref().map(|k| k.0.to_vec());
            }
            _ => {}
        }
    }
    Ok(info)
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Parses a PEM private key and checks that it belongs to the certificate `cert`.
pub(crate) fn parse_key_for(pem: &str, cert: &CertInfo) -> Result<KeyPair, String> {
    use rcgen::PublicKeyData;
    let key = KeyPair::from_pem(pem).map_err(|e| format!("bad private key: {e}"))?;
    if key.subject_public_key_info() != cert.spki {
        return Err("private key does not match its certificate".into());
    }
    Ok(key)
}

/// All distinct SAN entries of a set, for logging.
pub(crate) fn describe(sans: &SanSet) -> String {
    let mut all: BTreeSet<String> = sans.dns.iter().cloned().collect();
    all.extend(sans.ips.iter().map(|ip| ip.to_string()));
    all.into_iter().collect::<Vec<_>>().join(",")
}
