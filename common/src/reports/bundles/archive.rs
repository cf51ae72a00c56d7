//! Zipping a folder into a bundle, and unzipping a bundle without trusting it: every entry
//! must sit inside one top folder, no path may climb out of it, links are refused, and the
//! bytes written are counted against a limit as they are written (declared sizes can lie).

use std::fs::File;
use std::io::{Cursor, Read, Seek, Write};
use std::path::{Path, PathBuf};

use walkdir::WalkDir;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::{BundleError, io_error};

/// Zips every file and folder under `root` as `<top>/<path relative to root>`, keeping each
/// file's permissions (so scripts stay executable).
pub(super) fn zip_folder(root: &Path, top: &str) -> Result<Vec<u8>, BundleError> {
    use std::os::unix::fs::PermissionsExt;
    let zip_error = |error: zip::result::ZipError| BundleError::Io(format!("zip: {error}"));
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for entry in WalkDir::new(root).min_depth(1).sort_by_file_name() {
        let entry = entry.map_err(|error| io_error(root, error))?;
        let relative = entry
            .path()
            .strip_prefix(root)
            .ok()
            .and_then(Path::to_str)
            .ok_or_else(|| {
                BundleError::Invalid(format!(
                    "'{}' is not a UTF-8 file name",
                    entry.path().display()
                ))
            })?;
        let name = format!("{top}/{relative}");
        let kind = entry.file_type();
        if kind.is_symlink() {
            return Err(BundleError::Symlink(relative.to_owned()));
        }
        if kind.is_dir() {
            writer
                .add_directory(format!("{name}/"), options)
                .map_err(zip_error)?;
            continue;
        }
        let meta = entry
            .metadata()
            .map_err(|error| io_error(entry.path(), error))?;
        let file_options = options
            .unix_permissions(meta.permissions().mode() & 0o777)
            .large_file(meta.len() >= u64::from(u32::MAX));
        writer.start_file(name, file_options).map_err(zip_error)?;
        let mut file = File::open(entry.path()).map_err(|error| io_error(entry.path(), error))?;
        std::io::copy(&mut file, &mut writer).map_err(|error| io_error(entry.path(), error))?;
    }
    Ok(writer.finish().map_err(zip_error)?.into_inner())
}

/// The parts of an entry's name, refusing any that would climb out of (or around) its
/// folder: absolute names, `..`, `.`, empty parts, backslashes and NUL bytes.
fn entry_parts(name: &str) -> Result<Vec<&str>, BundleError> {
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    let parts: Vec<&str> = trimmed.split('/').collect();
    let safe = !name.contains(['\\', '\0'])
        && parts
            .iter()
            .all(|part| !part.is_empty() && *part != "." && *part != "..");
    if safe {
        Ok(parts)
    } else {
        Err(BundleError::UnsafePath(name.to_owned()))
    }
}

/// Copies at most `budget` bytes from `from` to `to`; returns how many were copied, or
/// [`BundleError::TooLarge`] past the budget.
fn copy_within(
    from: &mut impl Read,
    to: &mut impl Write,
    name: &str,
    path: &Path,
    budget: u64,
    limit: u64,
) -> Result<u64, BundleError> {
    let mut buffer = vec![0u8; 64 * 1024];
    let mut copied = 0u64;
    loop {
        let read = from
            .read(&mut buffer)
            .map_err(|error| BundleError::Damaged(format!("{name}: {error}")))?;
        if read == 0 {
            return Ok(copied);
        }
        copied += read as u64;
        if copied > budget {
            return Err(BundleError::TooLarge { limit });
        }
        to.write_all(&buffer[..read])
            .map_err(|error| io_error(path, error))?;
    }
}

/// Unpacks `bytes` into the empty folder `dest` and returns the name of its one top folder.
pub(super) fn unzip<R: Read + Seek>(
    zipped: R,
    dest: &Path,
    limit: u64,
) -> Result<String, BundleError> {
    use std::os::unix::fs::PermissionsExt;
    let mut archive =
        ZipArchive::new(zipped).map_err(|error| BundleError::NotZip(error.to_string()))?;
    if archive
        .decompressed_size()
        .is_some_and(|total| total > u128::from(limit))
    {
        return Err(BundleError::TooLarge { limit });
    }
    let mut top: Option<String> = None;
    let mut written = 0u64;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|error| BundleError::Damaged(error.to_string()))?;
        let name = entry.name().to_owned();
        let parts = entry_parts(&name)?;
        let (first, rest) = parts.split_first().ok_or(BundleError::NotOneFolder)?;
        match &top {
            None => top = Some((*first).to_owned()),
            Some(top) if top != first => return Err(BundleError::NotOneFolder),
            Some(_) => {}
        }
        if entry.is_symlink() {
            return Err(BundleError::Symlink(name));
        }
        let path: PathBuf = parts
            .iter()
            .fold(dest.to_owned(), |path, part| path.join(part));
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(|error| io_error(&path, error))?;
            continue;
        }
        if rest.is_empty() {
            return Err(BundleError::NotOneFolder);
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| io_error(parent, error))?;
        }
        let mut file = File::create(&path).map_err(|error| io_error(&path, error))?;
        written += copy_within(&mut entry, &mut file, &name, &path, limit - written, limit)?;
        if entry.unix_mode().is_some_and(|mode| mode & 0o111 != 0) {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|error| io_error(&path, error))?;
        }
    }
    top.ok_or(BundleError::NotOneFolder)
}
