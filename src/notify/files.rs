//! The mail folder, when there is no relay: one `.eml` file per email,
//! readable by the service's own user only (files 0600, folder 0700),
//! whatever the umask the service was started with.

use std::{
    fs::{self, DirBuilder, OpenOptions},
    io::{self, Write as _},
    path::{Path, PathBuf},
};

/// Creates the folder (and missing parents) private to the owner, and
/// narrows an existing one.
pub fn private_folder(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        builder.mode(0o700);
        builder.create(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    #[cfg(not(unix))]
    builder.create(dir)?;
    Ok(())
}

/// Writes one email as `<random>.eml`, complete or not at all.
pub fn write_eml(dir: &Path, email: &[u8]) -> io::Result<PathBuf> {
    write_private(dir, "eml", email)
}

/// Writes `<random>.<extension>`, the owner's alone, complete or not at
/// all: it is written under a hidden temporary name, flushed to disk, then
/// renamed, and the rename is flushed too.
pub fn write_private(dir: &Path, extension: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    private_folder(dir)?;
    let name = uuid::Uuid::new_v4().simple().to_string();
    let partial = dir.join(format!(".{name}.partial"));
    let done = dir.join(format!("{name}.{extension}"));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&partial)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&partial, &done)?;
        // The rename itself reaches the disk. The file is there whatever
        // this says: a failure here must not make the caller write it again.
        if let Err(e) = fs::File::open(dir).and_then(|d| d.sync_all()) {
            tracing::warn!(error = %e, "a folder could not be flushed to disk");
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = fs::remove_file(&partial);
    }
    written.map(|()| done)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn an_open_folder_is_narrowed_and_each_email_is_the_owners_alone() {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = root.path().join("mail");
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777))
            .unwrap_or_else(|e| panic!("{e}"));
        let path = write_eml(&dir, b"Subject: x\r\n\r\nbody\r\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(path.extension().and_then(|e| e.to_str()), Some("eml"));
        let names: Vec<_> = fs::read_dir(&dir)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert_eq!(names.len(), 1, "no partial file is left behind: {names:?}");
    }
}
