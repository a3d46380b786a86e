//! Resolving linux.cgroupsPath to one directory per hierarchy, as runc's fs and fs2 drivers do:
//! an absolute path hangs off each hierarchy's mount, a relative one (default: the container id)
//! off the creating process's own cgroup (on pure v2: its parent, which has no processes in it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::mountinfo::{CgroupMount, CgroupMounts, OwnCgroups};
use super::Hierarchy;
use crate::error::{Error, Result};

/// The directories a container's cgroup occupies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedDirs {
    pub v1: BTreeMap<String, PathBuf>,
    pub unified: Option<PathBuf>,
}

/// The cleaned path: whether it was absolute, and its components joined by '/' (no leading '/').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerPath {
    pub absolute: bool,
    pub relative: String,
}

/// Lexically cleans a cgroup path; `..` that would climb above where the path starts is an error.
pub fn clean(path: &str, field: &str) -> Result<InnerPath> {
    if path.contains('\0') {
        return Err(Error::spec(field, format!("{path:?} contains a NUL byte")));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::spec(field, format!("{path:?} escapes its cgroup root with \"..\"")));
                }
            }
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(Error::spec(field, format!("{path:?} does not name a cgroup below the root")));
    }
    Ok(InnerPath { absolute: path.starts_with('/'), relative: parts.join("/") })
}

/// The cleaned cgroup path for a container: `cgroups_path` if given and non-empty, else its id.
pub fn inner_path(cgroups_path: Option<&str>, id: &str) -> Result<InnerPath> {
    match cgroups_path.filter(|p| !p.is_empty()) {
        Some(path) => clean(path, "linux.cgroupsPath"),
        None => {
            let inner = clean(id, "id")?;
            Ok(InnerPath { absolute: false, ..inner })
        }
    }
}

/// Resolves `inner` against the mounts; `own` (the creator's /proc/self/cgroup) is needed only for
/// a relative path.
pub fn resolve_dirs(mounts: &CgroupMounts, own: Option<&OwnCgroups>, inner: &InnerPath) -> Result<ResolvedDirs> {
    if mounts.v1.is_empty() && mounts.unified.is_none() {
        return Err(Error::Other("no cgroup hierarchy is mounted (see /proc/self/mountinfo)".into()));
    }
    let empty = OwnCgroups::default();
    let own = own.unwrap_or(&empty);
    let mut dirs = ResolvedDirs::default();
    for (controller, mount) in &mounts.v1 {
        let base = if inner.absolute {
            mount.mountpoint.clone()
        } else {
            own_dir(mount, own.v1.get(controller).map(String::as_str).unwrap_or("/"))
        };
        dirs.v1.insert(controller.clone(), base.join(&inner.relative));
    }
    if let Some(mount) = &mounts.unified {
        let base = if inner.absolute {
            mount.mountpoint.clone()
        } else {
            let own_path = own.unified.as_deref().unwrap_or("/");
            // runc's fs2: our own cgroup most likely has processes, so no controllers could be
            // enabled below it; hybrid (runc's fs) just joins the same relative path.
            let own_path = match mounts.hierarchy() {
                Hierarchy::V2 => Path::new(own_path).parent().and_then(Path::to_str).unwrap_or("/"),
                _ => own_path,
            };
            own_dir(mount, own_path)
        };
        dirs.unified = Some(base.join(&inner.relative));
    }
    Ok(dirs)
}

