//! The container's root filesystem: mounts in spec order, /dev, pivot_root, masked and
//! read-only paths. Planning (allocating) happens in the parent; `setup` runs in the init child.

mod options;
mod setup;

pub use options::{parse as parse_options, propagation_flag, ParsedOptions};
pub use setup::{finish_rootfs, prepare_rootfs, protect_paths, readonly_root};

use libc::c_ulong;
use std::ffi::CString;
use std::path::Path;

use crate::error::{Error, Result};
use crate::spec::{Mount, Spec};
use crate::util::cstring;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    /// Anything mount(2) takes directly (proc, tmpfs, devpts, mqueue, binds…).
    Plain,
    /// sysfs: falls back to an rbind of the host's /sys where a user namespace forbids a new one.
    Sysfs,
    /// A tmpfs at the destination with one bind (or cgroupns mount) per hierarchy below it.
    CgroupV1,
    /// cgroup2 mounted directly (in a cgroup namespace) or the container's dir bound.
    Cgroup2,
}

/// One mount, ready for the child: everything pre-built as C strings.
#[derive(Debug)]
pub struct MountStep {
    pub kind: MountKind,
    /// Destination inside the rootfs, relative to it (no leading `/`).
    pub dest: CString,
    pub source: CString,
    pub fstype: CString,
    pub flags: c_ulong,
    pub data: CString,
    pub propagation: Vec<c_ulong>,
    /// Bind mounts apply ro/nosuid/… with a second, remounting call.
    pub remount_flags: Option<c_ulong>,
    /// Recursive attributes (`rro`, `rnosuid`…) set and cleared with mount_setattr(AT_RECURSIVE).
    pub rec_attr_set: u64,
    pub rec_attr_clr: u64,
    /// Create the destination as a file (bind of a non-directory) rather than a directory.
    pub dest_is_file: bool,
    /// For cgroup mounts: (subdir name, source, fstype, data) per hierarchy.
    pub cgroup_parts: Vec<CgroupPart>,
    /// How errors describe the mount, e.g. `proc to /proc`.
    pub describe: String,
}

#[derive(Debug)]
pub struct CgroupPart {
    /// Flags of the cgroup mount (nosuid, nodev, noexec, ro…) that a bind gets by remounting.
    pub remount_flags: c_ulong,
    pub name: CString,
    pub source: CString,
    pub fstype: CString,
    pub flags: c_ulong,
    pub data: CString,
    pub bind: bool,
}

/// A device node to create in the container's /dev.
#[derive(Debug)]
pub struct DeviceStep {
    /// Path relative to the rootfs, e.g. `dev/null`.
    pub path: CString,
    /// The host node to bind when mknod is not allowed (user namespace).
    pub host_path: CString,
    pub mode: u32,
    pub dev: libc::dev_t,
    pub uid: u32,
    pub gid: u32,
    pub describe: String,
}

#[derive(Debug)]
pub struct RootfsPlan {
    pub rootfs: CString,
    pub root_propagation: c_ulong,
    /// Propagation to apply to `/` again after pivot_root (shared cannot be pivoted).
    pub root_propagation_after: Option<c_ulong>,
    /// The mount the rootfs lives on, made private when `/` is shared so that pivot_root works
    /// and nothing leaks back (None otherwise: a slave rootfs must stay its master's slave).
    pub rootfs_parent_mount: Option<CString>,
    pub mounts: Vec<MountStep>,
    pub setup_dev: bool,
    pub devices: Vec<DeviceStep>,
    pub bind_devices: bool,
    pub cwd: CString,
    pub no_pivot: bool,
    pub readonly_root: bool,
    pub masked: Vec<CString>,
    pub readonly: Vec<CString>,
    pub console: bool,
}

/// A cgroup hierarchy as the host mounts it, for the container's `/sys/fs/cgroup`.
#[derive(Debug, Clone)]
pub struct HostHierarchy {
    /// Directory name under /sys/fs/cgroup, e.g. `memory`, `cpu,cpuacct`, `unified`.
    pub name: String,
    pub fstype: String,
    /// Super options to mount a fresh view in a cgroup namespace (`memory`, `name=systemd`).
    pub options: String,
    /// The container's own cgroup dir in that hierarchy, on the host.
    pub container_dir: String,
}

