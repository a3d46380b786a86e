//! Mount options of config.json → mount(2) flags, propagation changes and the data string.

use libc::c_ulong;

/// (name, clears the flag instead of setting it, flag)
const FLAGS: &[(&str, bool, c_ulong)] = &[
    ("async", true, libc::MS_SYNCHRONOUS),
    ("atime", true, libc::MS_NOATIME),
    ("defaults", false, 0),
    ("dev", true, libc::MS_NODEV),
    ("diratime", true, libc::MS_NODIRATIME),
    ("dirsync", false, libc::MS_DIRSYNC),
    ("exec", true, libc::MS_NOEXEC),
    ("iversion", false, libc::MS_I_VERSION),
    ("lazytime", false, libc::MS_LAZYTIME),
    ("loud", true, libc::MS_SILENT),
    ("mand", false, libc::MS_MANDLOCK),
    ("noatime", false, libc::MS_NOATIME),
    ("nodev", false, libc::MS_NODEV),
    ("nodiratime", false, libc::MS_NODIRATIME),
    ("noexec", false, libc::MS_NOEXEC),
    ("noiversion", true, libc::MS_I_VERSION),
    ("nolazytime", true, libc::MS_LAZYTIME),
    ("nomand", true, libc::MS_MANDLOCK),
    ("norelatime", true, libc::MS_RELATIME),
    ("nostrictatime", true, libc::MS_STRICTATIME),
    ("nosuid", false, libc::MS_NOSUID),
    ("nosymfollow", false, MS_NOSYMFOLLOW),
    ("relatime", false, libc::MS_RELATIME),
    ("remount", false, libc::MS_REMOUNT),
    ("ro", false, libc::MS_RDONLY),
    ("rw", true, libc::MS_RDONLY),
    ("silent", false, libc::MS_SILENT),
    ("strictatime", false, libc::MS_STRICTATIME),
    ("suid", true, libc::MS_NOSUID),
    ("symfollow", true, MS_NOSYMFOLLOW),
    ("sync", false, libc::MS_SYNCHRONOUS),
];

pub const MS_NOSYMFOLLOW: c_ulong = 256;

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The access-time setting is one field of these bits, not independent flags.
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
const MOUNT_ATTR_RELATIME: u64 = 0x0;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x20_0000;

/// runc's recursive options (mount_setattr(2) with AT_RECURSIVE on the mount and everything
/// below it): (name, clears the attribute instead of setting it, attribute).
const RECURSIVE: &[(&str, bool, u64)] = &[
    ("rro", false, MOUNT_ATTR_RDONLY),
    ("rrw", true, MOUNT_ATTR_RDONLY),
    ("rnosuid", false, MOUNT_ATTR_NOSUID),
    ("rsuid", true, MOUNT_ATTR_NOSUID),
    ("rnodev", false, MOUNT_ATTR_NODEV),
    ("rdev", true, MOUNT_ATTR_NODEV),
    ("rnoexec", false, MOUNT_ATTR_NOEXEC),
    ("rexec", true, MOUNT_ATTR_NOEXEC),
    ("rnodiratime", false, MOUNT_ATTR_NODIRATIME),
    ("rdiratime", true, MOUNT_ATTR_NODIRATIME),
    ("rrelatime", false, MOUNT_ATTR_RELATIME),
    ("rnorelatime", true, MOUNT_ATTR_RELATIME),
    ("rnoatime", false, MOUNT_ATTR_NOATIME),
    ("ratime", true, MOUNT_ATTR_NOATIME),
    ("rstrictatime", false, MOUNT_ATTR_STRICTATIME),
    ("rnostrictatime", true, MOUNT_ATTR_STRICTATIME),
    ("rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW),
    ("rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW),
];

/// The propagation flag named by a mount option or `linux.rootfsPropagation`.
pub fn propagation_flag(name: &str) -> Option<c_ulong> {
    Some(match name {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ParsedOptions {
    pub flags: c_ulong,
    pub propagation: Vec<c_ulong>,
    pub data: String,
    pub bind: bool,
    /// mount_setattr attributes to set and clear recursively (`rro`, `rnosuid`…); both 0: none.
    pub rec_attr_set: u64,
    pub rec_attr_clr: u64,
}

pub fn parse(options: &[String]) -> ParsedOptions {
    let mut p = ParsedOptions::default();
    let mut data = Vec::new();
    for o in options {
        if o == "bind" {
            p.bind = true;
            p.flags |= libc::MS_BIND;
        } else if o == "rbind" {
            p.bind = true;
            p.flags |= libc::MS_BIND | libc::MS_REC;
        } else if let Some(f) = propagation_flag(o) {
            p.propagation.push(f);
        } else if let Some((_, clear, f)) = FLAGS.iter().find(|(n, _, _)| n == o) {
            if *clear { p.flags &= !f } else { p.flags |= f }
        } else if let Some((_, clear, a)) = RECURSIVE.iter().find(|(n, _, _)| n == o) {
            if *clear {
                p.rec_attr_clr |= a;
            } else {
                p.rec_attr_set |= a;
                // An access-time choice replaces the whole atime field (mount_setattr(2)).
                if a & MOUNT_ATTR__ATIME == *a {
                    p.rec_attr_clr |= MOUNT_ATTR__ATIME;
                }
            }
        } else if o == "tmpcopyup" || o == "idmap" || o == "ridmap" {
            // Options runc understands that change nothing the kernel sees here.
        } else {
            data.push(o.as_str());
        }
    }
    p.data = data.join(",");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_propagation_and_data() {
        let o: Vec<String> = ["nosuid", "strictatime", "mode=755", "size=65536k", "rprivate", "ro", "rw"]
            .iter().map(|s| s.to_string()).collect();
        let p = parse(&o);
        assert_eq!(p.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(p.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
        assert_eq!(p.data, "mode=755,size=65536k");
        assert!(!p.bind);
        let b = parse(&["rbind".to_string(), "ro".to_string()]);
        assert!(b.bind);
        assert_eq!(b.flags, libc::MS_BIND | libc::MS_REC | libc::MS_RDONLY);
        let r = parse(&["rbind".to_string(), "rro".to_string(), "rnoatime".to_string(), "rsuid".to_string()]);
        assert_eq!((r.rec_attr_set, r.rec_attr_clr, r.data.as_str()), (0x1 | 0x10, MOUNT_ATTR__ATIME | 0x2, ""));
    }
}
