//! Unpacks one layer blob into a directory: decompresses, hashes (blob digest and diff id) and
//! applies every tar entry with fd-relative calls confined to the directory.

use std::collections::HashSet;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tar::EntryType;

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::fsops::{self, c_name};

/// How the blob is compressed; `Auto` looks at the magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    Auto,
    None,
    Gzip,
    Zstd,
}

/// What `.wh.` entries become.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// One directory per layer for overlayfs: whiteouts become 0:0 character devices and opaque
    /// markers the `trusted.overlay.opaque=y` xattr on their directory.
    Overlay,
    /// Layers applied one after another onto one rootfs: whiteouts delete what they cover.
    Flatten,
}

#[derive(Clone, Debug)]
pub struct UnpackOptions {
    pub compression: Compression,
    pub whiteouts: WhiteoutMode,
    /// sha256 of the blob as stored; checked after the stream ends.
    pub expected_digest: Option<String>,
    /// sha256 of the uncompressed tar (the config's `rootfs.diff_ids` entry).
    pub expected_diff_id: Option<String>,
    /// Give files the tar's uid/gid (needs CAP_CHOWN); otherwise they belong to the caller.
    pub same_owner: bool,
    /// Layer directories below this one, top first: where a hardlink whose target is not in this
    /// layer finds it (image-spec allows such links; overlay needs the inode in this layer).
    pub lower_dirs: Vec<PathBuf>,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            compression: Compression::Auto,
            whiteouts: WhiteoutMode::Overlay,
            expected_digest: None,
            expected_diff_id: None,
            // SAFETY: geteuid has no preconditions.
            same_owner: unsafe { libc::geteuid() } == 0,
            lower_dirs: Vec::new(),
        }
    }
}

/// What an unpack read and wrote.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct UnpackStats {
    /// `sha256:` of the blob bytes.
    pub digest: String,
    /// `sha256:` of the uncompressed tar stream.
    pub diff_id: String,
    pub compressed_size: u64,
    pub size: u64,
    pub entries: u64,
    pub compression: &'static str,
}

const COPY_BUFFER: usize = 1 << 20;
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OVERLAY_OPAQUE_XATTR: &CStr = c"trusted.overlay.opaque";

/// Unpacks the blob file at `blob` into the existing directory `dest`.
pub fn unpack_layer_file(blob: &Path, dest: &Path, options: &UnpackOptions) -> Result<UnpackStats> {
    let file = File::open(blob)
        .map_err(|e| Error::io("opening layer blob", blob.display().to_string(), e))?;
    unpack_layer(file, dest, options)
}

/// Unpacks a layer stream into the existing directory `dest`, then checks the expected digests.
/// On error `dest` holds a partial layer: the caller unpacks into a scratch dir and renames.
pub fn unpack_layer<R: Read>(
    reader: R,
    dest: &Path,
    options: &UnpackOptions,
) -> Result<UnpackStats> {
    let mut compressed = BufReader::with_capacity(COPY_BUFFER, Sha256Digest::new(reader));
    let compression = match options.compression {
        Compression::Auto => detect_compression(compressed.fill_buf().map_err(Error::Read)?),
        given => given,
    };
    let mut unpacker = Unpacker::new(dest, options)?;
    let (diff_id, size, entries) = match compression {
        Compression::Gzip => unpack_tar(
            flate2::bufread::MultiGzDecoder::new(&mut compressed),
            &mut unpacker,
        )?,
        Compression::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::with_buffer(&mut compressed).map_err(Error::Read)?;
            unpack_tar(decoder, &mut unpacker)?
        }
        Compression::None | Compression::Auto => unpack_tar(&mut compressed, &mut unpacker)?,
    };
    // Whatever follows the compressed stream still belongs to the blob's digest.
    io::copy(&mut compressed, &mut io::sink()).map_err(Error::Read)?;
    let (digest, compressed_size, _) = compressed.into_inner().finish();
    check_digest(
        "layer blob digest",
        options.expected_digest.as_deref(),
        &digest,
    )?;
    check_digest(
        "layer diff id",
        options.expected_diff_id.as_deref(),
        &diff_id,
    )?;
    Ok(UnpackStats {
        digest,
        diff_id,
        compressed_size,
        size,
        entries,
        compression: match compression {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            _ => "none",
        },
    })
}

