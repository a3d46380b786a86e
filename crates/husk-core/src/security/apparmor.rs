//! AppArmor: `process.apparmorProfile` becomes the profile the container's process is confined
//! by from its execve on; asking for one on a host without AppArmor is an error, not a no-op.

use std::path::Path;

use super::exec_attr::ExecAttr;
use crate::error::{Error, Result};

const ENABLED: &str = "/sys/module/apparmor/parameters/enabled";
/// The per-LSM attr directory (Linux 5.8+), and the shared one older kernels have.
const ATTR_EXEC_APPARMOR: &str = "/proc/thread-self/attr/apparmor/exec";
const ATTR_EXEC: &str = "/proc/thread-self/attr/exec";

/// Whether the kernel has AppArmor and it is enabled ("Y").
pub fn is_enabled() -> bool {
    std::fs::read(ENABLED).map(|b| b.first() == Some(&b'Y')).unwrap_or(false)
}

/// The attr write that confines the process at execve, None when no profile is asked for.
pub fn plan(profile: Option<&str>) -> Result<Option<ExecAttr>> {
    plan_with(profile, is_enabled())
}

fn plan_with(profile: Option<&str>, enabled: bool) -> Result<Option<ExecAttr>> {
    let Some(profile) = profile.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if !enabled {
        return Err(Error::spec("process.apparmorProfile", format!("profile {profile:?} requested, but AppArmor is not enabled on this host")));
    }
    let path = if Path::new(ATTR_EXEC_APPARMOR).exists() { ATTR_EXEC_APPARMOR } else { ATTR_EXEC };
    ExecAttr::new(path, &format!("exec {profile}")).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_profile_needs_nothing() {
        assert!(plan(None).unwrap().is_none());
        assert!(plan(Some("")).unwrap().is_none());
    }

    #[test]
    fn a_profile_without_apparmor_is_an_error() {
        let e = plan_with(Some("docker-default"), false).unwrap_err().to_string();
        assert!(e.contains("process.apparmorProfile") && e.contains("AppArmor is not enabled"), "{e}");
        if !is_enabled() {
            assert!(plan(Some("docker-default")).is_err());
        }
    }

    #[test]
    fn a_profile_with_apparmor_writes_exec_name() {
        let attr = plan_with(Some("docker-default"), true).unwrap().unwrap();
        assert_eq!(attr.value().to_str().unwrap(), "exec docker-default");
        assert!(attr.path().to_str().unwrap().starts_with("/proc/thread-self/attr/"));
    }
}
