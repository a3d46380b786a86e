//! Thin wrappers over the few libc calls and /proc files the checks read.

use std::ffi::{CStr, CString};
use std::io;
use std::path::Path;

fn cpath(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| format!("{} contains NUL", path.display()))
}

/// A field of /proc/self/status, e.g. "CapEff" or "NoNewPrivs".
pub fn status_field(name: &str) -> Result<String, String> {
    let text = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("read /proc/self/status: {e}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')).map(|v| v.trim().to_string()))
        .ok_or_else(|| format!("/proc/self/status has no {name} field"))
}

pub fn statvfs_readonly(path: &Path) -> Result<bool, String> {
    let c = cpath(path)?;
    let mut buf: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid NUL-terminated path and buf a valid out-pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut buf) } != 0 {
        return Err(format!("statvfs {}: {}", path.display(), io::Error::last_os_error()));
    }
    Ok(buf.f_flag & libc::ST_RDONLY != 0)
}

/// Major number of a dev_t (glibc's gnu_dev_major encoding).
pub fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff)
}

/// Minor number of a dev_t (glibc's gnu_dev_minor encoding).
pub fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & !0xff)
}

pub fn getgroups() -> Result<Vec<u32>, String> {
    // SAFETY: a zero-sized query only returns the count.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n < 0 {
        return Err(format!("getgroups: {}", io::Error::last_os_error()));
    }
    let mut groups = vec![0 as libc::gid_t; n as usize];
    // SAFETY: groups has room for n entries.
    let n = unsafe { libc::getgroups(n, groups.as_mut_ptr()) };
    if n < 0 {
        return Err(format!("getgroups: {}", io::Error::last_os_error()));
    }
    groups.truncate(n as usize);
    Ok(groups)
}

pub struct Uname {
    pub nodename: String,
    pub domainname: String,
}

pub fn uname() -> Result<Uname, String> {
    let mut buf: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: buf is a valid out-pointer.
    if unsafe { libc::uname(&mut buf) } != 0 {
        return Err(format!("uname: {}", io::Error::last_os_error()));
    }
    // SAFETY: the kernel NUL-terminates every utsname field.
    let field = |f: &[libc::c_char]| unsafe { CStr::from_ptr(f.as_ptr()) }.to_string_lossy().into_owned();
    Ok(Uname { nodename: field(&buf.nodename), domainname: field(&buf.domainname) })
}

pub fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

pub fn getrlimit(resource: libc::__rlimit_resource_t) -> Result<(u64, u64), String> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: limit is a valid out-pointer.
    if unsafe { libc::getrlimit(resource, &mut limit) } != 0 {
        return Err(format!("getrlimit: {}", io::Error::last_os_error()));
    }
    Ok((limit.rlim_cur, limit.rlim_max))
}

/// Inode of the namespace /proc/self/ns/<name> (its identity).
pub fn ns_inode(name: &str) -> Result<u64, String> {
    let link = std::fs::read_link(format!("/proc/self/ns/{name}")).map_err(|e| format!("readlink /proc/self/ns/{name}: {e}"))?;
    parse_ns_link(&link.to_string_lossy()).ok_or_else(|| format!("unexpected ns link {}", link.display()))
}

/// "pid:[4026531836]" → 4026531836.
pub fn parse_ns_link(link: &str) -> Option<u64> {
    link.split_once(":[")?.1.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_numbers_split() {
        // makedev(136, 300) in glibc's encoding.
        let dev: u64 = ((136 & 0xfff) << 8) | (300 & 0xff) | ((300 & !0xff) << 12);
        assert_eq!((major(dev), minor(dev)), (136, 300));
        assert_eq!((major(0x103), minor(0x103)), (1, 3));
    }

    #[test]
    fn ns_link_parses() {
        assert_eq!(parse_ns_link("pid:[4026531836]"), Some(4026531836));
        assert_eq!(parse_ns_link("garbage"), None);
    }
}
