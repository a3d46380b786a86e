//! Small helpers: C strings, raw syscalls the init child may call (no allocation, no locks).

use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;

use crate::error::{Error, Result};

pub fn cstring(s: impl AsRef<OsStr>) -> Result<CString> {
    CString::new(s.as_ref().as_bytes())
        .map_err(|_| Error::InvalidArgument(format!("{:?} contains a NUL byte", s.as_ref())))
}

/// The errno of the last failed libc call.
#[inline]
pub fn errno() -> i32 {
    // SAFETY: __errno_location always returns a valid thread-local pointer.
    unsafe { *libc::__errno_location() }
}

const OPENAT2: libc::c_long = 437;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_BENEATH: u64 = 0x08;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2): resolves `path` as if `dirfd` were `/` (with RESOLVE_IN_ROOT), so no `..` or
/// symlink in a container's rootfs can lead outside it. Returns the fd or -errno.
pub fn openat2(dirfd: i32, path: &CStr, flags: i32, mode: u32, resolve: u64) -> i32 {
    let how = OpenHow { flags: (flags | libc::O_CLOEXEC) as u64, mode: mode as u64, resolve };
    // SAFETY: how and path outlive the call; the kernel only reads them.
    let r = unsafe {
        libc::syscall(OPENAT2, dirfd, path.as_ptr(), &how as *const OpenHow, std::mem::size_of::<OpenHow>())
    };
    if r < 0 { -errno() } else { r as i32 }
}

/// A fixed-size, stack-allocated C string builder for the init child (which must not allocate).
pub struct CPathBuf {
    buf: [u8; 4096],
    len: usize,
}

impl Default for CPathBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl CPathBuf {
    pub const fn new() -> Self {
        CPathBuf { buf: [0; 4096], len: 0 }
    }
    pub fn clear(&mut self) {
        self.len = 0;
        self.buf[0] = 0;
    }
    pub fn push_bytes(&mut self, b: &[u8]) -> &mut Self {
        let n = b.len().min(self.buf.len() - 1 - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
        self.buf[self.len] = 0;
        self
    }
    pub fn push_num(&mut self, mut v: u64) -> &mut Self {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push_bytes(&tmp[i..])
    }
    pub fn as_cstr(&self) -> &CStr {
        // SAFETY: buf[len] is always NUL and no interior NUL is pushed by callers of fd paths.
        unsafe { CStr::from_bytes_with_nul_unchecked(&self.buf[..=self.len]) }
    }
    pub fn as_ptr(&self) -> *const libc::c_char {
        self.buf.as_ptr() as *const libc::c_char
    }
    /// `/proc/self/fd/N`: how the child names an fd it resolved safely when a syscall wants a path.
    pub fn proc_fd(fd: i32) -> Self {
        let mut p = Self::new();
        p.push_bytes(b"/proc/self/fd/").push_num(fd as u64);
        p
    }
}

/// Writes all of `data` to fd with raw write(2), retrying on EINTR.
pub fn write_all_raw(fd: i32, mut data: &[u8]) -> bool {
    while !data.is_empty() {
        // SAFETY: data is a valid slice.
        let n = unsafe { libc::write(fd, data.as_ptr() as *const libc::c_void, data.len()) };
        if n < 0 {
            if errno() == libc::EINTR {
                continue;
            }
            return false;
        }
        data = &data[n as usize..];
    }
    true
}

/// The message text of an errno, e.g. "No such file or directory (os error 2)".
pub fn errno_text(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}