pub struct PlanInput<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub userns: bool,
    pub cgroupns: bool,
    pub no_pivot: bool,
    pub hierarchies: &'a [HostHierarchy],
}

const DEFAULT_DEVICES: &[(&str, u32, u32)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

fn rel(dest: &str) -> String {
    let t = dest.trim_start_matches('/');
    if t.is_empty() { ".".to_string() } else { t.to_string() }
}

pub fn plan(input: &PlanInput) -> Result<RootfsPlan> {
    let spec = input.spec;
    let linux = spec.linux();
    let process = spec.process.as_ref().ok_or_else(|| Error::spec("process", "missing"))?;
    // Before pivot_root the requested propagation goes on recursively (so nothing we mount can
    // leak to the host through a non-recursive choice), except unbindable, which would forbid
    // the rootfs bind; the exact choice is applied to the new `/` after pivot_root.
    let (root_propagation, after) = match linux.rootfs_propagation.as_deref() {
        None | Some("") => (libc::MS_SLAVE | libc::MS_REC, None),
        Some(p) => {
            let f = propagation_flag(p).ok_or_else(|| Error::spec("linux.rootfsPropagation", format!("invalid {p:?}")))?;
            let pre = if f & libc::MS_UNBINDABLE != 0 { libc::MS_PRIVATE } else { f & !libc::MS_REC };
            (pre | libc::MS_REC, Some(f))
        }
    };
    let mut mounts = Vec::with_capacity(spec.mounts.len());
    let mut setup_dev = true;
    for (i, m) in spec.mounts.iter().enumerate() {
        let step = plan_mount(i, m, input)?;
        if m.destination.trim_end_matches('/') == "/dev" && step.flags & libc::MS_BIND != 0 {
            setup_dev = false;
        }
        mounts.push(step);
    }
    let mut devices = Vec::new();
    if setup_dev {
        for (p, maj, min) in DEFAULT_DEVICES {
            if linux.devices.iter().any(|d| d.path == *p) {
                continue;
            }
            devices.push(DeviceStep {
                path: cstring(rel(p))?,
                host_path: cstring(p)?,
                mode: libc::S_IFCHR | 0o666,
                dev: libc::makedev(*maj, *min),
                uid: 0,
                gid: 0,
                describe: p.to_string(),
            });
        }
    }
    for (i, d) in linux.devices.iter().enumerate() {
        let kind = match d.typ.as_str() {
            "c" | "u" => libc::S_IFCHR,
            "b" => libc::S_IFBLK,
            "p" => libc::S_IFIFO,
            t => return Err(Error::spec(format!("linux.devices[{i}].type"), format!("invalid {t:?}"))),
        };
        devices.push(DeviceStep {
            path: cstring(rel(&d.path))?,
            host_path: cstring(&d.path)?,
            mode: kind | (d.file_mode.unwrap_or(0o666) & 0o7777),
            dev: libc::makedev(d.major as u32, d.minor as u32),
            uid: d.uid.unwrap_or(0),
            gid: d.gid.unwrap_or(0),
            describe: d.path.clone(),
        });
    }
    let root = spec.root.as_ref().ok_or_else(|| Error::spec("root", "missing"))?;
    Ok(RootfsPlan {
        rootfs: cstring(input.rootfs)?,
        root_propagation,
        root_propagation_after: after,
        rootfs_parent_mount: if root_propagation & libc::MS_SHARED != 0 { Some(cstring(mount_point_of(input.rootfs))?) } else { None },
        mounts,
        setup_dev,
        devices,
        bind_devices: input.userns,
        cwd: cstring(rel(&process.cwd))?,
        no_pivot: input.no_pivot,
        readonly_root: root.readonly,
        masked: linux.masked_paths.iter().map(|p| cstring(rel(p))).collect::<Result<_>>()?,
        readonly: linux.readonly_paths.iter().map(|p| cstring(rel(p))).collect::<Result<_>>()?,
        console: process.terminal,
    })
}

/// Unescapes mountinfo's octal escapes (`\040` for a space).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount point (from /proc/self/mountinfo) that contains `path`: the longest prefix.
pub fn mount_point_of(path: &Path) -> String {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4).map(unescape_mountinfo))
        .filter(|mp| path.starts_with(mp))
        .max_by_key(|mp| mp.len())
        .unwrap_or_else(|| "/".to_string())
}

