//! `linux.sysctl`: only sysctls the container's own namespaces isolate are allowed, as runc
//! does, so a container cannot retune the host (vm.*, kernel.core_pattern, a shared netns).

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use crate::error::{Error, Result};
use crate::spec::Namespace;

/// IPC-namespaced sysctls outside fs.mqueue.* (ipc/ipc_sysctl.c).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.msg_next_id", "kernel.sem",
    "kernel.sem_next_id", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_next_id",
    "kernel.shm_rmid_forced",
];

fn field(key: &str) -> String {
    format!("linux.sysctl.{key}")
}

fn has_namespace(namespaces: &[Namespace], typ: &str) -> bool {
    namespaces.iter().any(|n| n.typ == typ)
}

/// Whether `path` names the network namespace this process (the host side) is in.
fn is_host_netns(path: &str) -> std::io::Result<bool> {
    let theirs = std::fs::metadata(path)?;
    let ours = std::fs::metadata("/proc/self/ns/net")?;
    Ok(theirs.dev() == ours.dev() && theirs.ino() == ours.ino())
}

/// Checks one sysctl key against the container's namespaces; the error names `linux.sysctl.<key>`.
pub fn validate(key: &str, namespaces: &[Namespace]) -> Result<()> {
    let valid_name = !key.is_empty()
        && key.split('.').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    if !valid_name {
        return Err(Error::spec(field(key), "not a sysctl name (dot-separated, like net.ipv4.ip_forward)"));
    }
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        if has_namespace(namespaces, "ipc") {
            return Ok(());
        }
        return Err(Error::spec(field(key), "not allowed in the host's IPC namespace (add an ipc namespace)"));
    }
    if key.starts_with("net.") {
        let Some(net) = namespaces.iter().find(|n| n.typ == "network") else {
            return Err(Error::spec(field(key), "not allowed in the host's network namespace (add a network namespace)"));
        };
        if let Some(path) = net.path.as_deref().filter(|p| !p.is_empty()) {
            let host = is_host_netns(path)
                .map_err(|e| Error::spec(field(key), format!("cannot tell whether network namespace {path} is the host's: {e}")))?;
            if host {
                return Err(Error::spec(field(key), format!("not allowed: network namespace {path} is the host's")));
            }
        }
        return Ok(());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        if has_namespace(namespaces, "uts") {
            return Ok(());
        }
        return Err(Error::spec(field(key), "not allowed in the host's UTS namespace (add a uts namespace)"));
    }
    Err(Error::spec(field(key), "not namespaced: it would change the host (only kernel.msg*, kernel.sem*, kernel.shm*, fs.mqueue.*, net.*, kernel.hostname and kernel.domainname are allowed)"))
}

/// Checks every key of `linux.sysctl`.
pub fn validate_all(sysctl: &BTreeMap<String, String>, namespaces: &[Namespace]) -> Result<()> {
    sysctl.keys().try_for_each(|k| validate(k, namespaces))
}

/// The /proc/sys file of a (validated) key.
pub fn proc_path(key: &str) -> String {
    format!("/proc/sys/{}", key.replace('.', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::testutil::wait;

    fn ns(types: &[&str]) -> Vec<Namespace> {
        types.iter().map(|t| Namespace { typ: t.to_string(), path: None }).collect()
    }

    fn err(key: &str, namespaces: &[Namespace]) -> String {
        validate(key, namespaces).expect_err(key).to_string()
    }

    #[test]
    fn ipc_sysctls_need_an_ipc_namespace() {
        for key in ["kernel.msgmax", "kernel.sem", "kernel.shmmax", "kernel.shm_rmid_forced", "fs.mqueue.msg_max"] {
            validate(key, &ns(&["ipc", "mount"])).unwrap();
            let e = err(key, &ns(&["mount"]));
            assert!(e.contains(&format!("linux.sysctl.{key}: not allowed in the host's IPC namespace")), "{e}");
        }
    }

    #[test]
    fn net_sysctls_need_a_network_namespace_of_their_own() {
        validate("net.ipv4.ip_forward", &ns(&["network"])).unwrap();
        assert!(err("net.ipv4.ip_forward", &ns(&["ipc"])).contains("host's network namespace"));
        let host = vec![Namespace { typ: "network".into(), path: Some("/proc/self/ns/net".into()) }];
        assert!(err("net.core.somaxconn", &host).contains("is the host's"));
        let missing = vec![Namespace { typ: "network".into(), path: Some("/nonexistent/ns".into()) }];
        assert!(err("net.core.somaxconn", &missing).contains("cannot tell"));
    }

    #[test]
    fn net_sysctls_in_a_joined_network_namespace() {
        let mut p = [0; 2];
        // SAFETY: a pipe and a fork whose child unshares its netns, reports, and waits to be killed.
        unsafe {
            assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
            let pid = libc::fork();
            if pid == 0 {
                let ok = libc::unshare(libc::CLONE_NEWNET) == 0;
                libc::write(p[1], [ok as u8].as_ptr() as *const libc::c_void, 1);
                libc::pause();
                libc::_exit(0);
            }
            let mut b = [0u8; 1];
            assert_eq!(libc::read(p[0], b.as_mut_ptr() as *mut libc::c_void, 1), 1);
            let joined = vec![Namespace { typ: "network".into(), path: Some(format!("/proc/{pid}/ns/net")) }];
            let r = validate("net.ipv4.ip_forward", &joined);
            libc::kill(pid, libc::SIGKILL);
            wait(pid);
            libc::close(p[0]);
            libc::close(p[1]);
            assert_eq!(b[0], 1, "unshare(CLONE_NEWNET) failed in the child");
            r.unwrap();
        }
    }

    #[test]
    fn uts_sysctls_need_a_uts_namespace() {
        validate("kernel.domainname", &ns(&["uts"])).unwrap();
        validate("kernel.hostname", &ns(&["uts"])).unwrap();
        assert!(err("kernel.domainname", &ns(&[])).contains("UTS namespace"));
    }

    #[test]
    fn host_wide_sysctls_are_refused() {
        let all = ns(&["ipc", "network", "uts", "mount", "pid", "user", "cgroup"]);
        for key in ["vm.swappiness", "kernel.core_pattern", "kernel.pid_max", "fs.file-max"] {
            assert!(err(key, &all).contains("not namespaced"), "{key}");
        }
        for key in ["", "net..x", "net/ipv4/ip_forward", "../../etc"] {
            assert!(err(key, &all).contains("not a sysctl name"), "{key:?}");
        }
    }

    #[test]
    fn validate_all_reports_the_first_bad_key() {
        let mut m = BTreeMap::new();
        m.insert("net.ipv4.ip_forward".to_string(), "1".to_string());
        m.insert("vm.overcommit_memory".to_string(), "1".to_string());
        let e = validate_all(&m, &ns(&["network"])).unwrap_err().to_string();
        assert!(e.contains("linux.sysctl.vm.overcommit_memory"), "{e}");
        assert_eq!(proc_path("net.ipv4.ip_forward"), "/proc/sys/net/ipv4/ip_forward");
    }
}
