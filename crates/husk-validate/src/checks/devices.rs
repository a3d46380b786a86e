//! Devices: the runtime-spec's default devices and /dev symlinks, and every linux.devices entry
//! (type, major:minor, fileMode, uid, gid).

use crate::facts::Facts;
use crate::report::Report;
use crate::sys;
use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// (path, major, minor) of the character devices every container gets (config-linux.md).
const DEFAULT_DEVICES: [(&str, u64, u64); 6] =
    [("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7), ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0)];

/// (link, target) symlinks of runtime-linux.md "Dev symbolic links".
const DEV_SYMLINKS: [(&str, &str); 4] =
    [("/dev/fd", "/proc/self/fd"), ("/dev/stdin", "/proc/self/fd/0"), ("/dev/stdout", "/proc/self/fd/1"), ("/dev/stderr", "/proc/self/fd/2")];

pub fn check(facts: &Facts, report: &mut Report) {
    let mounts = facts.config.get("mounts").and_then(Value::as_array).cloned().unwrap_or_default();
    let dev_is_bind = mounts.iter().any(|m| {
        m.get("destination").and_then(Value::as_str) == Some("/dev")
            && (m.get("type").and_then(Value::as_str) == Some("bind")
                || crate::facts::strings(m.get("options")).iter().any(|o| o == "bind" || o == "rbind"))
    });
    // A bind-mounted /dev is the user's own; the runtime does not populate it.
    if !dev_is_bind {
        for (path, major, minor) in DEFAULT_DEVICES {
            report.check(&format!("default device {path} is char {major}:{minor}"), char_device(path, major, minor));
        }
        report.check("default device /dev/ptmx is pts/ptmx", ptmx());
        for (link, target) in DEV_SYMLINKS {
            let got = std::fs::read_link(link).map(|t| t.to_string_lossy().into_owned()).map_err(|e| e.to_string());
            report.expect_eq_read(&format!("{link} -> {target}"), target.to_string(), got);
        }
    }
    for device in facts.config.pointer("/linux/devices").and_then(Value::as_array).into_iter().flatten() {
        let path = device.get("path").and_then(Value::as_str).unwrap_or_default();
        report.check(&format!("linux.devices {path}"), configured_device(path, device));
    }
}

fn char_device(path: &str, major: u64, minor: u64) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    if !meta.file_type().is_char_device() {
        return Err(format!("not a character device ({:?})", meta.file_type()));
    }
    let got = (sys::major(meta.rdev()), sys::minor(meta.rdev()));
    if got != (major, minor) {
        return Err(format!("expected {major}:{minor}, got {}:{}", got.0, got.1));
    }
    Ok(())
}

fn ptmx() -> Result<(), String> {
    let meta = std::fs::symlink_metadata("/dev/ptmx").map_err(|e| e.to_string())?;
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link("/dev/ptmx").map_err(|e| e.to_string())?;
        let target = target.to_string_lossy();
        return if target == "pts/ptmx" || target == "/dev/pts/ptmx" { Ok(()) } else { Err(format!("symlink to {target}")) };
    }
    // The spec also allows a bind mount of /dev/pts/ptmx.
    let pts = std::fs::metadata("/dev/pts/ptmx").map_err(|e| format!("/dev/pts/ptmx: {e}"))?;
    if meta.file_type().is_char_device() && meta.rdev() == pts.rdev() && meta.ino() == pts.ino() {
        Ok(())
    } else {
        Err("neither a symlink to pts/ptmx nor a bind mount of it".to_string())
    }
}

fn configured_device(path: &str, device: &Value) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| e.to_string())?;
    let kind = device.get("type").and_then(Value::as_str).unwrap_or("");
    let file_type = meta.file_type();
    let type_ok = match kind {
        "c" | "u" => file_type.is_char_device(),
        "b" => file_type.is_block_device(),
        "p" => file_type.is_fifo(),
        _ => return Err(format!("unknown device type {kind:?}")),
    };
    let mut problems = Vec::new();
    if !type_ok {
        problems.push(format!("expected type {kind}, got {file_type:?}"));
    }
    if kind != "p" {
        let want = (device.get("major").and_then(Value::as_u64).unwrap_or(0), device.get("minor").and_then(Value::as_u64).unwrap_or(0));
        let got = (sys::major(meta.rdev()), sys::minor(meta.rdev()));
        if want != got {
            problems.push(format!("expected {}:{}, got {}:{}", want.0, want.1, got.0, got.1));
        }
    }
    if let Some(mode) = device.get("fileMode").and_then(Value::as_u64) {
        let (want, got) = (mode as u32 & 0o7777, meta.mode() & 0o7777);
        if want != got {
            problems.push(format!("fileMode expected {want:o}, got {got:o}"));
        }
    }
    if let Some(uid) = device.get("uid").and_then(Value::as_u64) {
        if uid != u64::from(meta.uid()) {
            problems.push(format!("uid expected {uid}, got {}", meta.uid()));
        }
    }
    if let Some(gid) = device.get("gid").and_then(Value::as_u64) {
        if gid != u64::from(meta.gid()) {
            problems.push(format!("gid expected {gid}, got {}", meta.gid()));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join(", ")) }
}
