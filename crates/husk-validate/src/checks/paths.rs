//! linux.maskedPaths (reads give nothing: files read empty, directories list empty and are
//! read-only) and linux.readonlyPaths (writes fail with EROFS).

use crate::facts::{strings, Facts};
use crate::report::Report;
use crate::sys;
use std::io::{ErrorKind, Read};
use std::path::Path;

pub fn check(facts: &Facts, report: &mut Report) {
    for path in strings(facts.config.pointer("/linux/maskedPaths")) {
        report.check(&format!("maskedPaths {path}"), masked(Path::new(&path)));
    }
    for path in strings(facts.config.pointer("/linux/readonlyPaths")) {
        report.check(&format!("readonlyPaths {path}"), read_only(Path::new(&path)));
    }
}

fn masked(path: &Path) -> Result<(), String> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        // A path missing from the rootfs has nothing to mask.
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    if meta.is_dir() {
        let entries: Vec<String> = std::fs::read_dir(path)
            .map_err(|e| format!("readdir: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        if !entries.is_empty() {
            return Err(format!("directory lists {entries:?}"));
        }
        if !sys::statvfs_readonly(path)? {
            return Err("directory is empty but writable".to_string());
        }
        return Ok(());
    }
    let mut file = std::fs::File::open(path).map_err(|e| format!("open: {e}"))?;
    // Bounded read: an unmasked /proc/kcore would be enormous.
    let mut buf = [0u8; 256];
    let n = file.read(&mut buf).map_err(|e| format!("read: {e}"))?;
    if n == 0 { Ok(()) } else { Err(format!("read returned {n} bytes")) }
}

fn read_only(path: &Path) -> Result<(), String> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    if !sys::statvfs_readonly(path)? {
        return Err("not on a read-only mount (statvfs)".to_string());
    }
    // Writing into /proc or /sys could change the host, so only probe ordinary directories.
    let probe_safe = meta.is_dir() && !path.starts_with("/proc") && !path.starts_with("/sys");
    if probe_safe {
        let probe = path.join(".husk-validate-write-probe");
        match std::fs::File::create(&probe) {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
                return Err("creating a file succeeded".to_string());
            }
            Err(e) if e.raw_os_error() == Some(libc::EROFS) => {}
            Err(e) => return Err(format!("creating a file failed with {e}, not EROFS")),
        }
    }
    Ok(())
}
