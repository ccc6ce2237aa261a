//! Files and folders that only their owner may read, whatever the umask.
//!
//! Everything Vigie writes (the data folder, the SQLite database and its
//! WAL, mail files, exports) is ciphertext or metadata, but metadata is
//! worth keeping from other accounts on the machine too: folders are
//! created 0700 and files 0600, and the mode is set explicitly after
//! creation so that neither a permissive umask nor an earlier, wider mode
//! of the same file survives.

use std::{fs, io, path::Path};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Creates `dir` and any missing parent as 0700 (parents that already
/// exist are left alone), then makes `dir` itself 0700.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir)?;
    restrict(dir, 0o700)
}

/// Creates `path` as an empty 0600 file when missing, or narrows an
/// existing file to 0600 by its path, without opening it.
pub fn create_or_restrict(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            options.mode(0o600);
            match options.open(path) {
                Ok(file) => drop(file),
                // Created meanwhile by another process: narrow it below.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            restrict(path, 0o600)
        }
        Err(e) => Err(e),
        Ok(_) => restrict(path, 0o600),
    }
}

/// Sets `path`'s mode (Unix only; elsewhere a no-op).
pub fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// Narrows a file to 0600 if it exists.
pub fn restrict_if_present(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => restrict(path, 0o600),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn folders_and_files_are_created_for_their_owner_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let inner = dir.path().join("a/b");
        create_dir(&inner).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&inner), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let file = inner.join("f");
        fs::write(&file, b"x").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o666))
            .unwrap_or_else(|e| panic!("{e}"));
        create_or_restrict(&file).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&file), 0o600, "an existing wider file is narrowed");
        let fresh = inner.join("g");
        create_or_restrict(&fresh).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&fresh), 0o600, "a new file is created narrow");
    }
}
