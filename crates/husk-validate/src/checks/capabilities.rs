//! process.capabilities against CapBnd/CapInh/CapAmb/CapPrm/CapEff of /proc/self/status.
//! The validator is the exec'd process, so permitted/effective follow the kernel's execve
//! rules (capabilities(7)): uid 0 gets bounding|inheritable|ambient, other uids get ambient,
//! and under no_new_privs nothing beyond the permitted set the runtime left before execve.

use crate::facts::{strings, Facts};
use crate::report::Report;
use crate::sys;

/// Capability names by bit number (linux/capability.h).
const CAPABILITY_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub fn bit_of(name: &str) -> Option<u32> {
    CAPABILITY_NAMES.iter().position(|n| *n == name).map(|b| b as u32)
}

pub fn names_of(mask: u64) -> Vec<String> {
    (0..64u32)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| CAPABILITY_NAMES.get(bit as usize).map(|n| n.to_string()).unwrap_or_else(|| format!("cap{bit}")))
        .collect()
}

pub fn check(facts: &Facts, report: &mut Report) {
    let Some(caps) = facts.config.pointer("/process/capabilities") else { return };
    let last_cap = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(CAPABILITY_NAMES.len() as u32 - 1);
    // Capabilities the kernel does not know are silently dropped by runtimes, so ignore them.
    let supported = if last_cap >= 63 { u64::MAX } else { (1u64 << (last_cap + 1)) - 1 };
    let mut set = |key: &str| -> Option<u64> {
        let list = caps.get(key)?;
        let mut mask = 0u64;
        for name in strings(Some(list)) {
            match bit_of(&name) {
                Some(bit) if bit <= last_cap => mask |= 1 << bit,
                _ => report.note(&format!("capability {name} in {key} is unknown to this kernel; ignored")),
            }
        }
        Some(mask)
    };
    let bounding = set("bounding");
    let inheritable = set("inheritable");
    let ambient = set("ambient");
    let (permitted_cfg, effective_cfg) = (set("permitted"), set("effective"));
    // SAFETY: getuid/geteuid cannot fail.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    // The kernel keeps a capability ambient only while it is permitted and inheritable, so
    // runtimes cannot raise (and runc and crun silently skip) any other.
    let ambient = ambient.map(|a| a & permitted_cfg.unwrap_or(0) & inheritable.unwrap_or(0));
    let ambient_or_empty = ambient.unwrap_or(0);

    let mut expect = |field: &str, what: &str, expected: Option<u64>| {
        let Some(expected) = expected else { return };
        let label = format!("process.capabilities {what} ({field})");
        match sys::status_field(field).and_then(|v| u64::from_str_radix(&v, 16).map_err(|e| e.to_string())) {
            Ok(got) => {
                let got = got & supported;
                if got == expected {
                    report.pass(&label);
                } else {
                    let missing = names_of(expected & !got);
                    let extra = names_of(got & !expected);
                    report.fail(&label, &format!("expected {:?}, got {:?} (missing {missing:?}, extra {extra:?})", names_of(expected), names_of(got)));
                }
            }
            Err(err) => report.fail(&label, &err),
        }
    };
    expect("CapBnd", "bounding", bounding);
    expect("CapInh", "inheritable", inheritable);
    expect("CapAmb", "ambient (those also permitted and inheritable)", ambient);
    if uid == 0 || euid == 0 {
        let no_new_privs = facts.config.pointer("/process/noNewPrivileges").and_then(serde_json::Value::as_bool).unwrap_or(false)
            || facts.host.no_new_privs;
        let permitted = bounding.map(|b| {
            let gained = b | inheritable.unwrap_or(0) | ambient_or_empty;
            if no_new_privs { gained & permitted_cfg.unwrap_or(0) } else { gained }
        });
        let rule = if no_new_privs { "(bounding|inheritable|ambient)&permitted under no_new_privs" } else { "bounding|inheritable|ambient" };
        expect("CapPrm", &format!("permitted after execve as uid 0 = {rule}"), permitted);
        let effective = if euid == 0 { permitted } else { Some(ambient_or_empty) };
        expect("CapEff", "effective after execve as uid 0", effective);
    } else {
        let only_ambient = (permitted_cfg.is_some() || effective_cfg.is_some() || ambient.is_some()).then_some(ambient_or_empty);
        expect("CapPrm", "permitted after execve as non-root = ambient", only_ambient);
        expect("CapEff", "effective after execve as non-root = ambient", only_ambient);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_bits_round_trip() {
        assert_eq!(bit_of("CAP_CHOWN"), Some(0));
        assert_eq!(bit_of("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(bit_of("CAP_NOPE"), None);
        assert_eq!(names_of((1 << 5) | (1 << 21)), vec!["CAP_KILL", "CAP_SYS_ADMIN"]);
    }
}
