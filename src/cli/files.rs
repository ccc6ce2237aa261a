//! Files the offline commands read and write.
//!
//! What they write (exports, decrypted files) is readable by its owner only,
//! whatever the umask: folders 0700, files 0600, set at creation and set
//! again explicitly. What they read from an export is never reached through a
//! symbolic link, and nothing is ever written through one.

use std::{
    fs,
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};

/// Mode of the folders written.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files written.
pub const FILE_MODE: u32 = 0o600;

/// Why a path was refused or could not be used. The path is kept raw: whoever
/// prints it neutralises it first.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("symbolic link")]
    Symlink(PathBuf),
    #[error("not a regular file")]
    NotAFile(PathBuf),
    #[error("not a folder")]
    NotAFolder(PathBuf),
    #[error("changed while being read")]
    Changed(PathBuf),
    #[error("larger than expected")]
    TooLarge(PathBuf),
    #[error("missing")]
    Missing(PathBuf),
    #[error("{1}")]
    Io(PathBuf, #[source] io::Error),
}

impl FileError {
    pub fn path(&self) -> &Path {
        match self {
            FileError::Symlink(p)
            | FileError::NotAFile(p)
            | FileError::NotAFolder(p)
            | FileError::Changed(p)
            | FileError::TooLarge(p)
            | FileError::Missing(p)
            | FileError::Io(p, _) => p,
        }
    }

    fn io(path: &Path, e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::NotFound {
            FileError::Missing(path.to_path_buf())
        } else {
            FileError::Io(path.to_path_buf(), e)
        }
    }
}

/// What is at `path`, without following a symbolic link: `None` if nothing.
pub fn kind_of(path: &Path) -> Result<Option<fs::FileType>, FileError> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(m.file_type())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileError::Io(path.to_path_buf(), e)),
    }
}

/// A regular file, not a symbolic link to one.
pub fn require_regular_file(path: &Path) -> Result<(), FileError> {
    match kind_of(path)? {
        None => Err(FileError::Missing(path.to_path_buf())),
        Some(t) if t.is_symlink() => Err(FileError::Symlink(path.to_path_buf())),
        Some(t) if t.is_file() => Ok(()),
        Some(_) => Err(FileError::NotAFile(path.to_path_buf())),
    }
}

/// A folder, if anything is there, and not a symbolic link to one.
pub fn require_folder_or_nothing(path: &Path) -> Result<(), FileError> {
    match kind_of(path)? {
        None => Ok(()),
        Some(t) if t.is_symlink() => Err(FileError::Symlink(path.to_path_buf())),
        Some(t) if t.is_dir() => Ok(()),
        Some(_) => Err(FileError::NotAFolder(path.to_path_buf())),
    }
}

/// Reads a regular file of at most `max` bytes. A symbolic link is refused,
/// and so is a file swapped for another between the check and the opening.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let before = fs::symlink_metadata(path).map_err(|e| FileError::io(path, e))?;
    if before.file_type().is_symlink() {
        return Err(FileError::Symlink(path.to_path_buf()));
    }
    if !before.file_type().is_file() {
        return Err(FileError::NotAFile(path.to_path_buf()));
    }
    let file = fs::File::open(path).map_err(|e| FileError::io(path, e))?;
    let opened = file
        .metadata()
        .map_err(|e| FileError::Io(path.to_path_buf(), e))?;
    #[cfg(unix)]
    if (opened.dev(), opened.ino()) != (before.dev(), before.ino()) {
        return Err(FileError::Changed(path.to_path_buf()));
    }
    if !opened.is_file() {
        return Err(FileError::NotAFile(path.to_path_buf()));
    }
    if opened.len() > max {
        return Err(FileError::TooLarge(path.to_path_buf()));
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::Io(path.to_path_buf(), e))?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge(path.to_path_buf()));
    }
    Ok(bytes)
}

fn set_mode(path: &Path, _mode: u32) -> Result<(), FileError> {
    #[cfg(unix)]
    fs::set_permissions(path, fs::Permissions::from_mode(_mode))
        .map_err(|e| FileError::Io(path.to_path_buf(), e))?;
    Ok(())
}

/// A folder the user named (`--out`, `--files`): created owner-only if it is
/// missing (with its parents); if it exists it must be a real folder, and its
/// mode is left as the user set it.
pub fn top_folder(path: &Path) -> Result<(), FileError> {
    require_folder_or_nothing(path)?;
    if kind_of(path)?.is_some() {
        return Ok(());
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| FileError::Io(parent.to_path_buf(), e))?;
    }
    private_folder(path)
}

/// A folder only its owner can enter (0700): created, or, if it exists, a
/// real folder (never a symbolic link) narrowed to 0700.
pub fn private_folder(path: &Path) -> Result<(), FileError> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    match builder.create(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            require_folder_or_nothing(path)?;
        }
        Err(e) => return Err(FileError::Io(path.to_path_buf(), e)),
    }
    set_mode(path, DIR_MODE)
}

/// Creates a new file readable by its owner only (0600). Never follows a
/// symbolic link and never replaces anything: if something is already at
/// `path`, the error kind is `AlreadyExists`.
pub fn create_private(path: &Path) -> io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let file = options.open(path)?;
    #[cfg(unix)]
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Writes `dir/name` owner-only, replacing a previous version: the content
/// goes to a new temporary file first, which is then renamed over the old
/// name. A symbolic link at `dir/name` is replaced, never followed.
pub fn replace_private(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut fs::File) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let target = dir.join(name);
    let temporary = dir.join(format!(".{name}.{}.part", uuid::Uuid::new_v4().simple()));
    let mut file = create_private(&temporary)
        .map_err(|e| anyhow::Error::new(e).context(temporary.display().to_string()))?;
    let written = fill(&mut file)
        .and_then(|()| file.flush().map_err(anyhow::Error::from))
        .and_then(|()| file.sync_all().map_err(anyhow::Error::from))
        .and_then(|()| fs::rename(&temporary, &target).map_err(anyhow::Error::from));
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written.map_err(|e| e.context(target.display().to_string()))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::symlink_metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    fn temp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn what_is_written_is_for_its_owner_only() {
        let dir = temp();
        let folder = dir.path().join("a");
        private_folder(&folder).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode_of(&folder), DIR_MODE);
        // An existing folder that is too open is narrowed.
        fs::set_permissions(&folder, fs::Permissions::from_mode(0o777))
            .unwrap_or_else(|e| panic!("{e}"));
        private_folder(&folder).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode_of(&folder), DIR_MODE);
        let file = folder.join("f");
        drop(create_private(&file).unwrap_or_else(|e| panic!("{e}")));
        assert_eq!(mode_of(&file), FILE_MODE);
        replace_private(&folder, "g", |f| Ok(f.write_all(b"x")?)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(mode_of(&folder.join("g")), FILE_MODE);
    }

    #[test]
    fn symbolic_links_are_neither_read_nor_written_through() {
        let dir = temp();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"secret").unwrap_or_else(|e| panic!("{e}"));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&outside, &link).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            read_regular(&link, 100),
            Err(FileError::Symlink(_))
        ));
        assert!(create_private(&link).is_err());
        assert!(matches!(private_folder(&link), Err(FileError::Symlink(_))));
        replace_private(dir.path(), "link", |f| Ok(f.write_all(b"new")?))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fs::read(&outside).unwrap_or_default(), b"secret");
        assert!(matches!(
            read_regular(&outside, 3),
            Err(FileError::TooLarge(_))
        ));
    }
}
