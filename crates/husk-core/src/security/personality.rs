//! `linux.personality` → the value for personality(2): the execution domain (LINUX, LINUX32 for
//! `uname -m` = i686) plus flags, set by the init before execve (it survives the exec).

use serde_json::Value;

use crate::error::{Error, Result};

const PER_LINUX: u64 = 0x0000;
const PER_LINUX32: u64 = 0x0008;

/// The personality flags of <linux/personality.h>, by name. The runtime-spec defines none yet;
/// these are the kernel's own.
const FLAGS: &[(&str, u64)] = &[
    ("UNAME26", 0x0020000),
    ("ADDR_NO_RANDOMIZE", 0x0040000),
    ("FDPIC_FUNCPTRS", 0x0080000),
    ("MMAP_PAGE_ZERO", 0x0100000),
    ("ADDR_COMPAT_LAYOUT", 0x0200000),
    ("READ_IMPLIES_EXEC", 0x0400000),
    ("ADDR_LIMIT_32BIT", 0x0800000),
    ("SHORT_INODE", 0x1000000),
    ("WHOLE_SECONDS", 0x2000000),
    ("STICKY_TIMEOUTS", 0x4000000),
    ("ADDR_LIMIT_3GB", 0x8000000),
];

/// The personality(2) argument for a `linux.personality` object.
pub fn value(spec: &Value) -> Result<u64> {
    if !spec.is_object() {
        return Err(Error::spec("linux.personality", "must be an object"));
    }
    let domain = spec.get("domain").and_then(Value::as_str).ok_or_else(|| Error::spec("linux.personality.domain", "missing (LINUX or LINUX32)"))?;
    let mut value = match domain {
        "LINUX" => PER_LINUX,
        "LINUX32" => PER_LINUX32,
        _ => return Err(Error::spec("linux.personality.domain", format!("unknown domain {domain:?} (LINUX or LINUX32)"))),
    };
    match spec.get("flags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(flags)) => {
            for (i, f) in flags.iter().enumerate() {
                let field = format!("linux.personality.flags[{i}]");
                let name = f.as_str().ok_or_else(|| Error::spec(&field, "must be a string"))?;
                let (_, bit) = FLAGS.iter().find(|(n, _)| *n == name).ok_or_else(|| Error::spec(&field, format!("unknown personality flag {name:?}")))?;
                value |= bit;
            }
        }
        Some(_) => return Err(Error::spec("linux.personality.flags", "must be an array")),
    }
    Ok(value)
}

/// Sets the calling process's personality: one raw syscall, safe in the init child.
pub fn apply_raw(value: u64) -> Result<(), i32> {
    // SAFETY: personality(2) takes a plain integer.
    let r = unsafe { libc::personality(value as libc::c_ulong) };
    if r < 0 { Err(crate::util::errno()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::testutil::{describe, in_child};
    use serde_json::json;

    #[test]
    fn domains_and_flags() {
        assert_eq!(value(&json!({"domain": "LINUX"})).unwrap(), 0);
        assert_eq!(value(&json!({"domain": "LINUX32"})).unwrap(), 8);
        assert_eq!(value(&json!({"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]})).unwrap(), 0x0040000);
        let e = value(&json!({"domain": "SVR4"})).unwrap_err().to_string();
        assert!(e.contains("linux.personality.domain: unknown domain \"SVR4\""), "{e}");
        let e = value(&json!({"domain": "LINUX", "flags": ["NOPE"]})).unwrap_err().to_string();
        assert!(e.contains("linux.personality.flags[0]"), "{e}");
        assert!(value(&json!({})).is_err());
    }

    #[test]
    fn linux32_changes_uname_machine_in_a_child() {
        let v = value(&json!({"domain": "LINUX32"})).unwrap();
        let status = in_child(|| {
            if apply_raw(v).is_err() {
                return 1;
            }
            // SAFETY: uname into a zeroed stack struct.
            let mut u: libc::utsname = unsafe { std::mem::zeroed() };
            if unsafe { libc::uname(&mut u) } != 0 {
                return 2;
            }
            // x86_64 reports i686 under PER_LINUX32
            if u.machine[0] as u8 == b'i' && u.machine[2] as u8 == b'8' { 0 } else { 3 }
        });
        assert_eq!(describe(status), "exit 0");
    }
}
