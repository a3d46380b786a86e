//! Checks a parsed config.json before anything is created; each error names the JSON field.

use super::Spec;
use crate::error::{Error, Result};
use crate::features::NAMESPACES;

pub fn validate(spec: &Spec) -> Result<()> {
    if spec.oci_version.is_empty() {
        return Err(Error::spec("ociVersion", "missing"));
    }
    if !spec.oci_version.starts_with("1.") {
        return Err(Error::spec("ociVersion", format!("unsupported version {:?}", spec.oci_version)));
    }
    let root = spec.root.as_ref().ok_or_else(|| Error::spec("root", "missing"))?;
    if root.path.is_empty() {
        return Err(Error::spec("root.path", "empty"));
    }
    let process = spec.process.as_ref().ok_or_else(|| Error::spec("process", "missing"))?;
    if process.args.is_empty() {
        return Err(Error::spec("process.args", "must contain at least one element"));
    }
    if !process.cwd.starts_with('/') {
        return Err(Error::spec("process.cwd", format!("{:?} is not an absolute path", process.cwd)));
    }
    for (i, e) in process.env.iter().enumerate() {
        if !e.contains('=') {
            return Err(Error::spec(format!("process.env[{i}]"), format!("{e:?} is not KEY=value")));
        }
    }
    for (i, r) in process.rlimits.iter().enumerate() {
        if crate::process::rlimit_resource(&r.typ).is_none() {
            return Err(Error::spec(format!("process.rlimits[{i}].type"), format!("unknown rlimit {:?}", r.typ)));
        }
        if r.soft > r.hard {
            return Err(Error::spec(format!("process.rlimits[{i}]"), "soft limit is greater than hard limit"));
        }
    }
    for (i, m) in spec.mounts.iter().enumerate() {
        if m.destination.is_empty() {
            return Err(Error::spec(format!("mounts[{i}].destination"), "empty"));
        }
    }
    if let Some(h) = &spec.hooks {
        let kinds = [
            ("prestart", &h.prestart), ("createRuntime", &h.create_runtime),
            ("createContainer", &h.create_container), ("startContainer", &h.start_container),
            ("poststart", &h.poststart), ("poststop", &h.poststop),
        ];
        for (kind, hooks) in kinds {
            for (i, hook) in hooks.iter().enumerate() {
                if !hook.path.starts_with('/') {
                    return Err(Error::spec(format!("hooks.{kind}[{i}].path"), format!("{:?} is not absolute", hook.path)));
                }
                if matches!(hook.timeout, Some(t) if t <= 0) {
                    return Err(Error::spec(format!("hooks.{kind}[{i}].timeout"), "must be positive"));
                }
            }
        }
    }
    let linux = spec.linux();
    let mut seen = Vec::new();
    for (i, ns) in linux.namespaces.iter().enumerate() {
        if !NAMESPACES.contains(&ns.typ.as_str()) {
            return Err(Error::spec(format!("linux.namespaces[{i}].type"), format!("unknown namespace type {:?}", ns.typ)));
        }
        if seen.contains(&ns.typ.as_str()) {
            return Err(Error::spec(format!("linux.namespaces[{i}].type"), format!("duplicate namespace {:?}", ns.typ)));
        }
        seen.push(ns.typ.as_str());
        if let Some(p) = &ns.path {
            if !p.starts_with('/') {
                return Err(Error::spec(format!("linux.namespaces[{i}].path"), format!("{p:?} is not absolute")));
            }
        }
    }
    let new_userns = linux.namespace("user").map(|n| n.path.is_none()).unwrap_or(false);
    if new_userns && (linux.uid_mappings.is_empty() || linux.gid_mappings.is_empty()) {
        return Err(Error::spec("linux.uidMappings", "user namespaces enabled, but no uid/gid mappings found"));
    }
    if linux.namespace("user").is_none() && (!linux.uid_mappings.is_empty() || !linux.gid_mappings.is_empty()) {
        return Err(Error::spec("linux.uidMappings", "uid/gid mappings given without a user namespace"));
    }
    if !linux.time_offsets.is_empty() {
        match linux.namespace("time") {
            Some(ns) if ns.path.is_none() => {}
            _ => return Err(Error::spec("linux.timeOffsets", "requires a new time namespace")),
        }
        for k in linux.time_offsets.keys() {
            if k != "monotonic" && k != "boottime" {
                return Err(Error::spec(format!("linux.timeOffsets.{k}"), "only monotonic and boottime clocks have offsets"));
            }
        }
    }
    if (spec.hostname.as_deref().is_some_and(|h| !h.is_empty())) && linux.namespace("uts").is_none() {
        return Err(Error::spec("hostname", "unable to set hostname without a new UTS namespace"));
    }
    if (spec.domainname.as_deref().is_some_and(|h| !h.is_empty())) && linux.namespace("uts").is_none() {
        return Err(Error::spec("domainname", "unable to set domainname without a new UTS namespace"));
    }
    if let Some(p) = &linux.rootfs_propagation {
        if crate::rootfs::propagation_flag(p).is_none() {
            return Err(Error::spec("linux.rootfsPropagation", format!("invalid propagation {p:?}")));
        }
    }
    for (i, d) in linux.devices.iter().enumerate() {
        if !matches!(d.typ.as_str(), "c" | "b" | "u" | "p") {
            return Err(Error::spec(format!("linux.devices[{i}].type"), format!("invalid device type {:?}", d.typ)));
        }
        if !d.path.starts_with("/dev/") {
            return Err(Error::spec(format!("linux.devices[{i}].path"), format!("{:?} is not under /dev", d.path)));
        }
    }
    Ok(())
}
