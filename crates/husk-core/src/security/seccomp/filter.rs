//! A libseccomp filter context: rules in, BPF out. Parent-side only (libseccomp allocates).

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::FromRawFd;

use libc::{c_char, c_int, c_uint};
use seccomp_sys as sys;

use super::profile::{ArgCmp, Op};

// libseccomp 2.5 functions seccomp-sys 0.1 does not declare.
#[link(name = "seccomp")]
extern "C" {
    fn seccomp_syscall_resolve_name_arch(arch_token: u32, name: *const c_char) -> c_int;
    fn seccomp_arch_native() -> u32;
    fn seccomp_version() -> *const ScmpVersion;
}

#[repr(C)]
struct ScmpVersion {
    major: c_uint,
    minor: c_uint,
    micro: c_uint,
}

/// The version of the libseccomp loaded at run time (it decides the BPF we get).
pub fn library_version() -> (u32, u32, u32) {
    // SAFETY: seccomp_version returns a pointer to a static struct.
    let v = unsafe { &*seccomp_version() };
    (v.major, v.minor, v.micro)
}


/// The syscall number of `name` on the native architecture: a negative pseudo-number for one
/// that exists on other architectures only (libseccomp maps it per arch), None if libseccomp
/// does not know the name at all.
pub fn resolve_name(name: &CStr) -> Option<i32> {
    // SAFETY: name is a valid C string; libseccomp only reads it.
    let nr = unsafe { sys::seccomp_syscall_resolve_name(name.as_ptr()) };
    (nr != sys::__NR_SCMP_ERROR).then_some(nr)
}

/// The real syscall number of `name` on one architecture, None if it has none there.
pub fn resolve_name_arch(arch_token: u32, name: &CStr) -> Option<u32> {
    // SAFETY: as above.
    let nr = unsafe { seccomp_syscall_resolve_name_arch(arch_token, name.as_ptr()) };
    (nr >= 0).then_some(nr as u32)
}

/// The SCMP_ARCH_* token of the machine we run on.
pub fn native_arch() -> u32 {
    // SAFETY: a pure lookup.
    unsafe { seccomp_arch_native() }
}

/// Owns a scmp_filter_ctx and releases it.
pub struct FilterContext(*mut sys::scmp_filter_ctx);

impl FilterContext {
    /// A filter whose unmatched syscalls get `default_action` (an SCMP_ACT_* value).
    pub fn new(default_action: u32) -> io::Result<Self> {
        // SAFETY: seccomp_init returns an owned context or NULL.
        let ctx = unsafe { sys::seccomp_init(default_action) };
        if ctx.is_null() {
            // libseccomp sets no errno here: the action is unsupported by it or by the kernel.
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(FilterContext(ctx))
    }

    /// Adds an architecture; already present (the native one always is) is not an error.
    pub fn add_arch(&mut self, token: u32) -> io::Result<()> {
        // SAFETY: self.0 is a live context.
        let rc = unsafe { sys::seccomp_arch_add(self.0, token) };
        if rc == 0 || rc == -libc::EEXIST { Ok(()) } else { Err(io::Error::from_raw_os_error(-rc)) }
    }

    /// Adds one rule: `action` when syscall `nr` is made and all of `args` hold.
    pub fn add_rule(&mut self, action: u32, nr: i32, args: &[ArgCmp]) -> io::Result<()> {
        let cmps: Vec<sys::scmp_arg_cmp> = args
            .iter()
            .map(|a| sys::scmp_arg_cmp { arg: a.index as c_uint, op: scmp_op(a.op), datum_a: a.value, datum_b: a.value_two })
            .collect();
        // SAFETY: cmps outlives the call; libseccomp copies the comparisons.
        let rc = unsafe { sys::seccomp_rule_add_array(self.0, action, nr, cmps.len() as c_uint, cmps.as_ptr()) };
        if rc == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(-rc)) }
    }

    /// The BPF program libseccomp generates, read back from a memfd.
    pub fn export_bpf(&self) -> io::Result<Vec<libc::sock_filter>> {
        // SAFETY: memfd_create with a static name; the fd is owned by `file` at once.
        let fd = unsafe { libc::memfd_create(c"husk-seccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor nobody else owns.
        let mut file = unsafe { File::from_raw_fd(fd) };
        // SAFETY: self.0 is a live context and fd is open for writing.
        let rc = unsafe { sys::seccomp_export_bpf(self.0, fd) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(-rc));
        }
        file.seek(SeekFrom::Start(0))?;
        let mut raw = Vec::with_capacity(8 * 512);
        file.read_to_end(&mut raw)?;
        program_from_bytes(&raw).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "BPF program is not a whole number of instructions"))
    }
}

/// struct sock_filter array in host byte order (as seccomp_export_bpf writes it) → instructions.
pub fn program_from_bytes(raw: &[u8]) -> Option<Vec<libc::sock_filter>> {
    if !raw.len().is_multiple_of(8) {
        return None;
    }
    Some(
        raw.chunks_exact(8)
            .map(|c| libc::sock_filter { code: u16::from_ne_bytes([c[0], c[1]]), jt: c[2], jf: c[3], k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]) })
            .collect(),
    )
}

/// The inverse of `program_from_bytes`.
pub fn program_to_bytes(program: &[libc::sock_filter]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(program.len() * 8);
    for i in program {
        raw.extend(i.code.to_ne_bytes());
        raw.extend([i.jt, i.jf]);
        raw.extend(i.k.to_ne_bytes());
    }
    raw
}

impl Drop for FilterContext {
    fn drop(&mut self) {
        // SAFETY: the context is released exactly once.
        unsafe { sys::seccomp_release(self.0) };
    }
}

fn scmp_op(op: Op) -> sys::scmp_compare {
    match op {
        Op::Ne => sys::scmp_compare::SCMP_CMP_NE,
        Op::Lt => sys::scmp_compare::SCMP_CMP_LT,
        Op::Le => sys::scmp_compare::SCMP_CMP_LE,
        Op::Eq => sys::scmp_compare::SCMP_CMP_EQ,
        Op::Ge => sys::scmp_compare::SCMP_CMP_GE,
        Op::Gt => sys::scmp_compare::SCMP_CMP_GT,
        Op::MaskedEq => sys::scmp_compare::SCMP_CMP_MASKED_EQ,
    }
}
