//! exec (only with `--exec`): the exec'd process is not the init, is in each of the init's
//! namespaces (its /proc/self/ns inodes are those the host read from /proc/<init>/ns, and those
//! of /proc/<init>/ns inside where this process may read them), and in the init's cgroups
//! (/proc/self/cgroup equals /proc/<init>/cgroup).

use crate::facts::Facts;
use crate::report::Report;
use crate::sys;

/// /proc/<pid>/ns names compared when host.json does not list the init's.
const NS_NAMES: [&str; 8] = ["pid", "net", "mnt", "ipc", "uts", "user", "cgroup", "time"];

pub fn check(facts: &Facts, report: &mut Report) {
    let Some(exec) = &facts.exec else { return };
    report.note(&format!("exec'd process, checked against {}", exec.process_path.display()));
    let Some(init) = facts.init_pid() else {
        report.fail("exec: find the init", "no new pid namespace and host.json has no initPid");
        return;
    };
    report.check(
        &format!("exec: not the container's init (pid {init})"),
        if std::process::id() != init { Ok(()) } else { Err("this process is the init".to_string()) },
    );
    let names: Vec<&str> =
        if facts.host.init_namespaces.is_empty() { NS_NAMES.to_vec() } else { facts.host.init_namespaces.keys().map(String::as_str).collect() };
    for name in names {
        if !std::path::Path::new(&format!("/proc/self/ns/{name}")).exists() {
            report.note(&format!("this kernel has no {name} namespace; not compared"));
            continue;
        }
        let host_view = facts.host.init_namespaces.get(name).copied();
        let inside = init_ns_inode(init, name);
        if let (None, Err(err)) = (host_view, &inside) {
            report.note(&format!("/proc/{init}/ns/{name} is not readable here ({err})"));
        }
        report.check(&format!("exec: namespace {name} is the init's"), same_namespace(sys::ns_inode(name), host_view, inside));
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("read /proc/self/cgroup: {e}"));
    let init_cgroup = std::fs::read_to_string(format!("/proc/{init}/cgroup")).map_err(|e| format!("read /proc/{init}/cgroup: {e}"));
    match init_cgroup {
        Ok(expected) => report.expect_eq_read(&format!("exec: /proc/self/cgroup is the init's (/proc/{init}/cgroup)"), expected, own),
        Err(err) => report.fail(&format!("exec: /proc/self/cgroup is the init's (/proc/{init}/cgroup)"), &err),
    }
}

/// The inode of /proc/<pid>/ns/<name>; reading it needs ptrace access to the init (EACCES for
/// an exec'd process that is not root).
fn init_ns_inode(pid: u32, name: &str) -> Result<u64, String> {
    let path = format!("/proc/{pid}/ns/{name}");
    let link = std::fs::read_link(&path).map_err(|e| format!("readlink {path}: {e}"))?;
    sys::parse_ns_link(&link.to_string_lossy()).ok_or_else(|| format!("unexpected ns link {}", link.display()))
}

/// Own inode against the init's: the host's view when given, and the one read inside when
/// readable; both must agree when both are there.
fn same_namespace(own: Result<u64, String>, host_view: Option<u64>, inside: Result<u64, String>) -> Result<(), String> {
    let own = own?;
    let expected = match (host_view, &inside) {
        (Some(host), Ok(inside)) if host != *inside => {
            return Err(format!("the host saw the init in {host}, but /proc/<init>/ns shows {inside}"));
        }
        (Some(host), _) => host,
        (None, Ok(inside)) => *inside,
        (None, Err(err)) => return Err(format!("the init's namespace is unknown: {err}")),
    };
    if own == expected { Ok(()) } else { Err(format!("expected the init's {expected}, got {own}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_comparison() {
        assert_eq!(same_namespace(Ok(5), Some(5), Err("denied".into())), Ok(()));
        assert_eq!(same_namespace(Ok(5), None, Ok(5)), Ok(()));
        assert!(same_namespace(Ok(5), Some(6), Err("denied".into())).is_err());
        assert!(same_namespace(Ok(5), Some(5), Ok(6)).is_err());
        assert!(same_namespace(Ok(5), None, Err("denied".into())).is_err());
    }
}
