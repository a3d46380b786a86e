//! Compiled BPF programs kept on disk, keyed by the whole profile text plus what else shapes the
//! program (husk, libseccomp and kernel versions, native arch). Parent-side; a miss, a torn or
//! foreign file, or an untrusted directory all just mean "compile again".

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use serde_json::Value;

use super::filter::{program_from_bytes, program_to_bytes};

const MAGIC: &[u8; 8] = b"HUSKBPF1";
/// More entries than this and the directory is emptied before the next write.
const MAX_ENTRIES: usize = 64;

/// What a cached program must match byte for byte, and the file name it is filed under.
pub struct Key {
    bytes: Vec<u8>,
    file_name: String,
}

impl Key {
    pub fn new(spec: &Value, libseccomp: (u32, u32, u32), native_arch: u32) -> Key {
        let (major, minor, micro) = libseccomp;
        let mut bytes = format!(
            "husk {} libseccomp {major}.{minor}.{micro} arch {native_arch:#x} kernel {}\n",
            crate::VERSION,
            kernel_release()
        )
        .into_bytes();
        // serde_json's map is ordered by key, so equal profiles serialize equally.
        bytes.extend(serde_json::to_vec(spec).unwrap_or_default());
        let file_name = format!("{:016x}.bpf", fnv1a64(&bytes));
        Key { bytes, file_name }
    }
}

fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

fn kernel_release() -> String {
    // SAFETY: uname fills a zeroed struct on our stack.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::new();
    }
    let bytes: Vec<u8> = u.release.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Only a directory that is ours and that nobody else can write may feed filters to containers.
fn trusted_dir(dir: &Path) -> bool {
    match fs::symlink_metadata(dir) {
        // SAFETY: geteuid cannot fail.
        Ok(m) => m.is_dir() && m.uid() == unsafe { libc::geteuid() } && m.mode() & 0o022 == 0,
        Err(_) => false,
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend((b.len() as u64).to_le_bytes());
    out.extend(b);
}

fn take_bytes<'a>(data: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u64::from_le_bytes(data.get(..8)?.try_into().ok()?) as usize;
    let b = data.get(8..8usize.checked_add(len)?)?;
    *data = &data[8 + len..];
    Some(b)
}

/// The cached program and skipped syscall names for `key`, if a valid entry exists.
pub fn load(dir: &Path, key: &Key) -> Option<(Vec<libc::sock_filter>, Vec<String>)> {
    if !trusted_dir(dir) {
        return None;
    }
    let mut file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(dir.join(&key.file_name)).ok()?;
    let mut data = Vec::new();
    file.read_to_end(&mut data).ok()?;
    let mut rest = data.strip_prefix(MAGIC.as_slice())?;
    if take_bytes(&mut rest)? != key.bytes.as_slice() {
        return None;
    }
    let skipped = std::str::from_utf8(take_bytes(&mut rest)?).ok()?;
    let skipped = skipped.split('\n').filter(|s| !s.is_empty()).map(String::from).collect();
    let raw = take_bytes(&mut rest)?;
    if !rest.is_empty() || raw.is_empty() {
        return None;
    }
    Some((program_from_bytes(raw)?, skipped))
}

/// Files `program` under `key` (temp file + rename, so readers never see half of one).
pub fn store(dir: &Path, key: &Key, program: &[libc::sock_filter], skipped: &[String]) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    if !trusted_dir(dir) {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, "seccomp cache directory is not private"));
    }
    if fs::read_dir(dir)?.count() >= MAX_ENTRIES {
        for entry in fs::read_dir(dir)?.flatten() {
            let _ = fs::remove_file(entry.path());
        }
    }
    let mut data = MAGIC.to_vec();
    put_bytes(&mut data, &key.bytes);
    put_bytes(&mut data, skipped.join("\n").as_bytes());
    put_bytes(&mut data, &program_to_bytes(program));

    let tmp = dir.join(format!(".{}.{}.tmp", key.file_name, std::process::id()));
    let mut f: File = OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(&tmp)?;
    let written = f.write_all(&data).and_then(|_| fs::rename(&tmp, dir.join(&key.file_name)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