/// The directory of cgroup `own_path` under `mount`, whose root may itself be a sub-cgroup.
fn own_dir(mount: &CgroupMount, own_path: &str) -> PathBuf {
    let root = mount.root.trim_end_matches('/');
    let rel = match own_path.strip_prefix(root) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => own_path,
    };
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        mount.mountpoint.clone()
    } else {
        mount.mountpoint.join(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::mountinfo::{parse_mountinfo, parse_proc_cgroup};

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const V1: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
";
    const V2: &str = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

    fn dirs(mountinfo: &str, own: &str, path: Option<&str>, id: &str) -> Result<ResolvedDirs> {
        let inner = inner_path(path, id)?;
        resolve_dirs(&parse_mountinfo(mountinfo), Some(&parse_proc_cgroup(own)), &inner)
    }

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn absolute_path_hangs_off_every_mount() {
        let d = dirs(HYBRID, "4:memory:/m\n0::/u\n", Some("/husk/./c1"), "ignored").unwrap();
        assert_eq!(d.v1["cpu"], p("/sys/fs/cgroup/cpu/husk/c1"));
        assert_eq!(d.v1["cpuacct"], p("/sys/fs/cgroup/cpuacct/husk/c1"));
        assert_eq!(d.v1["memory"], p("/sys/fs/cgroup/memory/husk/c1"));
        assert_eq!(d.v1["name=systemd"], p("/sys/fs/cgroup/systemd/husk/c1"));
        assert_eq!(d.unified, Some(p("/sys/fs/cgroup/unified/husk/c1")));
        let d = dirs(V2, "0::/user.slice/s.scope\n", Some("/a/b"), "x").unwrap();
        assert_eq!(d.unified, Some(p("/sys/fs/cgroup/a/b")));
        assert!(d.v1.is_empty());
    }

    #[test]
    fn relative_path_hangs_off_own_cgroup() {
        let own = "5:cpu:/\n6:cpuacct:/\n4:memory:/process_api/x\n9:name=systemd:/\n0::/\n";
        let d = dirs(HYBRID, own, Some("pods/c1"), "c1").unwrap();
        assert_eq!(d.v1["memory"], p("/sys/fs/cgroup/memory/process_api/x/pods/c1"));
        assert_eq!(d.v1["cpu"], p("/sys/fs/cgroup/cpu/pods/c1"));
        assert_eq!(d.unified, Some(p("/sys/fs/cgroup/unified/pods/c1")));
    }

    #[test]
    fn default_is_the_id_relative_to_own_cgroup() {
        // Pure v2 uses the parent of our own cgroup; a v1 mount root that is a sub-cgroup is stripped.
        let d = dirs(V2, "0::/user.slice/session-1.scope\n", None, "c1").unwrap();
        assert_eq!(d.unified, Some(p("/sys/fs/cgroup/user.slice/c1")));
        let d = dirs(V2, "0::/\n", Some(""), "c1").unwrap();
        assert_eq!(d.unified, Some(p("/sys/fs/cgroup/c1")));
        let d = dirs(V1, "3:memory:/docker/abc/inner\n2:cpu,cpuacct:/\n", None, "c1").unwrap();
        assert_eq!(d.v1["memory"], p("/sys/fs/cgroup/memory/inner/c1"));
        assert_eq!(d.v1["cpu"], p("/sys/fs/cgroup/cpu,cpuacct/c1"));
        assert_eq!(d.v1["cpu"], d.v1["cpuacct"]);
        assert_eq!(d.unified, None);
    }

    #[test]
    fn dot_dot_escapes_are_rejected() {
        for bad in ["../x", "/../x", "a/../../x", "/a/b/../../..", "/", "./.", "a\0b"] {
            assert!(dirs(HYBRID, "0::/\n", Some(bad), "c").is_err(), "{bad:?} accepted");
        }
        assert!(dirs(HYBRID, "0::/\n", None, "..").is_err());
        assert!(dirs(HYBRID, "0::/\n", None, "a/../..").is_err());
        let d = dirs(HYBRID, "0::/\n", Some("/a/x/../b"), "c").unwrap();
        assert_eq!(d.unified, Some(p("/sys/fs/cgroup/unified/a/b")));
    }

    #[test]
    fn nothing_mounted_is_an_error() {
        assert!(dirs("1 0 0:1 / / rw - ext4 /dev/vda rw\n", "0::/\n", None, "c").is_err());
    }
}
