//! fd-relative file operations: every path is resolved under an open directory with
//! openat2(RESOLVE_IN_ROOT) or named relative to an already-resolved parent, never followed out.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// `struct open_how` of openat2(2); libc 0.2.139 does not declare it.
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn owned(ret: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: `ret` is a fresh descriptor we own (checked non-negative).
    check(ret).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A NUL-free C string from path bytes (tar names can hold any byte but NUL).
pub fn c_name(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "name contains a NUL byte"))
}

/// Opens a directory by ordinary path (the layer directory the caller chose).
pub fn open_dir(path: &CStr) -> io::Result<OwnedFd> {
    // SAFETY: `path` is NUL-terminated.
    owned(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })
}

/// Resolves `path` as if `root` were `/`: symlinks and `..` can never leave `root`.
pub fn open_in_root(root: RawFd, path: &CStr, flags: i32) -> io::Result<OwnedFd> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: openat2 reads `how` (of the size we pass) and `path`; both outlive the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    owned(ret as libc::c_int)
}

/// openat(2) of one name in `dir`; callers pass O_NOFOLLOW so a symlink is never followed.
pub fn open_at(dir: RawFd, name: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    // SAFETY: `name` is NUL-terminated.
    owned(unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC, mode) })
}

/// lstat of one name in `dir`; `None` if it does not exist.
pub fn lstat_at(dir: RawFd, name: &CStr) -> io::Result<Option<libc::stat>> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` is writable and `name` NUL-terminated.
    let ret = unsafe {
        libc::fstatat(
            dir,
            name.as_ptr(),
            st.as_mut_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    match check(ret) {
        // SAFETY: fstatat succeeded and filled `st`.
        Ok(_) => Ok(Some(unsafe { st.assume_init() })),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

pub fn mkdir_at(dir: RawFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::mkdirat(dir, name.as_ptr(), mode) }).map(drop)
}

pub fn symlink_at(target: &CStr, dir: RawFd, name: &CStr) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated.
    check(unsafe { libc::symlinkat(target.as_ptr(), dir, name.as_ptr()) }).map(drop)
}

/// linkat without AT_SYMLINK_FOLLOW: links the named inode itself, as tar does.
pub fn link_at(from_dir: RawFd, from: &CStr, to_dir: RawFd, to: &CStr) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated.
    check(unsafe { libc::linkat(from_dir, from.as_ptr(), to_dir, to.as_ptr(), 0) }).map(drop)
}

pub fn mknod_at(dir: RawFd, name: &CStr, mode: u32, dev: libc::dev_t) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::mknodat(dir, name.as_ptr(), mode, dev) }).map(drop)
}

/// Removes `name` from `dir` whatever it is (a directory with everything in it); absent is fine.
pub fn remove_all_at(dir: RawFd, name: &CStr) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated.
    if check(unsafe { libc::unlinkat(dir, name.as_ptr(), 0) }).is_ok() {
        return Ok(());
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::ENOENT) => return Ok(()),
        Some(libc::EISDIR) => {}
        _ => return Err(io::Error::last_os_error()),
    }
    let child = open_at(
        dir,
        name,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
        0,
    )?;
    for child_name in list_dir(child.as_raw_fd())? {
        remove_all_at(child.as_raw_fd(), &child_name)?;
    }
    // SAFETY: `name` is NUL-terminated.
    match check(unsafe { libc::unlinkat(dir, name.as_ptr(), libc::AT_REMOVEDIR) }) {
        Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(e),
        _ => Ok(()),
    }
}

/// The names in an open directory (without `.` and `..`).
pub fn list_dir(dir: RawFd) -> io::Result<Vec<CString>> {
    use std::os::unix::ffi::OsStrExt;
    // /proc/self/fd/N names the directory we already hold, so nothing is re-resolved by path.
    let mut names = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/self/fd/{dir}"))? {
        names.push(c_name(entry?.file_name().as_bytes())?);
    }
    Ok(names)
}

pub fn fchown(fd: RawFd, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: plain syscall on a descriptor we hold; AT_EMPTY_PATH works for O_PATH fds too.
    check(unsafe {
        libc::fchownat(
            fd,
            c"".as_ptr(),
            uid,
            gid,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

pub fn lchown_at(dir: RawFd, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated.
    check(unsafe { libc::fchownat(dir, name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) })
        .map(drop)
}

/// chmod through /proc/self/fd: works for O_PATH descriptors of fifos and devices, never follows.
pub fn chmod_fd(fd: RawFd, mode: u32) -> io::Result<()> {
    let path = proc_fd_path(fd, None)?;
    // SAFETY: `path` is NUL-terminated.
    check(unsafe { libc::chmod(path.as_ptr(), mode) }).map(drop)
}

/// Sets an xattr on the inode `fd` refers to (any type but symlink), via /proc/self/fd.
pub fn set_xattr_fd(fd: RawFd, name: &CStr, value: &[u8]) -> io::Result<()> {
    let path = proc_fd_path(fd, None)?;
    // SAFETY: strings are NUL-terminated; value pointer/len describe a live slice.
    check(unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

/// Sets an xattr on `name` in `dir` without following it (for symlinks).
pub fn lset_xattr_at(dir: RawFd, entry: &CStr, name: &CStr, value: &[u8]) -> io::Result<()> {
    let path = proc_fd_path(dir, Some(entry))?;
    // SAFETY: strings are NUL-terminated; value pointer/len describe a live slice.
    check(unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

fn proc_fd_path(fd: RawFd, entry: Option<&CStr>) -> io::Result<CString> {
    let mut path = format!("/proc/self/fd/{fd}").into_bytes();
    if let Some(entry) = entry {
        path.push(b'/');
        path.extend_from_slice(entry.to_bytes());
    }
    c_name(&path)
}

fn timespecs(mtime: i64) -> [libc::timespec; 2] {
    let t = libc::timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    [t, t]
}

/// Sets atime and mtime of `name` in `dir` (a symlink itself, not its target).
pub fn set_times_at(dir: RawFd, name: &CStr, mtime: i64) -> io::Result<()> {
    let times = timespecs(mtime);
    // SAFETY: `times` has two entries, `name` is NUL-terminated.
    check(unsafe {
        libc::utimensat(
            dir,
            name.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// Sets atime and mtime of what `fd` refers to (O_PATH descriptors included).
pub fn set_times_fd(fd: RawFd, mtime: i64) -> io::Result<()> {
    let times = timespecs(mtime);
    let path = proc_fd_path(fd, None)?;
    // SAFETY: `times` has two entries, `path` is NUL-terminated.
    check(unsafe { libc::utimensat(libc::AT_FDCWD, path.as_ptr(), times.as_ptr(), 0) }).map(drop)
}
