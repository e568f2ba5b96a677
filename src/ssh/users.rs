//! The users file of `loupe serve`: who may connect, with which role, by which public keys.
//!
//! ```yaml
//! users:
//!   - { name: ana, role: rater, keys: ["ssh-ed25519 AAAAC3Nza... ana@laptop"] }
//!   - { name: olu, role: owner, keys: ["ssh-ed25519 AAAAC3Nza... olu@desk"] }
//! ```
//!
//! A person's identity is the name their key maps to, never the user name the SSH client
//! sends. Every error names the file, line and column.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use russh::keys::PublicKey;
use russh::keys::ssh_encoding::Encode;
use serde::Deserialize;

use crate::session::position::{PosIndex, Seg};

/// What a person may do on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The whole workbench, and the owner's view of everyone's ratings.
    Owner,
    /// Only their own blind rating queue.
    Rater,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Owner => "owner",
            Role::Rater => "rater",
        })
    }
}

/// One person allowed in.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub role: Role,
}

/// The users file, read and checked.
#[derive(Debug, Clone, Default)]
pub struct Users {
    pub users: Vec<User>,
    /// Key material (algorithm and key data, without the comment) -> index into `users`.
    by_key: HashMap<Vec<u8>, usize>,
}

/// A problem in the users file, at a place in it.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("cannot read the users file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{col}: {message}", path.display())]
    At {
        path: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    users: Vec<UserDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserDoc {
    name: String,
    role: Role,
    keys: Vec<String>,
}

impl Users {
    /// Reads and checks the users file at `path`.
    pub fn load(path: &Path) -> Result<Self, UsersError> {
        let text = std::fs::read_to_string(path).map_err(|source| UsersError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Checks the text of a users file; `path` only names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, UsersError> {
        let at = |line: usize, col: usize, message: String| UsersError::At {
            path: path.to_owned(),
            line,
            col,
            message,
        };
        let doc: FileDoc = serde_yaml::from_str(text).map_err(|e| {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            let message = e
                .to_string()
                .replacen(&format!(" at line {line} column {col}"), "", 1);
            at(line, col, message)
        })?;
        let index = PosIndex::build(text);
        let place = |segs: &[Seg]| index.value(segs);
        if doc.users.is_empty() {
            let p = place(&[Seg::Key("users".into())]);
            return Err(at(
                p.line,
                p.col,
                "`users` is empty: list at least one person with a name, a role and keys".into(),
            ));
        }
        let mut users = Users::default();
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, u) in doc.users.into_iter().enumerate() {
            let path_of = |field: &str| {
                [
                    Seg::Key("users".into()),
                    Seg::Index(i),
                    Seg::Key(field.into()),
                ]
            };
            let name = u.name.trim().to_owned();
            if name.is_empty() || name.chars().any(char::is_control) {
                let p = place(&path_of("name"));
                return Err(at(
                    p.line,
                    p.col,
                    format!("the name {:?} is empty or has a control character", u.name),
                ));
            }
            if let Some(first) = names.get(&name) {
                let p = place(&path_of("name"));
                return Err(at(
                    p.line,
                    p.col,
                    format!(
                        "{name} is listed twice (user {} and user {}): one entry per person, with all their keys",
                        first + 1,
                        i + 1
                    ),
                ));
            }
            if u.keys.is_empty() {
                let p = place(&path_of("keys"));
                return Err(at(
                    p.line,
                    p.col,
                    format!(
                        "{name} has no keys: add their public key (a line of ~/.ssh/id_ed25519.pub)"
                    ),
                ));
            }
            for (k, line) in u.keys.iter().enumerate() {
                let segs = [
                    Seg::Key("users".into()),
                    Seg::Index(i),
                    Seg::Key("keys".into()),
                    Seg::Index(k),
                ];
                let key = PublicKey::from_openssh(line.trim()).map_err(|e| {
                    let p = place(&segs);
                    at(
                        p.line,
                        p.col,
                        format!(
                            "not a public key in OpenSSH format ({e}): expected a line like \"ssh-ed25519 AAAAC3Nza... name@host\""
                        ),
                    )
                })?;
                let material = key_material(&key);
                if let Some(owner) = users.by_key.get(&material) {
                    let p = place(&segs);
                    return Err(at(
                        p.line,
                        p.col,
                        format!(
                            "this key is already {}'s: a key names one person",
                            users.users[*owner].name
                        ),
                    ));
                }
                users.by_key.insert(material, i);
            }
            names.insert(name.clone(), i);
            users.users.push(User { name, role: u.role });
        }
        Ok(users)
    }

    /// The person `key` belongs to, if anyone.
    pub fn find(&self, key: &PublicKey) -> Option<&User> {
        self.by_key
            .get(&key_material(key))
            .and_then(|i| self.users.get(*i))
    }

    /// How many people of each role, for the start-up line.
    pub fn count(&self, role: Role) -> usize {
        self.users.iter().filter(|u| u.role == role).count()
    }
}

/// A key's identity: its algorithm and key data, not its comment (a comment is free text
/// the client never sends).
fn key_material(key: &PublicKey) -> Vec<u8> {
    key.key_data()
        .encode_vec()
        .unwrap_or_else(|_| key.to_openssh().unwrap_or_default().into_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ANA: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEy70pleL+i7/kom5t+U0SLalVJCt2nEK2H0FbnsK3Fz ana@laptop";
    const OLU: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOGP453dkfb2dWMiQwWUIAZ0TGIcdPMg59zwauWOBo9h olu@desk";

    fn parse(text: &str) -> Result<Users, UsersError> {
        Users::parse(Path::new("users.yaml"), text)
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_key_names_its_person_whatever_its_comment() {
        let users = parse(&format!(
            "users:\n  - {{ name: ana, role: rater, keys: [\"{ANA}\"] }}\n  - name: olu\n    role: owner\n    keys:\n      - \"{OLU}\"\n"
        ))
        .unwrap();
        let ana_key = PublicKey::from_openssh(ANA).unwrap();
        let found = users.find(&ana_key).unwrap();
        assert_eq!((found.name.as_str(), found.role), ("ana", Role::Rater));
        let other_comment = ANA.replace("ana@laptop", "someone@else");
        let same = PublicKey::from_openssh(&other_comment).unwrap();
        assert_eq!(users.find(&same).unwrap().name, "ana");
        assert_eq!(users.count(Role::Owner), 1);
    }

    #[test]
    fn errors_point_at_the_offending_value() {
        assert_eq!(
            err(
                "users:\n  - name: ana\n    role: rater\n    keys:\n      - \"ssh-ed25519 AAAA-not-base64\"\n"
            )
            .split(" (")
            .next()
            .unwrap(),
            "users.yaml:5:9: not a public key in OpenSSH format"
        );
        assert!(
            err("users:\n  - name: ana\n    role: boss\n    keys: []\n")
                .starts_with("users.yaml:3:11: users[0].role: unknown variant `boss`"),
            "{}",
            err("users:\n  - name: ana\n    role: boss\n    keys: []\n")
        );
        assert_eq!(
            err("users:\n  - name: ana\n    role: rater\n    keys: []\n"),
            "users.yaml:4:11: ana has no keys: add their public key (a line of ~/.ssh/id_ed25519.pub)"
        );
        let twice = format!(
            "users:\n  - {{ name: ana, role: rater, keys: [\"{ANA}\"] }}\n  - {{ name: ana, role: owner, keys: [\"{OLU}\"] }}\n"
        );
        assert!(
            err(&twice).starts_with("users.yaml:3:13: ana is listed twice"),
            "{}",
            err(&twice)
        );
        let shared = format!(
            "users:\n  - {{ name: ana, role: rater, keys: [\"{ANA}\"] }}\n  - {{ name: bo, role: rater, keys: [\"{ANA}\"] }}\n"
        );
        assert!(
            err(&shared).starts_with("users.yaml:3:37: this key is already ana's"),
            "{}",
            err(&shared)
        );
        assert!(err("users: []\n").starts_with("users.yaml:1:8: `users` is empty"));
        assert!(err("people: []\n").starts_with("users.yaml:1:1: unknown field `people`"));
        assert!(
            err("users:\n  - name: ana\n    rol: rater\n")
                .starts_with("users.yaml:3:5: users[0]: unknown field `rol`")
        );
    }
}