fn detect_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

fn check_digest(what: &'static str, expected: Option<&str>, actual: &str) -> Result<()> {
    match expected {
        Some(expected) if expected != actual => Err(Error::DigestMismatch {
            what,
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Applies every entry of the tar, then returns (diff id, tar size, entry count).
fn unpack_tar<D: Read>(decompressed: D, unpacker: &mut Unpacker) -> Result<(String, u64, u64)> {
    let mut plain = Sha256Digest::new(decompressed);
    let mut count = 0;
    {
        let mut archive = tar::Archive::new(&mut plain);
        for entry in archive.entries().map_err(Error::Read)? {
            unpacker.apply(entry.map_err(Error::Read)?)?;
            count += 1;
        }
    }
    unpacker.finish()?;
    // The two zero blocks and any padding after them are part of the diff id.
    plain.drain().map_err(Error::Read)?;
    let (diff_id, size, _) = plain.finish();
    Ok((diff_id, size, count))
}

/// An entry path as components below the root: `.` and empty parts dropped, `..` clamped at the
/// root and a leading `/` ignored, as if the tar were extracted after chroot.
fn clean_path(raw: &[u8]) -> Vec<Vec<u8>> {
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            name => parts.push(name.to_vec()),
        }
    }
    parts
}

fn join(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.join(&b'/')
}

/// Ownership, mode, time and xattrs of one entry.
struct Metadata {
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
    xattrs: Vec<(CString, Vec<u8>)>,
}

/// The state of one layer's unpack.
struct Unpacker<'o> {
    root: OwnedFd,
    options: &'o UnpackOptions,
    lowers: Vec<OwnedFd>,
    /// Directory mtimes, set at the end: creating children would change them again.
    dir_times: Vec<(Vec<Vec<u8>>, i64)>,
    /// Flatten mode: paths this layer wrote, and every ancestor of them, which a whiteout or an
    /// opaque marker of the same layer must not remove (they cover lower layers only).
    written: HashSet<Vec<u8>>,
    written_ancestors: HashSet<Vec<u8>>,
    opaque_dirs: Vec<Vec<Vec<u8>>>,
    buffer: Vec<u8>,
}

impl<'o> Unpacker<'o> {
    fn new(dest: &Path, options: &'o UnpackOptions) -> Result<Self> {
        let path_of = |p: &Path| p.display().to_string();
        let root = fsops::open_dir(
            &c_name(dest.as_os_str().as_bytes())
                .map_err(|e| Error::io("opening", path_of(dest), e))?,
        )
        .map_err(|e| Error::io("opening layer directory", path_of(dest), e))?;
        let mut lowers = Vec::new();
        for lower in &options.lower_dirs {
            let name = c_name(lower.as_os_str().as_bytes())
                .map_err(|e| Error::io("opening", path_of(lower), e))?;
            lowers.push(
                fsops::open_dir(&name)
                    .map_err(|e| Error::io("opening lower layer", path_of(lower), e))?,
            );
        }
        Ok(Unpacker {
            root,
            options,
            lowers,
            dir_times: Vec::new(),
            written: HashSet::new(),
            written_ancestors: HashSet::new(),
            opaque_dirs: Vec::new(),
            buffer: vec![0; COPY_BUFFER],
        })
    }

    fn flatten(&self) -> bool {
        self.options.whiteouts == WhiteoutMode::Flatten
    }

    fn apply<R: Read>(&mut self, mut entry: tar::Entry<R>) -> Result<()> {
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            return Ok(());
        }
        let parts = clean_path(&raw_path);
        let entry_err = |msg: String| Error::entry(shown.clone(), msg);
        let io_err = |step: &'static str| {
            let shown = shown.clone();
            move |e: io::Error| Error::io(step, shown, e)
        };

        if let Some((last, parent)) = parts.split_last() {
            if last.as_slice() == OPAQUE_MARKER {
                return self
                    .opaque(parent)
                    .map_err(io_err("applying opaque marker"));
            }
            if let Some(covered) = last.strip_prefix(WHITEOUT_PREFIX) {
                if covered.is_empty() || covered == b"." || covered == b".." {
                    return Err(entry_err("whiteout names no file".into()));
                }
                return self
                    .whiteout(parent, covered)
                    .map_err(io_err("applying whiteout"));
            }
        }
        let meta = read_metadata(&mut entry).map_err(|e| entry_err(format!("bad header: {e}")))?;
        let Some((name, parent_parts)) = parts.split_last() else {
            // The layer root itself: only a directory entry makes sense, and only its metadata.
            if kind != EntryType::Directory {
                return Err(entry_err("entry would replace the layer root".into()));
            }
            let root = self
                .root
                .try_clone()
                .map_err(io_err("opening layer root"))?;
            self.set_metadata_fd(root.as_raw_fd(), &meta, false)
                .map_err(io_err("setting metadata"))?;
            self.dir_times.push((Vec::new(), meta.mtime));
            return Ok(());
        };
        let name_c = c_name(name).map_err(|e| entry_err(e.to_string()))?;
        let parent = self
            .parent_dir(parent_parts, true)
            .map_err(io_err("creating parent directories"))?
            .ok_or_else(|| entry_err("parent directory missing".into()))?;
        let dir = parent.as_raw_fd();
        match kind {
            EntryType::Directory => {
                match fsops::lstat_at(dir, &name_c).map_err(io_err("inspecting"))? {
                    Some(st) if fsops::is_dir(&st) => {}
                    existing => {
                        if existing.is_some() {
                            fsops::remove_all_at(dir, &name_c).map_err(io_err("replacing"))?;
                        }
                        fsops::mkdir_at(dir, &name_c, 0o700)
                            .map_err(io_err("creating directory"))?;
                    }
                }
                let fd = fsops::open_at(
                    dir,
                    &name_c,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                )
                .map_err(io_err("opening directory"))?;
                self.set_metadata_fd(fd.as_raw_fd(), &meta, false)
                    .map_err(io_err("setting metadata"))?;
                self.dir_times.push((parts.clone(), meta.mtime));
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                fsops::remove_all_at(dir, &name_c).map_err(io_err("replacing"))?;
                let fd = fsops::open_at(
                    dir,
                    &name_c,
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                    0o600,
                )
                .map_err(io_err("creating file"))?;
                let mut file = File::from(fd);
                copy_data(&mut entry, &mut file, &mut self.buffer)
                    .map_err(io_err("writing file"))?;
                self.set_metadata_fd(file.as_raw_fd(), &meta, true)
                    .map_err(io_err("setting metadata"))?;
                fsops::set_times_fd(file.as_raw_fd(), meta.mtime)
                    .map_err(io_err("setting times"))?;
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| entry_err("symlink without target".into()))?;
                let target = c_name(&target).map_err(|e| entry_err(e.to_string()))?;
                fsops::remove_all_at(dir, &name_c).map_err(io_err("replacing"))?;
                fsops::symlink_at(&target, dir, &name_c).map_err(io_err("creating symlink"))?;
                if self.options.same_owner {
                    fsops::lchown_at(dir, &name_c, meta.uid, meta.gid).map_err(io_err("chown"))?;
                }
                for (key, value) in &meta.xattrs {
                    fsops::lset_xattr_at(dir, &name_c, key, value)
                        .map_err(io_err("setting xattr"))?;
                }
                fsops::set_times_at(dir, &name_c, meta.mtime).map_err(io_err("setting times"))?;
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| entry_err("hardlink without target".into()))?;
                let target_parts = clean_path(&target);
                if target_parts == parts || target_parts.is_empty() {
                    return Err(entry_err("hardlink to itself or to the layer root".into()));
                }
                fsops::remove_all_at(dir, &name_c).map_err(io_err("replacing"))?;
                self.hardlink(&target_parts, dir, &name_c).map_err(|e| {
                    entry_err(format!(
                        "hardlink to {:?}: {e}",
                        String::from_utf8_lossy(&target)
                    ))
                })?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let file_type = match kind {
                    EntryType::Char => libc::S_IFCHR,
                    EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                let header = entry.header();
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                fsops::remove_all_at(dir, &name_c).map_err(io_err("replacing"))?;
                fsops::mknod_at(dir, &name_c, file_type | 0o600, libc::makedev(major, minor))
                    .map_err(io_err("creating device node"))?;
                let fd = fsops::open_at(dir, &name_c, libc::O_PATH | libc::O_NOFOLLOW, 0)
                    .map_err(io_err("opening"))?;
                self.set_metadata_fd(fd.as_raw_fd(), &meta, false)
                    .map_err(io_err("setting metadata"))?;
                fsops::set_times_fd(fd.as_raw_fd(), meta.mtime).map_err(io_err("setting times"))?;
            }
            other => return Err(entry_err(format!("unsupported tar entry type {other:?}"))),
        }
        if self.flatten() {
            self.mark_written(&parts);
        }
        Ok(())
    }

    fn mark_written(&mut self, parts: &[Vec<u8>]) {
        self.written.insert(join(parts));
        for end in (1..parts.len()).rev() {
            if !self.written_ancestors.insert(join(&parts[..end])) {
                break;
            }
        }
    }

    fn keeps(&self, path: &[u8]) -> bool {
        self.written.contains(path) || self.written_ancestors.contains(path)
    }

    /// Chown (which clears setuid bits and file capabilities), then mode, then xattrs.
    fn set_metadata_fd(&self, fd: RawFd, meta: &Metadata, regular: bool) -> io::Result<()> {
        if self.options.same_owner {
            fsops::fchown(fd, meta.uid, meta.gid)?;
        }
        if regular {
            // SAFETY: plain syscall on a descriptor we hold.
            if unsafe { libc::fchmod(fd, meta.mode) } < 0 {
                return Err(io::Error::last_os_error());
            }
        } else {
            fsops::chmod_fd(fd, meta.mode)?;
        }
        for (key, value) in &meta.xattrs {
            fsops::set_xattr_fd(fd, key, value)?;
        }
        Ok(())
    }

    /// The directory at `parts` under the root, resolved in the root; with `create`, missing
    /// components (and ones that are not directories, like dangling symlinks) become directories.
    fn parent_dir(&mut self, parts: &[Vec<u8>], create: bool) -> io::Result<Option<OwnedFd>> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        if parts.is_empty() {
            return self.root.try_clone().map(Some);
        }
        let root = self.root.as_raw_fd();
        match fsops::open_in_root(root, &c_name(&join(parts))?, flags) {
            Ok(fd) => return Ok(Some(fd)),
            Err(e) if !create || !is_missing_dir(&e) => {
                return if is_missing_dir(&e) { Ok(None) } else { Err(e) };
            }
            Err(_) => {}
        }
        let mut dir = self.root.try_clone()?;
        for end in 1..=parts.len() {
            match fsops::open_in_root(root, &c_name(&join(&parts[..end]))?, flags) {
                Ok(fd) => dir = fd,
                Err(e) if is_missing_dir(&e) => {
                    let name = c_name(&parts[end - 1])?;
                    if fsops::lstat_at(dir.as_raw_fd(), &name)?.is_some() {
                        fsops::remove_all_at(dir.as_raw_fd(), &name)?;
                    }
                    fsops::mkdir_at(dir.as_raw_fd(), &name, 0o755)?;
                    dir = fsops::open_at(dir.as_raw_fd(), &name, flags | libc::O_NOFOLLOW, 0)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Some(dir))
    }

    fn hardlink(&mut self, target: &[Vec<u8>], dir: RawFd, name: &CStr) -> io::Result<()> {
        let (target_name, target_parent) = target.split_last().expect("non-empty target");
        let target_name = c_name(target_name)?;
        let parent_path = c_name(&join(target_parent))?;
        let resolve = |root: RawFd| -> io::Result<OwnedFd> {
            if target_parent.is_empty() {
                fsops::open_at(root, c".", libc::O_PATH | libc::O_DIRECTORY, 0)
            } else {
                fsops::open_in_root(root, &parent_path, libc::O_PATH | libc::O_DIRECTORY)
            }
        };
        let missing = match resolve(self.root.as_raw_fd()) {
            Ok(parent) => match fsops::link_at(parent.as_raw_fd(), &target_name, dir, name) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            },
            Err(e) => e,
        };
        if !is_missing_dir(&missing) {
            return Err(missing);
        }
        // Not in this layer: link (or copy, across filesystems) the file from a lower layer.
        for lower in &self.lowers {
            let Ok(parent) = resolve(lower.as_raw_fd()) else {
                continue;
            };
            match fsops::lstat_at(parent.as_raw_fd(), &target_name)? {
                None => continue,
                Some(st) if st.st_mode & libc::S_IFMT != libc::S_IFREG => {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "lower-layer target is not a regular file",
                    ));
                }
                Some(st) => {
                    return match fsops::link_at(parent.as_raw_fd(), &target_name, dir, name) {
                        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => copy_file(
                            parent.as_raw_fd(),
                            &target_name,
                            &st,
                            dir,
                            name,
                            &mut self.buffer,
                        ),
                        other => other,
                    };
                }
            }
        }
        Err(missing)
    }

    fn whiteout(&mut self, parent: &[Vec<u8>], covered: &[u8]) -> io::Result<()> {
        let name = c_name(covered)?;
        if self.flatten() {
            let mut path = parent.to_vec();
            path.push(covered.to_vec());
            if self.keeps(&join(&path)) {
                return Ok(());
            }
            return match self.parent_dir(parent, false)? {
                Some(dir) => fsops::remove_all_at(dir.as_raw_fd(), &name),
                None => Ok(()),
            };
        }
        let dir = self.parent_dir(parent, true)?.expect("created");
        fsops::remove_all_at(dir.as_raw_fd(), &name)?;
        fsops::mknod_at(dir.as_raw_fd(), &name, libc::S_IFCHR, libc::makedev(0, 0))
    }

    fn opaque(&mut self, dir_parts: &[Vec<u8>]) -> io::Result<()> {
        let dir = self.parent_dir(dir_parts, true)?.expect("created");
        if self.flatten() {
            // Applied at the end: the marker may come before or after this layer's own entries.
            self.opaque_dirs.push(dir_parts.to_vec());
            if !dir_parts.is_empty() {
                self.mark_written(dir_parts);
            }
            Ok(())
        } else {
            fsops::set_xattr_fd(dir.as_raw_fd(), OVERLAY_OPAQUE_XATTR, b"y")
        }
    }

    /// Removes, under `dir`, everything this layer did not write (flatten-mode opaque dirs).
    fn clear_lower_content(&self, dir: RawFd, prefix: &[u8]) -> io::Result<()> {
        for child in fsops::list_dir(dir)? {
            let mut path = prefix.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(child.to_bytes());
            if !self.keeps(&path) {
                fsops::remove_all_at(dir, &child)?;
            } else if fsops::lstat_at(dir, &child)?.is_some_and(|st| fsops::is_dir(&st)) {
                let sub = fsops::open_at(
                    dir,
                    &child,
                    libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
                    0,
                )?;
                self.clear_lower_content(sub.as_raw_fd(), &path)?;
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        for dir_parts in std::mem::take(&mut self.opaque_dirs) {
            let shown = String::from_utf8_lossy(&join(&dir_parts)).into_owned();
            if let Some(dir) = self
                .parent_dir(&dir_parts, false)
                .map_err(|e| Error::io("opaque dir", &*shown, e))?
            {
                self.clear_lower_content(dir.as_raw_fd(), &join(&dir_parts))
                    .map_err(|e| Error::io("applying opaque marker", shown, e))?;
            }
        }
        for (parts, mtime) in std::mem::take(&mut self.dir_times) {
            let result = match parts.split_last() {
                None => fsops::set_times_fd(self.root.as_raw_fd(), mtime),
                Some((name, parent)) => match self.parent_dir(parent, false) {
                    Ok(Some(dir)) => {
                        c_name(name).and_then(|n| fsops::set_times_at(dir.as_raw_fd(), &n, mtime))
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                },
            };
            // A later entry may have replaced or removed the directory.
            match result {
                Err(e) if !is_missing_dir(&e) => {
                    return Err(Error::io(
                        "setting directory times",
                        String::from_utf8_lossy(&join(&parts)),
                        e,
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn is_missing_dir(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)
    )
}

/// Reads mode, owner, mtime and `SCHILY.xattr.*` from the header and its PAX records.
fn read_metadata<R: Read>(entry: &mut tar::Entry<R>) -> io::Result<Metadata> {
    let header = entry.header();
    let mut meta = Metadata {
        uid: header.uid()? as u32,
        gid: header.gid()? as u32,
        mode: header.mode()? & 0o7777,
        mtime: header.mtime()? as i64,
        xattrs: Vec::new(),
    };
    if let Some(extensions) = entry.pax_extensions()? {
        for extension in extensions {
            let extension = extension?;
            let key = extension.key_bytes();
            let value = extension.value_bytes();
            let number = || {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.split('.').next()?.parse::<i64>().ok())
            };
            match key {
                b"uid" => meta.uid = number().unwrap_or(meta.uid as i64) as u32,
                b"gid" => meta.gid = number().unwrap_or(meta.gid as i64) as u32,
                b"mtime" => meta.mtime = number().unwrap_or(meta.mtime),
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                        // An image must not smuggle in overlayfs' own whiteout/redirect attributes.
                        if name.starts_with(b"trusted.overlay.")
                            || name.starts_with(b"user.overlay.")
                        {
                            continue;
                        }
                        meta.xattrs.push((c_name(name)?, value.to_vec()));
                    }
                }
            }
        }
    }
    Ok(meta)
}

fn copy_data(from: &mut impl Read, to: &mut File, buffer: &mut [u8]) -> io::Result<()> {
    loop {
        let n = match from.read(buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buffer[..n])?;
    }
}

/// Copies a lower layer's regular file (content, owner, mode, mtime) when it cannot be linked.
fn copy_file(
    from_dir: RawFd,
    from: &CStr,
    st: &libc::stat,
    to_dir: RawFd,
    to: &CStr,
    buffer: &mut [u8],
) -> io::Result<()> {
    let mut source = File::from(fsops::open_at(
        from_dir,
        from,
        libc::O_RDONLY | libc::O_NOFOLLOW,
        0,
    )?);
    let fd = fsops::open_at(
        to_dir,
        to,
        libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
        0o600,
    )?;
    let mut target = File::from(fd);
    copy_data(&mut source, &mut target, buffer)?;
    fsops::fchown(target.as_raw_fd(), st.st_uid, st.st_gid)?;
    // SAFETY: plain syscall on a descriptor we hold.
    if unsafe { libc::fchmod(target.as_raw_fd(), st.st_mode & 0o7777) } < 0 {
        return Err(io::Error::last_os_error());
    }
    fsops::set_times_fd(target.as_raw_fd(), st.st_mtime)
}

#[cfg(test)]
#[path = "unpack_tests.rs"]
mod tests;