fn plan_mount(i: usize, m: &Mount, input: &PlanInput) -> Result<MountStep> {
    let field = format!("mounts[{i}]");
    if !m.destination.starts_with('/') {
        // runc accepts relative destinations as relative to the rootfs; so do we.
    }
    if m.destination.split('/').any(|c| c == "..") {
        // `..` is confined by the in-root resolution anyway; reject it early for a clear message.
        return Err(Error::spec(format!("{field}.destination"), format!("{:?} contains \"..\"", m.destination)));
    }
    let opts = parse_options(&m.options);
    let typ = m.typ.clone().unwrap_or_default();
    let is_bind = opts.bind || typ == "bind";
    let mut source = m.source.clone().unwrap_or_default();
    if is_bind && !source.is_empty() && !source.starts_with('/') {
        source = input.bundle.join(&source).display().to_string();
    }
    let mut flags = opts.flags;
    let mut remount_flags = None;
    let mut dest_is_file = false;
    if is_bind {
        flags |= libc::MS_BIND;
        let meta = std::fs::metadata(&source)
            .map_err(|e| Error::io("stat bind mount source", format!("{field}.source {source}"), e))?;
        dest_is_file = !meta.is_dir();
        let extra = flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if extra != 0 {
            remount_flags = Some(extra | libc::MS_BIND | libc::MS_REMOUNT);
        }
        flags &= libc::MS_BIND | libc::MS_REC;
    }
    let kind = match typ.as_str() {
        "sysfs" => MountKind::Sysfs,
        "cgroup" | "cgroup2" if !is_bind => {
            if input.hierarchies.iter().any(|h| h.fstype == "cgroup") { MountKind::CgroupV1 } else { MountKind::Cgroup2 }
        }
        _ => MountKind::Plain,
    };
    let mut cgroup_parts = Vec::new();
    match kind {
        MountKind::CgroupV1 => {
            for h in input.hierarchies {
                let ns_mount = input.cgroupns;
                cgroup_parts.push(CgroupPart {
                    remount_flags: flags | libc::MS_BIND | libc::MS_REMOUNT,
                    name: cstring(&h.name)?,
                    source: cstring(if ns_mount { h.fstype.as_str() } else { h.container_dir.as_str() })?,
                    fstype: cstring(if ns_mount { h.fstype.as_str() } else { "" })?,
                    flags: if ns_mount { flags } else { libc::MS_BIND | libc::MS_REC },
                    data: cstring(if ns_mount { h.options.as_str() } else { "" })?,
                    bind: !ns_mount,
                });
            }
        }
        MountKind::Cgroup2 if !input.cgroupns => {
            if let Some(h) = input.hierarchies.iter().find(|h| h.fstype == "cgroup2") {
                source = h.container_dir.clone();
                remount_flags = Some(flags | libc::MS_BIND | libc::MS_REMOUNT);
                flags = libc::MS_BIND | libc::MS_REC;
            }
        }
        _ => {}
    }
    let fstype = if is_bind { String::new() } else if kind == MountKind::Cgroup2 && flags & libc::MS_BIND == 0 { "cgroup2".into() } else { typ.clone() };
    Ok(MountStep {
        kind,
        dest: cstring(rel(&m.destination))?,
        source: cstring(&source)?,
        fstype: cstring(&fstype)?,
        flags,
        data: cstring(&opts.data)?,
        propagation: opts.propagation,
        remount_flags,
        rec_attr_set: opts.rec_attr_set,
        rec_attr_clr: opts.rec_attr_clr,
        dest_is_file,
        cgroup_parts,
        describe: format!("{} ({}) to {}", if source.is_empty() { "none" } else { source.as_str() }, if typ.is_empty() { "bind" } else { typ.as_str() }, m.destination),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_mount_holding_a_path() {
        assert_eq!(mount_point_of(Path::new("/proc/self")), "/proc");
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
    }
}
