//! The init child's half of the rootfs: raw syscalls over the pre-built plan, nothing allocated.
//! Every path inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT) and used through its
//! /proc/self/fd link, so a symlink planted in the image cannot send a mount outside the rootfs.

use libc::{c_char, c_int, c_ulong};
use std::ffi::CStr;
use std::ptr;

use super::{MountKind, MountStep, RootfsPlan};
use crate::process::fail::{ChildResult, Fail, Step};
use crate::process::CgroupNeed;
use crate::util::{errno, openat2, CPathBuf, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS};

fn nul_or(s: &CStr) -> *const c_char {
    if s.to_bytes().is_empty() { ptr::null() } else { s.as_ptr() }
}

fn close(fd: c_int) {
    // SAFETY: closing an fd this module opened.
    unsafe { libc::close(fd) };
}

/// Opens `path` inside the root `rootfd` (confined). Errors are errno values.
fn open_in_root(rootfd: c_int, path: &CStr, flags: c_int) -> Result<c_int, i32> {
    let fd = openat2(rootfd, path, flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if fd < 0 { Err(-fd) } else { Ok(fd) }
}

/// mkdir -p inside the root, one confined component at a time.
fn mkdir_all_in_root(rootfd: c_int, path: &[u8], mode: u32) -> Result<(), i32> {
    let mut prefix = CPathBuf::new();
    let mut name = CPathBuf::new();
    let mut start = 0;
    let len = path.len();
    loop {
        while start < len && path[start] == b'/' {
            start += 1;
        }
        if start >= len {
            return Ok(());
        }
        let mut end = start;
        while end < len && path[end] != b'/' {
            end += 1;
        }
        prefix.clear();
        prefix.push_bytes(&path[..end]);
        match open_in_root(rootfd, prefix.as_cstr(), libc::O_PATH | libc::O_DIRECTORY) {
            Ok(fd) => close(fd),
            Err(libc::ENOENT) => {
                let parent = if start == 0 {
                    // SAFETY: dup of a valid fd.
                    unsafe { libc::fcntl(rootfd, libc::F_DUPFD_CLOEXEC, 0) }
                } else {
                    prefix.clear();
                    prefix.push_bytes(&path[..start]);
                    open_in_root(rootfd, prefix.as_cstr(), libc::O_PATH | libc::O_DIRECTORY)?
                };
                name.clear();
                name.push_bytes(&path[start..end]);
                // SAFETY: mkdirat relative to a directory fd this function owns.
                let r = unsafe { libc::mkdirat(parent, name.as_ptr(), mode) };
                let e = errno();
                close(parent);
                if r != 0 && e != libc::EEXIST {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
        start = end;
    }
}

/// When the parent of `path` exists: mkdir its last component and open it (O_PATH, beneath the
/// parent, no symlinks followed). None when the parent is missing or anything else goes wrong.
fn mkdir_last_in_root(rootfd: c_int, path: &[u8]) -> Option<c_int> {
    let trimmed = &path[..path.iter().rposition(|&b| b != b'/')? + 1];
    let cut = trimmed.iter().rposition(|&b| b == b'/');
    let (dir, name) = match cut { Some(i) => (&trimmed[..i], &trimmed[i + 1..]), None => (&b""[..], trimmed) };
    if name.is_empty() || name == b"." || name == b".." {
        return None;
    }
    let mut d = CPathBuf::new();
    d.push_bytes(if dir.is_empty() { b"." } else { dir });
    let pfd = open_in_root(rootfd, d.as_cstr(), libc::O_PATH | libc::O_DIRECTORY).ok()?;
    let mut n = CPathBuf::new();
    n.push_bytes(name);
    // SAFETY: mkdirat relative to a directory fd owned here; the name has no '/'.
    let made = unsafe { libc::mkdirat(pfd, n.as_ptr(), 0o755) } == 0 || errno() == libc::EEXIST;
    let fd = if made { openat2(pfd, n.as_cstr(), libc::O_PATH, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) } else { -1 };
    close(pfd);
    (fd >= 0).then_some(fd)
}

/// Makes sure `path` exists inside the root (a directory, or an empty file) and opens it O_PATH.
fn ensure_in_root(rootfd: c_int, path: &CStr, is_file: bool) -> Result<c_int, i32> {
    match open_in_root(rootfd, path, libc::O_PATH) {
        Ok(fd) => return Ok(fd),
        Err(libc::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let bytes = path.to_bytes();
    if !is_file {
        // Most often only the last component is missing (dev/pts under a fresh /dev tmpfs):
        // create it under its opened parent, without walking the whole path again.
        if let Some(fd) = mkdir_last_in_root(rootfd, bytes) {
            return Ok(fd);
        }
        mkdir_all_in_root(rootfd, bytes, 0o755)?;
    } else {
        let cut = bytes.iter().rposition(|&b| b == b'/');
        let (dir, name) = match cut { Some(i) => (&bytes[..i], &bytes[i + 1..]), None => (&b""[..], bytes) };
        mkdir_all_in_root(rootfd, dir, 0o755)?;
        let mut d = CPathBuf::new();
        d.push_bytes(if dir.is_empty() { b"." } else { dir });
        let pfd = open_in_root(rootfd, d.as_cstr(), libc::O_PATH | libc::O_DIRECTORY)?;
        let mut n = CPathBuf::new();
        n.push_bytes(name);
        // SAFETY: openat relative to a directory fd; O_NOFOLLOW so a dangling symlink is not created through.
        let fd = unsafe {
            libc::openat(pfd, n.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0o644)
        };
        let e = errno();
        close(pfd);
        if fd >= 0 {
            close(fd);
        } else if e != libc::EEXIST {
            return Err(e);
        }
    }
    open_in_root(rootfd, path, libc::O_PATH)
}

fn mount_raw(src: *const c_char, target: *const c_char, fstype: *const c_char, flags: c_ulong, data: *const c_char) -> Result<(), i32> {
    // SAFETY: all pointers are NUL-terminated C strings or null.
    let r = unsafe { libc::mount(src, target, fstype, flags, data as *const libc::c_void) };
    if r == 0 { Ok(()) } else { Err(errno()) }
}

/// mount(2) onto an fd's /proc/self/fd link.
fn mount_on_fd(src: *const c_char, fd: c_int, fstype: *const c_char, flags: c_ulong, data: *const c_char) -> Result<(), i32> {
    let target = CPathBuf::proc_fd(fd);
    mount_raw(src, target.as_ptr(), fstype, flags, data)
}

/// Flags a bind remount must keep because the kernel locks them (nosuid/nodev/noexec/atime in a userns).
fn locked_flags(fd: c_int) -> c_ulong {
    // SAFETY: zeroed statvfs is a valid out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fstatvfs on a valid fd.
    if unsafe { libc::fstatvfs(fd, &mut st) } != 0 {
        return 0;
    }
    let mut f = 0;
    for (st_flag, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st.f_flag & st_flag != 0 {
            f |= ms;
        }
    }
    f
}

/// Remounts the mount at the (re-resolved) path with `flags`, retrying with locked flags kept.
fn remount(rootfd: c_int, path: &CStr, flags: c_ulong) -> Result<(), i32> {
    let fd = open_in_root(rootfd, path, libc::O_PATH)?;
    let mut r = mount_on_fd(ptr::null(), fd, ptr::null(), flags, ptr::null());
    if r == Err(libc::EPERM) {
        r = mount_on_fd(ptr::null(), fd, ptr::null(), flags | locked_flags(fd), ptr::null());
    }
    close(fd);
    r
}

fn do_mount(rootfd: c_int, m: &MountStep, userns: bool) -> Result<(), (Step, i32)> {
    let fd = ensure_in_root(rootfd, &m.dest, m.dest_is_file).map_err(|e| (Step::MountDestination, e))?;
    let r = match m.kind {
        MountKind::CgroupV1 => mount_on_fd(c"tmpfs".as_ptr(), fd, c"tmpfs".as_ptr(), m.flags & !libc::MS_RDONLY, c"mode=755".as_ptr()),
        _ => mount_on_fd(nul_or(&m.source), fd, nul_or(&m.fstype), m.flags, nul_or(&m.data)),
    };
    let r = match r {
        // A user namespace that does not own the network namespace cannot mount sysfs: bind the host's.
        Err(libc::EPERM) if m.kind == MountKind::Sysfs && userns => {
            mount_on_fd(c"/sys".as_ptr(), fd, ptr::null(), libc::MS_BIND | libc::MS_REC, ptr::null())
                .and_then(|_| remount(rootfd, &m.dest, libc::MS_BIND | libc::MS_REMOUNT | (m.flags & libc::MS_RDONLY)))
        }
        r => r,
    };
    close(fd);
    r.map_err(|e| (Step::Mount, e))?;
    if m.kind == MountKind::CgroupV1 {
        let dirfd = open_in_root(rootfd, &m.dest, libc::O_PATH | libc::O_DIRECTORY).map_err(|e| (Step::Mount, e))?;
        // One recursive mount_setattr gives the tmpfs and every bind below it the cgroup mount's
        // flags, instead of a remount per hierarchy; older kernels take the remount path.
        let attr = mount_attr_of(m.flags);
        let mut batched = part_binds_only(m) && attr.is_some();
        for part in &m.cgroup_parts {
            // SAFETY: mkdirat relative to the tmpfs just mounted.
            unsafe { libc::mkdirat(dirfd, part.name.as_ptr(), 0o755) };
            // SAFETY: openat relative to a directory fd.
            let pfd = unsafe { libc::openat(dirfd, part.name.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
            if pfd < 0 {
                close(dirfd);
                return Err((Step::Mount, errno()));
            }
            let mut r = mount_on_fd(part.source.as_ptr(), pfd, nul_or(&part.fstype), part.flags, nul_or(&part.data));
            close(pfd);
            if r.is_ok() && part.bind && !batched {
                // SAFETY: as above; re-resolve so the remount hits the new mount.
                let nfd = unsafe { libc::openat(dirfd, part.name.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
                r = mount_on_fd(ptr::null(), nfd, ptr::null(), part.remount_flags | locked_flags(nfd), ptr::null());
                close(nfd);
            }
            if let Err(e) = r {
                close(dirfd);
                return Err((Step::Mount, e));
            }
        }
        close(dirfd);
        if batched {
            let fd = open_in_root(rootfd, &m.dest, libc::O_PATH | libc::O_DIRECTORY).map_err(|e| (Step::RemountBind, e))?;
            let r = mount_setattr_recursive(fd, attr.unwrap_or_default());
            close(fd);
            match r {
                Ok(()) => {}
                Err(libc::ENOSYS) => batched = false,
                Err(e) => return Err((Step::RemountBind, e)),
            }
            if !batched {
                // No mount_setattr: give each bind its flags the old way.
                for part in &m.cgroup_parts {
                    let mut sub = CPathBuf::new();
                    sub.push_bytes(m.dest.to_bytes()).push_bytes(b"/").push_bytes(part.name.to_bytes());
                    remount(rootfd, sub.as_cstr(), part.remount_flags).map_err(|e| (Step::RemountBind, e))?;
                }
            }
        }
        if !batched && m.flags & libc::MS_RDONLY != 0 {
            remount(rootfd, &m.dest, libc::MS_REMOUNT | libc::MS_RDONLY | (m.flags & !libc::MS_RDONLY)).map_err(|e| (Step::RemountBind, e))?;
        }
    }
    if let Some(f) = m.remount_flags {
        remount(rootfd, &m.dest, f).map_err(|e| (Step::RemountBind, e))?;
    }
    if m.rec_attr_set != 0 || m.rec_attr_clr != 0 {
        let attr = MountAttr { attr_set: m.rec_attr_set, attr_clr: m.rec_attr_clr, ..MountAttr::default() };
        let fd = open_in_root(rootfd, &m.dest, libc::O_PATH).map_err(|e| (Step::RemountBind, e))?;
        let r = mount_setattr_recursive(fd, attr);
        close(fd);
        r.map_err(|e| (Step::RemountBind, e))?;
    }
    for p in &m.propagation {
        let fd = open_in_root(rootfd, &m.dest, libc::O_PATH).map_err(|e| (Step::MountPropagation, e))?;
        let r = mount_on_fd(ptr::null(), fd, ptr::null(), *p, ptr::null());
        close(fd);
        r.map_err(|e| (Step::MountPropagation, e))?;
    }
    Ok(())
}

fn part_binds_only(m: &MountStep) -> bool {
    m.cgroup_parts.iter().all(|p| p.bind)
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
pub struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// The mount_setattr(2) form of MS_* flags; None when there is nothing to set.
fn mount_attr_of(flags: c_ulong) -> Option<MountAttr> {
    let mut a = MountAttr::default();
    for (ms, attr) in [(libc::MS_RDONLY, 0x1u64), (libc::MS_NOSUID, 0x2), (libc::MS_NODEV, 0x4), (libc::MS_NOEXEC, 0x8), (libc::MS_NODIRATIME, 0x80)] {
        if flags & ms != 0 {
            a.attr_set |= attr;
        }
    }
    let atime = if flags & libc::MS_NOATIME != 0 { Some(0x10) } else if flags & libc::MS_STRICTATIME != 0 { Some(0x20) } else if flags & libc::MS_RELATIME != 0 { Some(0) } else { None };
    if let Some(t) = atime {
        a.attr_clr |= 0x70; // MOUNT_ATTR__ATIME: the atime bits are one field
        a.attr_set |= t;
    }
    (a.attr_set != 0 || a.attr_clr != 0).then_some(a)
}

fn mount_setattr_recursive(fd: c_int, attr: MountAttr) -> Result<(), i32> {
    const SYS_MOUNT_SETATTR: libc::c_long = 442;
    // SAFETY: raw mount_setattr on an fd we own, with a kernel-layout struct.
    let r = unsafe {
        libc::syscall(SYS_MOUNT_SETATTR, fd, c"".as_ptr(), libc::AT_EMPTY_PATH | 0x8000 /* AT_RECURSIVE */, &attr as *const MountAttr, std::mem::size_of::<MountAttr>())
    };
    if r == 0 { Ok(()) } else { Err(errno()) }
}

fn create_devices(plan: &RootfsPlan, rootfd: c_int) -> ChildResult {
    if plan.bind_devices {
        for (i, d) in plan.devices.iter().enumerate() {
            let fail = |e| Fail::new(Step::Device, i, e);
            let fd = ensure_in_root(rootfd, &d.path, true).map_err(fail)?;
            let r = mount_on_fd(d.host_path.as_ptr(), fd, ptr::null(), libc::MS_BIND, ptr::null());
            close(fd);
            r.map_err(fail)?;
        }
        return Ok(());
    }
    // With umask 0 mknodat gives the node its exact mode, so no fchmodat is needed; a node
    // owned 0:0 needs no fchownat either, unless its directory is setgid (the group follows it).
    // SAFETY: umask(2), geteuid(2).
    let (old_umask, root) = unsafe { (libc::umask(0), libc::geteuid() == 0) };
    let mut parent: Option<(&[u8], c_int, bool)> = None;
    let mut result = Ok(());
    for (i, d) in plan.devices.iter().enumerate() {
        let fail = |e| Fail::new(Step::Device, i, e);
        let bytes = d.path.to_bytes();
        let cut = bytes.iter().rposition(|&b| b == b'/').unwrap_or(0);
        let dir_bytes: &[u8] = if cut == 0 { b"." } else { &bytes[..cut] };
        if parent.is_none_or(|(p, _, _)| p != dir_bytes) {
            if let Some((_, fd, _)) = parent.take() {
                close(fd);
            }
            let opened = mkdir_all_in_root(rootfd, &bytes[..cut], 0o755).and_then(|()| {
                let mut dir = CPathBuf::new();
                dir.push_bytes(dir_bytes);
                open_in_root(rootfd, dir.as_cstr(), libc::O_PATH | libc::O_DIRECTORY)
            });
            let pfd = match opened {
                Ok(fd) => fd,
                Err(e) => {
                    result = Err(fail(e));
                    break;
                }
            };
            // SAFETY: fstat of the directory fd just opened.
            let setgid = unsafe {
                let mut st: libc::stat = std::mem::zeroed();
                libc::fstat(pfd, &mut st) != 0 || st.st_mode & libc::S_ISGID != 0
            };
            parent = Some((dir_bytes, pfd, setgid));
        }
        let Some((_, pfd, setgid)) = parent else { break };
        let mut name = CPathBuf::new();
        name.push_bytes(if cut == 0 { bytes } else { &bytes[cut + 1..] });
        // SAFETY: *at calls relative to a directory fd owned here; the name has no '/'.
        let r = unsafe {
            let mut r = libc::mknodat(pfd, name.as_ptr(), d.mode, d.dev);
            if r != 0 && errno() == libc::EEXIST {
                libc::unlinkat(pfd, name.as_ptr(), 0);
                r = libc::mknodat(pfd, name.as_ptr(), d.mode, d.dev);
            }
            if r == 0 && (d.uid != 0 || d.gid != 0 || setgid || !root) {
                r = libc::fchownat(pfd, name.as_ptr(), d.uid, d.gid, libc::AT_SYMLINK_NOFOLLOW);
            }
            r
        };
        if r != 0 {
            result = Err(fail(errno()));
            break;
        }
    }
    if let Some((_, fd, _)) = parent {
        close(fd);
    }
    // SAFETY: umask(2).
    unsafe { libc::umask(old_umask) };
    result
}

fn dev_symlinks(rootfd: c_int) -> ChildResult {
    let links: [(&CStr, &CStr); 5] = [
        (c"/proc/self/fd", c"fd"),
        (c"/proc/self/fd/0", c"stdin"),
        (c"/proc/self/fd/1", c"stdout"),
        (c"/proc/self/fd/2", c"stderr"),
        (c"pts/ptmx", c"ptmx"),
    ];
    let dev = open_in_root(rootfd, c"dev", libc::O_PATH | libc::O_DIRECTORY).map_err(|e| Fail::new(Step::DevSymlink, 0, e))?;
    for (i, (target, name)) in links.iter().enumerate() {
        // ptmx must point at the devpts instance of the container, even if the image has a node.
        if i == 4 {
            // SAFETY: unlinkat relative to the /dev fd.
            unsafe { libc::unlinkat(dev, name.as_ptr(), 0) };
        }
        // SAFETY: symlinkat relative to the /dev fd.
        let r = unsafe { libc::symlinkat(target.as_ptr(), dev, name.as_ptr()) };
        if r != 0 && errno() != libc::EEXIST {
            let e = errno();
            close(dev);
            return Err(Fail::new(Step::DevSymlink, i, e));
        }
    }
    close(dev);
    Ok(())
}

/// Everything before pivot_root: propagation, the rootfs bind, mounts, /dev, the cwd.
/// Returns an O_PATH fd of the rootfs. `cgroup_ready` is called before each step that needs
/// the container's cgroup (its directories, to bind under /sys/fs/cgroup; its device rules in
/// force, for mknod): in vfork mode a helper thread may still be making it.
pub fn prepare_rootfs(plan: &RootfsPlan, userns: bool, cgroup_ready: &dyn Fn(CgroupNeed) -> ChildResult) -> Result<c_int, Fail> {
    mount_raw(ptr::null(), c"/".as_ptr(), ptr::null(), plan.root_propagation, ptr::null())
        .map_err(|e| Fail::new(Step::RootPropagation, 0, e))?;
    if let Some(parent) = &plan.rootfs_parent_mount {
        mount_raw(ptr::null(), parent.as_ptr(), ptr::null(), libc::MS_PRIVATE, ptr::null())
            .map_err(|e| Fail::new(Step::RootPropagation, 2, e))?;
    }
    mount_raw(plan.rootfs.as_ptr(), plan.rootfs.as_ptr(), c"bind".as_ptr(), libc::MS_BIND | libc::MS_REC, ptr::null())
        .map_err(|e| Fail::new(Step::BindRootfs, 0, e))?;
    // SAFETY: open of a NUL-terminated path.
    let rootfd = unsafe { libc::open(plan.rootfs.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if rootfd < 0 {
        return Err(Fail::last(Step::OpenRootfs, 0));
    }
    for (i, m) in plan.mounts.iter().enumerate() {
        if matches!(m.kind, MountKind::CgroupV1 | MountKind::Cgroup2) {
            cgroup_ready(CgroupNeed::Dirs)?;
        }
        do_mount(rootfd, m, userns).map_err(|(step, e)| Fail::new(step, i, e))?;
    }
    if plan.setup_dev || !plan.devices.is_empty() {
        cgroup_ready(CgroupNeed::Joined)?;
    }
    if plan.setup_dev {
        create_devices(plan, rootfd)?;
        dev_symlinks(rootfd)?;
    } else if !plan.devices.is_empty() {
        create_devices(plan, rootfd)?;
    }
    if plan.cwd.to_bytes() != b"." {
        mkdir_all_in_root(rootfd, plan.cwd.to_bytes(), 0o755).map_err(|e| Fail::new(Step::Cwd, 0, e))?;
    }
    Ok(rootfd)
}

fn pivot_root(plan: &RootfsPlan) -> Result<(), i32> {
    // SAFETY: raw syscalls over NUL-terminated paths and fds owned here.
    unsafe {
        if plan.no_pivot {
            if libc::chdir(plan.rootfs.as_ptr()) != 0
                || libc::mount(plan.rootfs.as_ptr(), c"/".as_ptr(), ptr::null(), libc::MS_MOVE, ptr::null()) != 0
                || libc::chroot(c".".as_ptr()) != 0
                || libc::chdir(c"/".as_ptr()) != 0
            {
                return Err(errno());
            }
            return Ok(());
        }
        let old = libc::open(c"/".as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC);
        let new = libc::open(plan.rootfs.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC);
        if old < 0 || new < 0 {
            return Err(errno());
        }
        let ok = libc::fchdir(new) == 0
            && libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) == 0
            && libc::fchdir(old) == 0
            // The old root must not propagate the detach below back to the host.
            && libc::mount(ptr::null(), c".".as_ptr(), ptr::null(), libc::MS_SLAVE | libc::MS_REC, ptr::null()) == 0
            && libc::umount2(c".".as_ptr(), libc::MNT_DETACH) == 0
            && libc::chdir(c"/".as_ptr()) == 0;
        let e = errno();
        libc::close(old);
        libc::close(new);
        if ok { Ok(()) } else { Err(e) }
    }
}

/// Opens /dev/null and checks it really is the null device (1:3), not something planted.
fn open_dev_null() -> Result<c_int, i32> {
    let fd = open_in_root(libc::AT_FDCWD, c"/dev/null", libc::O_PATH)?;
    // SAFETY: zeroed stat is a valid out-parameter; fstat on a valid fd.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        close(fd);
        return Err(libc::EPERM);
    }
    Ok(fd)
}

/// After the mounts: pivot_root (or move + chroot) and the requested propagation of `/`.
pub fn finish_rootfs(plan: &RootfsPlan) -> ChildResult {
    pivot_root(plan).map_err(|e| Fail::new(Step::PivotRoot, 0, e))?;
    if let Some(p) = plan.root_propagation_after {
        mount_raw(ptr::null(), c"/".as_ptr(), ptr::null(), p, ptr::null()).map_err(|e| Fail::new(Step::RootPropagation, 1, e))?;
    }
    Ok(())
}

/// Masked paths and read-only paths, inside the container's root.
pub fn protect_paths(plan: &RootfsPlan) -> ChildResult {
    if plan.masked.is_empty() && plan.readonly.is_empty() {
        return Ok(());
    }
    // SAFETY: open of "/" after pivot.
    let root = unsafe { libc::open(c"/".as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if root < 0 {
        return Err(Fail::last(Step::OpenRootfs, 1));
    }
    let r = mask_and_protect(plan, root);
    close(root);
    r
}

fn mask_and_protect(plan: &RootfsPlan, root: c_int) -> ChildResult {
    // Read-only paths first, then masks, in runc's order (mountinfo lists them so).
    for (i, p) in plan.readonly.iter().enumerate() {
        let fd = match open_in_root(root, p, libc::O_PATH) {
            Ok(fd) => fd,
            Err(libc::ENOENT) => continue,
            Err(e) => return Err(Fail::new(Step::ReadonlyPath, i, e)),
        };
        let src = CPathBuf::proc_fd(fd);
        let r = mount_on_fd(src.as_ptr(), fd, ptr::null(), libc::MS_BIND | libc::MS_REC, ptr::null());
        close(fd);
        r.map_err(|e| Fail::new(Step::ReadonlyPath, i, e))?;
        remount(root, p, libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY).map_err(|e| Fail::new(Step::ReadonlyPath, i, e))?;
    }
    let mut null_fd = -1;
    for (i, p) in plan.masked.iter().enumerate() {
        let fd = match open_in_root(root, p, libc::O_PATH) {
            Ok(fd) => fd,
            Err(libc::ENOENT) => continue,
            Err(e) => return Err(Fail::new(Step::MaskPath, i, e)),
        };
        // SAFETY: zeroed stat is a valid out-parameter.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat on a valid fd.
        unsafe { libc::fstat(fd, &mut st) };
        let r = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            mount_on_fd(c"tmpfs".as_ptr(), fd, c"tmpfs".as_ptr(), libc::MS_RDONLY, ptr::null())
        } else {
            if null_fd < 0 {
                null_fd = open_dev_null().map_err(|e| Fail::new(Step::MaskPath, i, e))?;
            }
            let src = CPathBuf::proc_fd(null_fd);
            mount_on_fd(src.as_ptr(), fd, ptr::null(), libc::MS_BIND, ptr::null())
        };
        close(fd);
        r.map_err(|e| Fail::new(Step::MaskPath, i, e))?;
    }
    if null_fd >= 0 {
        close(null_fd);
    }
    Ok(())
}

/// Remounts `/` read-only, keeping the flags the kernel locks.
pub fn readonly_root() -> ChildResult {
    // SAFETY: open of "/".
    let fd = unsafe { libc::open(c"/".as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(fd);
    close(fd);
    mount_raw(ptr::null(), c"/".as_ptr(), ptr::null(), flags, ptr::null()).map_err(|e| Fail::new(Step::ReadonlyRoot, 0, e))
}
