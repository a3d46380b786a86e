//! cgroupfs file access: one open and one read or write per call, errors naming the file and value.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Reads a whole (small) file without the fstat std's read_to_string does first.
pub fn read_path(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    String::from_utf8(out).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

pub fn read(dir: &Path, name: &str) -> Result<String> {
    let path = dir.join(name);
    read_path(&path).map_err(|e| Error::io("read cgroup file", path.display().to_string(), e))
}

/// Like `read`, but a missing file (controller absent, cgroup gone) is `None`.
pub fn read_opt(dir: &Path, name: &str) -> Result<Option<String>> {
    let path = dir.join(name);
    match read_path(&path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read cgroup file", path.display().to_string(), e)),
    }
}

/// Writes `value` with a single write(2); O_TRUNC as runc (and regular files standing in for
/// cgroupfs in tests) expect, never O_CREAT (a missing file means a missing controller).
pub fn write_path(path: &Path, value: &str) -> io::Result<()> {
    OpenOptions::new().write(true).truncate(true).open(path)?.write_all(value.as_bytes())
}

pub fn write(dir: &Path, name: &str, value: &str) -> Result<()> {
    let path = dir.join(name);
    write_path(&path, value).map_err(|e| write_error(&path, value, e))
}

pub fn write_error(path: &Path, value: &str, source: io::Error) -> Error {
    Error::Sys { step: format!("write {value:?} to {}", path.display()), source }
}

/// Parses a cgroup number; "max" is unlimited.
pub fn parse_u64(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return Some(u64::MAX);
    }
    text.parse().ok()
}

/// The value of `key` in a flat-keyed file ("key value" per line: memory.events, cpu.stat, ...).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        if k == key {
            parse_u64(v)
        } else {
            None
        }
    })
}

/// All "key value" pairs of a flat-keyed file whose value is a number.
pub fn keyed_all(text: &str) -> impl Iterator<Item = (&str, u64)> {
    text.lines().filter_map(|line| {
        let (k, v) = line.split_once(' ')?;
        Some((k, parse_u64(v)?))
    })
}

/// `mkdir -p` that never creates `mount` itself (an unmounted hierarchy must not become a plain
/// directory); newly made directories are appended to `created`, parents first.
pub fn mkdir_all(dir: &Path, mount: &Path, created: &mut Vec<PathBuf>) -> io::Result<()> {
    if dir == mount {
        return match dir.is_dir() {
            true => Ok(()),
            false => Err(io::Error::new(io::ErrorKind::NotFound, format!("{} is not mounted", mount.display()))),
        };
    }
    match fs::create_dir(dir) {
        Ok(()) => {
            created.push(dir.to_path_buf());
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = match dir.parent() {
                Some(parent) if parent.starts_with(mount) => parent,
                _ => return Err(e),
            };
            mkdir_all(parent, mount, created)?;
            match fs::create_dir(dir) {
                Ok(()) => {
                    created.push(dir.to_path_buf());
                    Ok(())
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// Exponential backoff for polling the kernel: 100µs, doubling, capped at 10ms, until a deadline.
pub struct Backoff {
    delay: Duration,
    deadline: Instant,
}

impl Backoff {
    pub fn new(timeout: Duration) -> Self {
        Backoff { delay: Duration::from_micros(100), deadline: Instant::now() + timeout }
    }

    /// Sleeps one step; false (without sleeping) once the deadline has passed.
    pub fn sleep(&mut self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        std::thread::sleep(self.delay.min(self.deadline - now));
        self.delay = (self.delay * 2).min(Duration::from_millis(10));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers_and_keyed_files() {
        assert_eq!(parse_u64("max\n"), Some(u64::MAX));
        assert_eq!(parse_u64("42\n"), Some(42));
        assert_eq!(parse_u64("-1"), None);
        let text = "low 0\nhigh 3\nmax 7\noom 1\noom_kill 2\n";
        assert_eq!(keyed(text, "oom_kill"), Some(2));
        assert_eq!(keyed(text, "oom"), Some(1));
        assert_eq!(keyed(text, "none"), None);
        assert_eq!(keyed_all(text).count(), 5);
    }

    #[test]
    fn mkdir_all_records_new_dirs_and_stops_at_the_mount() {
        let base = std::env::temp_dir().join(format!("husk-cg-files-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir(&base).unwrap();
        let mut created = Vec::new();
        mkdir_all(&base.join("a/b/c"), &base, &mut created).unwrap();
        assert_eq!(created, vec![base.join("a"), base.join("a/b"), base.join("a/b/c")]);
        created.clear();
        mkdir_all(&base.join("a/b/c"), &base, &mut created).unwrap();
        assert!(created.is_empty());
        let gone = base.join("not-mounted");
        assert!(mkdir_all(&gone.join("x"), &gone, &mut created).is_err());
        assert!(!gone.exists());
        fs::remove_dir_all(&base).unwrap();
    }
}
