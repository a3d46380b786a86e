//! An LSM label for the next execve, written to /proc/thread-self/attr/…: planned in the parent,
//! written by the init child with raw syscalls after the container's /proc is mounted.

use std::ffi::{CStr, CString};

use crate::error::Result;
use crate::util::{cstring, errno};

/// A write to a procfs attr file that takes effect at the process's next execve.
#[derive(Debug, Clone)]
pub struct ExecAttr {
    path: CString,
    value: CString,
}

impl ExecAttr {
    pub fn new(path: &str, value: &str) -> Result<ExecAttr> {
        Ok(ExecAttr { path: cstring(path)?, value: cstring(value)? })
    }

    pub fn path(&self) -> &CStr {
        &self.path
    }

    pub fn value(&self) -> &CStr {
        &self.value
    }

    /// Writes the label: open, check the file really is on procfs (an image's /proc could be a
    /// plain directory or a bind of something else, CVE-2019-16884), write, close. No allocation.
    /// Err is the errno (EXDEV: not procfs).
    pub fn apply_raw(&self) -> Result<(), i32> {
        // SAFETY: open/fstatfs/write/close over strings and a struct prepared before the clone.
        unsafe {
            let fd = libc::open(self.path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW);
            if fd < 0 {
                return Err(errno());
            }
            let mut st: libc::statfs = std::mem::zeroed();
            if libc::fstatfs(fd, &mut st) != 0 {
                let e = errno();
                libc::close(fd);
                return Err(e);
            }
            if st.f_type != libc::PROC_SUPER_MAGIC {
                libc::close(fd);
                return Err(libc::EXDEV);
            }
            let v = self.value.to_bytes();
            let n = libc::write(fd, v.as_ptr() as *const libc::c_void, v.len());
            let e = errno();
            libc::close(fd);
            if n != v.len() as isize {
                return Err(if n < 0 { e } else { libc::EIO });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_outside_procfs_is_refused() {
        let p = std::env::temp_dir().join(format!("husk-exec-attr-{}", std::process::id()));
        std::fs::write(&p, b"").unwrap();
        let attr = ExecAttr::new(p.to_str().unwrap(), "exec unconfined").unwrap();
        assert_eq!(attr.apply_raw(), Err(libc::EXDEV));
        assert_eq!(std::fs::read(&p).unwrap(), b"", "nothing was written");
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn a_missing_attr_file_is_enoent() {
        let attr = ExecAttr::new("/proc/thread-self/attr/husk-no-such-attr", "x").unwrap();
        assert_eq!(attr.apply_raw(), Err(libc::ENOENT));
    }
}
