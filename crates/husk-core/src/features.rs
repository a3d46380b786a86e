//! The runtime-spec `features` document: what this build really implements, nothing more.

use serde_json::{json, Value};

/// Mount options the rootfs code understands (flags and propagation), as runc lists them.
pub const MOUNT_OPTIONS: &[&str] = &[
    "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion",
    "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
    "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private",
    "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec", "rnoatime", "rnodev",
    "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "rnosymfollow", "ro",
    "rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid",
    "rsymfollow", "runbindable", "rw", "shared", "silent", "slave", "strictatime", "suid",
    "symfollow", "sync", "unbindable",
];

pub const NAMESPACES: &[&str] = &["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"];

pub const HOOKS: &[&str] = &[
    "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
];

/// The features document (runtime-spec features.md).
pub fn features() -> Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::OCI_VERSION,
        "hooks": HOOKS,
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": NAMESPACES,
            "capabilities": crate::process::caps::CAP_NAMES[..=crate::process::caps::last_cap() as usize],
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true },
            "seccomp": crate::security::seccomp::features(),
            "apparmor": { "enabled": crate::security::apparmor::is_enabled() },
            "selinux": { "enabled": crate::security::selinux::is_enabled() },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } }
        },
        "annotations": {
            "org.opencontainers.runc.checkpoint.enabled": "false",
            // The runtime-spec's linux.cgroup has no field for it: on cgroup2 (no devices
            // controller) device rules are an eBPF program husk attaches, or create fails.
            "io.github.husk.cgroup2.devices.enforced": crate::cgroups::v2_devices_enforced().to_string(),
            "io.github.husk.version": crate::VERSION
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn features_names_the_version_range() {
        let f = super::features();
        assert_eq!(f["ociVersionMax"], crate::OCI_VERSION);
        assert!(f["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n == "pid"));
    }
}
