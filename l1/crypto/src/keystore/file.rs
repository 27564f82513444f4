//! Keystore files: read with a size limit, write atomically (temporary file in
//! the same directory, fsync, then link or rename into place) with mode 0600.

use super::{Keystore, KeystoreError};
use crate::keys::SecretKey;
use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// Keystore files larger than this are rejected unread.
pub const MAX_KEYSTORE_FILE_LEN: u64 = 64 * 1024;

/// Reads and parses a keystore without decrypting it.
pub fn read_keystore(path: &Path) -> Result<Keystore, KeystoreError> {
    let io = |source| KeystoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_KEYSTORE_FILE_LEN {
        return Err(KeystoreError::TooLarge {
            path: path.to_path_buf(),
            len,
            max: MAX_KEYSTORE_FILE_LEN,
        });
    }
    let mut text = String::new();
    file.take(MAX_KEYSTORE_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(io)?;
    Keystore::from_json(&text)
}

/// Reads, decrypts and parses the secret key stored at `path`.
pub fn load_keystore(path: &Path, password: impl AsRef<[u8]>) -> Result<SecretKey, KeystoreError> {
    read_keystore(path)?.decrypt_secret_key(password)
}

/// Writes `keystore` to `path` atomically with permissions 0600 (on Unix).
/// An existing file is replaced only if `overwrite` is true; otherwise the call
/// fails with [`KeystoreError::AlreadyExists`] and leaves it untouched.
pub fn save_keystore(
    path: &Path,
    keystore: &Keystore,
    overwrite: bool,
) -> Result<(), KeystoreError> {
    let io = |source| KeystoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !overwrite && path.exists() {
        return Err(KeystoreError::AlreadyExists {
            path: path.to_path_buf(),
        });
    }
    let temporary = temporary_path(path);
    let result = write_private(&temporary, keystore.to_json().as_bytes())
        .and_then(|()| {
            if overwrite {
                fs::rename(&temporary, path)
            } else {
                // A hard link fails if `path` appeared meanwhile: no clobbering.
                fs::hard_link(&temporary, path).and_then(|()| fs::remove_file(&temporary))
            }
        })
        .and_then(|()| sync_parent(path));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(KeystoreError::AlreadyExists {
                path: path.to_path_buf(),
            })
        }
        other => other.map_err(io),
    }
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "keystore".into());
    let nonce: u64 = rand::random();
    path.with_file_name(format!(".{name}.{}.{nonce:016x}.tmp", std::process::id()))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
