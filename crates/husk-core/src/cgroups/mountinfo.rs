//! Where the cgroup hierarchies are mounted (/proc/self/mountinfo, read once per process) and
//! which cgroup a process is in (/proc/self/cgroup).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use super::Hierarchy;

/// v1 controllers husk places containers in; anything else on a v1 mount is a mount option.
const V1_CONTROLLERS: &[&str] = &[
    "cpuset",
    "cpu",
    "cpuacct",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "rdma",
    "misc",
];

/// The named v1 hierarchy runc joins besides the controllers.
pub const SYSTEMD_NAME: &str = "name=systemd";

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    pub mountpoint: PathBuf,
    /// The cgroup of the hierarchy shown at the mount point (4th mountinfo field, usually "/").
    pub root: String,
}

/// Every cgroup hierarchy mounted in this mount namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupMounts {
    /// v1 controller (or "name=systemd") -> its hierarchy; co-mounted controllers share one mount.
    pub v1: BTreeMap<String, CgroupMount>,
    pub unified: Option<CgroupMount>,
}

impl CgroupMounts {
    pub fn hierarchy(&self) -> Hierarchy {
        match (self.v1.is_empty(), self.unified.is_some()) {
            (false, true) => Hierarchy::Hybrid,
            (true, true) => Hierarchy::V2,
            _ => Hierarchy::V1,
        }
    }
}

/// The cgroup mounts of this process, parsed from /proc/self/mountinfo on first use.
pub fn mounts() -> &'static CgroupMounts {
    static MOUNTS: OnceLock<CgroupMounts> = OnceLock::new();
    MOUNTS.get_or_init(|| {
        std::fs::read_to_string("/proc/self/mountinfo").map(|text| parse_mountinfo(&text)).unwrap_or_default()
    })
}

/// Parses mountinfo text, keeping only cgroup and cgroup2 mounts (the first mount of each wins).
pub fn parse_mountinfo(text: &str) -> CgroupMounts {
    let mut mounts = CgroupMounts::default();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let mut right = right.split(' ');
        let fstype = right.next().unwrap_or("");
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let _source = right.next();
        let super_options = right.next().unwrap_or("");
        let fields: Vec<&str> = left.split(' ').collect();
        if fields.len() < 5 {
            continue;
        }
        let mount = CgroupMount { mountpoint: PathBuf::from(unescape(fields[4])), root: unescape(fields[3]) };
        if fstype == "cgroup2" {
            mounts.unified.get_or_insert(mount);
            continue;
        }
        for option in super_options.split(',') {
            if V1_CONTROLLERS.contains(&option) || option == SYSTEMD_NAME {
                mounts.v1.entry(option.to_string()).or_insert_with(|| mount.clone());
            }
        }
    }
    mounts
}

/// Undoes mountinfo's octal escapes (`\040` for a space and so on).
fn unescape(field: &str) -> String {
    if !field.contains('\\') {
        return field.to_string();
    }
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A process's cgroup per hierarchy, from /proc/PID/cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnCgroups {
    /// v1 controller (or "name=systemd") -> cgroup path inside that hierarchy.
    pub v1: BTreeMap<String, String>,
    /// The "0::" line: the cgroup in the unified hierarchy.
    pub unified: Option<String>,
}

pub fn parse_proc_cgroup(text: &str) -> OwnCgroups {
    let mut own = OwnCgroups::default();
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            own.unified = Some(path.to_string());
            continue;
        }
        for controller in controllers.split(',') {
            own.v1.insert(controller.to_string(), path.to_string());
        }
    }
    own
}

pub fn own_cgroups() -> std::io::Result<OwnCgroups> {
    super::files::read_path(std::path::Path::new("/proc/self/cgroup")).map(|text| parse_proc_cgroup(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate
";

    #[test]
    fn parses_hybrid_mounts_with_separate_cpu_and_cpuacct() {
        let m = parse_mountinfo(HYBRID);
        assert_eq!(m.hierarchy(), Hierarchy::Hybrid);
        assert_eq!(m.v1["cpu"].mountpoint, PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(m.v1["cpuacct"].mountpoint, PathBuf::from("/sys/fs/cgroup/cpuacct"));
        assert_eq!(m.v1[SYSTEMD_NAME].mountpoint, PathBuf::from("/sys/fs/cgroup/systemd"));
        assert!(!m.v1.contains_key("xattr"));
        assert_eq!(m.unified.unwrap().mountpoint, PathBuf::from("/sys/fs/cgroup/unified"));
    }

    #[test]
    fn parses_comounted_v1_and_pure_v2() {
        let v1 = parse_mountinfo(
            "1 0 0:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             2 0 0:2 /sub /mnt/my\\040cg rw - cgroup cgroup rw,memory\n",
        );
        assert_eq!(v1.hierarchy(), Hierarchy::V1);
        assert_eq!(v1.v1["cpu"], v1.v1["cpuacct"]);
        assert_eq!(v1.v1["memory"].mountpoint, PathBuf::from("/mnt/my cg"));
        assert_eq!(v1.v1["memory"].root, "/sub");
        let v2 = parse_mountinfo("9 1 0:9 / /sys/fs/cgroup rw shared:4 - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(v2.hierarchy(), Hierarchy::V2);
        assert!(v2.v1.is_empty());
    }

    #[test]
    fn parses_proc_cgroup() {
        let own = parse_proc_cgroup("4:memory:/a/b\n1:cpu,cpuacct:/\n9:name=systemd:/s\n0::/u\n");
        assert_eq!(own.v1["memory"], "/a/b");
        assert_eq!(own.v1["cpuacct"], "/");
        assert_eq!(own.v1[SYSTEMD_NAME], "/s");
        assert_eq!(own.unified.as_deref(), Some("/u"));
    }
}
