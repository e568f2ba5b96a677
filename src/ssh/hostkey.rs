//! The server's host key: read from its file, or created there (ed25519, mode 0600) on the
//! first start, so raters can check the fingerprint the server prints.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::private::{Ed25519Keypair, KeypairData};
use russh::keys::{HashAlg, PrivateKey};

#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    #[error("cannot read the host key {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the host key {path} is not an OpenSSH private key: {message}")]
    Parse { path: PathBuf, message: String },
    #[error(
        "the host key {path} can be read by others (mode {mode:o}); `chmod 600 {path}` and start again"
    )]
    Exposed { path: PathBuf, mode: u32 },
    #[error("cannot create the host key {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The host key and whether it was made just now.
pub struct HostKey {
    pub key: PrivateKey,
    pub created: bool,
}

impl HostKey {
    /// `SHA256:...`, as `ssh` prints it when it first meets the server.
    pub fn fingerprint(&self) -> String {
        self.key
            .public_key()
            .fingerprint(HashAlg::Sha256)
            .to_string()
    }
}

/// Reads the host key at `path`, or creates an ed25519 key there when there is none.
pub fn load_or_create(path: &Path) -> Result<HostKey, HostKeyError> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(HostKeyError::Exposed {
                    path: path.to_owned(),
                    mode,
                });
            }
            let text = std::fs::read_to_string(path).map_err(|source| HostKeyError::Read {
                path: path.to_owned(),
                source,
            })?;
            let key = PrivateKey::from_openssh(&text).map_err(|e| HostKeyError::Parse {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            Ok(HostKey {
                key,
                created: false,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path),
        Err(source) => Err(HostKeyError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

fn create(path: &Path) -> Result<HostKey, HostKeyError> {
    let failed = |source: std::io::Error| HostKeyError::Create {
        path: path.to_owned(),
        source,
    };
    // rand's thread generator is a CSPRNG seeded from the OS; a seed gives the key without
    // tying Loupe to the rand_core version ssh-key was built with.
    let seed: [u8; 32] = rand::random();
    let pair = Ed25519Keypair::from_seed(&seed);
    let key = PrivateKey::new(KeypairData::Ed25519(pair), "loupe serve host key")
        .map_err(|e| failed(std::io::Error::other(e.to_string())))?;
    let text = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| failed(std::io::Error::other(e.to_string())))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    // create_new: two servers started at once must not overwrite each other's key.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    Ok(HostKey { key, created: true })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("host_ed25519");
        let first = load_or_create(&path).unwrap();
        assert!(first.created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(first.fingerprint().starts_with("SHA256:"));
        let again = load_or_create(&path).unwrap();
        assert!(!again.created);
        assert_eq!(again.fingerprint(), first.fingerprint());
        assert_eq!(again.key.algorithm(), russh::keys::Algorithm::Ed25519);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path).err().unwrap().to_string();
        assert!(err.contains("can be read by others (mode 644)"), "{err}");
    }
}
