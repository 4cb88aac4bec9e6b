//! Static bearer tokens in upstream's `--token-auth-file` CSV format:
//! `token,user,uid[,"group1,group2"]`, one per line, extra columns ignored.

use std::path::Path;

use subtle::ConstantTimeEq;

use super::{AuthnError, UserInfo};

/// A parsed token file. Lookups compare the presented token with every entry in constant
/// time (per entry length), so timing reveals neither which token matched nor how much
/// of one did.
#[derive(Clone, Default)]
pub struct TokenFile {
    entries: Vec<(Vec<u8>, UserInfo)>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFile")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl TokenFile {
    /// Reads and parses a token file.
    pub fn load(path: &Path) -> Result<TokenFile, AuthnError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthnError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        TokenFile::parse(&text)
    }

    /// Parses token file contents, as upstream does: CSV (RFC 4180 quoting), at least
    /// three columns, the fourth (if any) split on `,` into groups; records with an empty
    /// token are skipped; for a duplicate token the last record wins.
    pub fn parse(text: &str) -> Result<TokenFile, AuthnError> {
        let mut file = TokenFile::default();
        for (line, record) in parse_csv(text)? {
            if record.len() < 3 {
                return Err(AuthnError::TokenFile {
                    line,
                    reason: format!(
                        "must have at least 3 columns (token, user name, user uid), found {}",
                        record.len()
                    ),
                });
            }
            let token = record[0].as_bytes().to_vec();
            if token.is_empty() {
                tracing::warn!(line, "empty token in token file; skipped");
                continue;
            }
            let user = UserInfo {
                name: record[1].clone(),
                uid: record[2].clone(),
                groups: record
                    .get(3)
                    .map(|g| g.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
            };
            if let Some(existing) = file.entries.iter_mut().find(|(t, _)| *t == token) {
                tracing::warn!(line, "duplicate token in token file; the last one wins");
                existing.1 = user;
            } else {
                file.entries.push((token, user));
            }
        }
        Ok(file)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The user a token belongs to. Every entry is compared, without early exit.
    pub fn lookup(&self, token: &str) -> Option<&UserInfo> {
        let token = token.as_bytes();
        let mut found = None;
        for (candidate, user) in &self.entries {
            if bool::from(candidate.as_slice().ct_eq(token)) {
                found = Some(user);
            }
        }
        found
    }
}

/// Parses CSV as Go's `encoding/csv` does with `FieldsPerRecord = -1`: fields separated
/// by `,`, optionally in double quotes (`""` is a quote; quoted fields may span lines),
/// `\r\n` treated as `\n`, blank lines skipped. Returns each record with its 1-based
/// starting line.
fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, AuthnError> {
    let text = text.replace("\r\n", "\n");
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        let start = line;
        if chars.peek() == Some(&'\n') {
            chars.next();
            line += 1;
            continue;
        }
        let mut record = Vec::new();
        loop {
            let mut field = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => {
                            return Err(AuthnError::TokenFile {
                                line: start,
                                reason: "unterminated quoted field".into(),
                            });
                        }
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                    }
                }
                match chars.peek() {
                    None | Some(',') | Some('\n') => {}
                    Some(_) => {
                        return Err(AuthnError::TokenFile {
                            line,
                            reason: "extraneous or missing \" in quoted field".into(),
                        });
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '\n' {
                        break;
                    }
                    if c == '"' {
                        return Err(AuthnError::TokenFile {
                            line,
                            reason: "bare \" in non-quoted field".into(),
                        });
                    }
                    field.push(c);
                    chars.next();
                }
            }
            record.push(field);
            match chars.next() {
                Some(',') => continue,
                Some('\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        records.push((start, record));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_upstream_format() {
        let f = TokenFile::parse(
            "tok1,alice,uid-a,\"dev,ops\"\n\ntok2,bob,uid-b\r\n,nobody,x\ntok3,\"c,\"\"q\"\"\",u,g,extra\n",
        )
        .unwrap();
        assert_eq!(f.len(), 3);
        let a = f.lookup("tok1").unwrap();
        assert_eq!(a.name, "alice");
        assert_eq!(a.uid, "uid-a");
        assert_eq!(a.groups, ["dev", "ops"]);
        assert_eq!(f.lookup("tok2").unwrap().groups, Vec::<String>::new());
        assert_eq!(f.lookup("tok3").unwrap().name, "c,\"q\"");
        assert_eq!(f.lookup("tok3").unwrap().groups, ["g"]);
        assert!(f.lookup("tok").is_none());
        assert!(f.lookup("tok11").is_none());
        assert!(f.lookup("").is_none());
    }

    #[test]
    fn duplicate_token_last_wins() {
        let f = TokenFile::parse("t,a,1\nt,b,2\n").unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f.lookup("t").unwrap().name, "b");
    }

    #[test]
    fn rejects_malformed() {
        for (text, line) in [
            ("t,a,1\nt2,b\n", 2),
            ("t,\"a,1\n", 1),
            ("t,a\"b,1\n", 1),
            ("t,\"a\"b,1\n", 1),
        ] {
            match TokenFile::parse(text) {
                Err(AuthnError::TokenFile { line: l, .. }) => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }
}
