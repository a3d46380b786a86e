//! Capabilities: names ↔ bits, and the child's raw capset/prctl sequence.

use crate::error::{Error, Result};
use crate::spec::Capabilities;

pub const CAP_NAMES: &[&str] = &[
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
];

/// The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(CAP_NAMES.len() as u32 - 1)
}

pub fn cap_bit(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") };
    CAP_NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

fn set_mask(field: &str, names: &[String]) -> Result<u64> {
    let mut m = 0u64;
    for (i, n) in names.iter().enumerate() {
        let bit = cap_bit(n).ok_or_else(|| Error::spec(format!("process.capabilities.{field}[{i}]"), format!("unknown capability {n:?}")))?;
        m |= 1 << bit;
    }
    Ok(m)
}

/// The five sets as bit masks; sets absent from the spec are empty (as runc does).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub inheritable: u64,
    pub permitted: u64,
    pub ambient: u64,
}

impl CapSets {
    pub fn from_spec(c: &Capabilities) -> Result<CapSets> {
        let get = |field: &str, v: &Option<Vec<String>>| set_mask(field, v.as_deref().unwrap_or(&[]));
        Ok(CapSets {
            bounding: get("bounding", &c.bounding)?,
            effective: get("effective", &c.effective)?,
            inheritable: get("inheritable", &c.inheritable)?,
            permitted: get("permitted", &c.permitted)?,
            ambient: get("ambient", &c.ambient)?,
        })
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAP_V3: u32 = 0x20080522;

/// Drops every capability outside the bounding set (needs CAP_SETPCAP, so before the uid switch).
pub fn apply_bounding(sets: &CapSets, last: u32) -> std::result::Result<(), i32> {
    for bit in 0..=last {
        if sets.bounding & (1 << bit) == 0 {
            // SAFETY: prctl with integer arguments.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, bit as libc::c_ulong, 0, 0, 0) };
            if r != 0 && crate::util::errno() != libc::EINVAL {
                return Err(crate::util::errno());
            }
        }
    }
    Ok(())
}

/// capset(2) of effective/permitted/inheritable, then the ambient set.
pub fn apply_sets(sets: &CapSets, last: u32) -> std::result::Result<(), i32> {
    let hdr = CapHeader { version: CAP_V3, pid: 0 };
    let data = [
        CapData { effective: sets.effective as u32, permitted: sets.permitted as u32, inheritable: sets.inheritable as u32 },
        CapData { effective: (sets.effective >> 32) as u32, permitted: (sets.permitted >> 32) as u32, inheritable: (sets.inheritable >> 32) as u32 },
    ];
    // SAFETY: capset with a v3 header and two data words, as the ABI requires.
    if unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) } != 0 {
        return Err(crate::util::errno());
    }
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) };
    for bit in 0..=last {
        if sets.ambient & (1 << bit) != 0 {
            // SAFETY: prctl with integer arguments.
            let r = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, bit as libc::c_ulong, 0, 0) };
            // runc ignores ambient caps the kernel refuses (not in permitted+inheritable).
            let _ = r;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_bits() {
        assert_eq!(cap_bit("CAP_CHOWN"), Some(0));
        assert_eq!(cap_bit("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(cap_bit("net_raw"), Some(13));
        assert_eq!(cap_bit("CAP_NOPE"), None);
        let c = Capabilities { bounding: Some(vec!["CAP_KILL".into(), "CAP_CHOWN".into()]), ..Default::default() };
        assert_eq!(CapSets::from_spec(&c).unwrap().bounding, 0b100001);
        let bad = Capabilities { effective: Some(vec!["CAP_WHAT".into()]), ..Default::default() };
        let e = CapSets::from_spec(&bad).unwrap_err().to_string();
        assert!(e.contains("process.capabilities.effective[0]") && e.contains("CAP_WHAT"), "{e}");
    }
}
