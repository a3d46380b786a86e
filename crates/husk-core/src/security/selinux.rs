//! SELinux: `process.selinuxLabel` is the context the process gets at execve (`linux.mountLabel`
//! goes into mount options, in rootfs); either one on a host without SELinux is an error.

use super::exec_attr::ExecAttr;
use crate::error::{Error, Result};

const SELINUXFS: &std::ffi::CStr = c"/sys/fs/selinux";
const ATTR_EXEC: &str = "/proc/thread-self/attr/exec";

/// Whether SELinux is enabled: selinuxfs is mounted where the kernel exposes it.
pub fn is_enabled() -> bool {
    // SAFETY: statfs into a zeroed struct on our stack.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    unsafe { libc::statfs(SELINUXFS.as_ptr(), &mut st) == 0 && st.f_type == libc::SELINUX_MAGIC }
}

/// Checks the labels against the host; returns the attr write for the process label, if any.
pub fn plan(process_label: Option<&str>, mount_label: Option<&str>) -> Result<Option<ExecAttr>> {
    plan_with(process_label, mount_label, is_enabled())
}

fn plan_with(process_label: Option<&str>, mount_label: Option<&str>, enabled: bool) -> Result<Option<ExecAttr>> {
    let process_label = process_label.filter(|l| !l.is_empty());
    let mount_label = mount_label.filter(|l| !l.is_empty());
    if !enabled {
        if let Some(l) = process_label {
            return Err(Error::spec("process.selinuxLabel", format!("label {l:?} requested, but SELinux is not enabled on this host")));
        }
        if let Some(l) = mount_label {
            return Err(Error::spec("linux.mountLabel", format!("label {l:?} requested, but SELinux is not enabled on this host")));
        }
    }
    process_label.map(|l| ExecAttr::new(ATTR_EXEC, l)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_without_selinux_are_errors() {
        let e = plan_with(Some("system_u:system_r:container_t:s0"), None, false).unwrap_err().to_string();
        assert!(e.contains("process.selinuxLabel") && e.contains("SELinux is not enabled"), "{e}");
        let e = plan_with(None, Some("system_u:object_r:container_file_t:s0"), false).unwrap_err().to_string();
        assert!(e.contains("linux.mountLabel"), "{e}");
        assert!(plan_with(None, None, false).unwrap().is_none());
        if !is_enabled() {
            assert!(plan(Some("x"), None).is_err());
        }
    }

    #[test]
    fn a_label_with_selinux_is_written_at_exec() {
        let attr = plan_with(Some("system_u:system_r:container_t:s0"), Some("m"), true).unwrap().unwrap();
        assert_eq!(attr.path().to_str().unwrap(), ATTR_EXEC);
        assert_eq!(attr.value().to_str().unwrap(), "system_u:system_r:container_t:s0");
    }
}
