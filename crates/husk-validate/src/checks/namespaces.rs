//! linux.namespaces: each configured type is a namespace other than the host's (or the one at
//! its `path`), each absent type is the host's; plus what a new namespace implies: pid 1,
//! uid/gid maps, cgroup roots, time offsets, hostname and domainname.

use crate::facts::Facts;
use crate::report::Report;
use crate::sys;
use serde_json::Value;

/// Config namespace type → /proc/self/ns entry.
const NAMESPACE_KINDS: [(&str, &str); 8] = [
    ("pid", "pid"),
    ("network", "net"),
    ("mount", "mnt"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("time", "time"),
];

pub fn check(facts: &Facts, report: &mut Report) {
    let configured: Vec<&Value> = facts.config.pointer("/linux/namespaces").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
    let find = |kind: &str| configured.iter().find(|ns| ns.get("type").and_then(Value::as_str) == Some(kind)).copied();
    for (kind, proc_name) in NAMESPACE_KINDS {
        let Some(&host_inode) = facts.host.namespaces.get(proc_name) else {
            report.note(&format!("host.json has no {proc_name} namespace inode; {kind} namespace not checked"));
            continue;
        };
        let own = sys::ns_inode(proc_name);
        match find(kind) {
            Some(ns) if ns.get("path").and_then(Value::as_str).is_some_and(|p| !p.is_empty()) => {
                let path = ns.get("path").and_then(Value::as_str).unwrap_or_default();
                match facts.host.joined_namespaces.get(kind) {
                    Some(&joined) => report.expect_eq_read(&format!("namespace {kind} is the one at {path}"), joined, own),
                    None => report.fail(&format!("namespace {kind} is the one at {path}"), "host.json lacks joinedNamespaces for it"),
                }
            }
            Some(_) => report.check(
                &format!("namespace {kind} is new (not the host's)"),
                own.and_then(|inode| if inode != host_inode { Ok(()) } else { Err(format!("still the host's namespace {inode}")) }),
            ),
            None => report.expect_eq_read(&format!("namespace {kind} is the host's (not configured)"), host_inode, own),
        }
    }
    let is_new = |kind: &str| find(kind).is_some_and(|ns| ns.get("path").and_then(Value::as_str).is_none_or(str::is_empty));
    // An exec'd process is not the init; the exec checks compare it with the init instead.
    if is_new("pid") && facts.exec.is_none() {
        report.expect_eq("new pid namespace: own pid is 1", 1, std::process::id());
    }
    if find("user").is_some() {
        check_id_map(&facts.config, "uidMappings", "/proc/self/uid_map", report);
        check_id_map(&facts.config, "gidMappings", "/proc/self/gid_map", report);
    }
    if is_new("cgroup") {
        report.check("new cgroup namespace: every cgroup is its root", cgroups_are_roots());
    }
    if is_new("time") {
        check_time_offsets(&facts.config, report);
    }
    if let Some(hostname) = facts.config.get("hostname").and_then(Value::as_str) {
        report.expect_eq_read("hostname", hostname.to_string(), sys::uname().map(|u| u.nodename));
    }
    if let Some(domainname) = facts.config.get("domainname").and_then(Value::as_str) {
        report.expect_eq_read("domainname", domainname.to_string(), sys::uname().map(|u| u.domainname));
    }
}

fn check_id_map(config: &Value, key: &str, proc_path: &str, report: &mut Report) {
    let Some(mappings) = config.pointer(&format!("/linux/{key}")).and_then(Value::as_array) else { return };
    let field = |m: &Value, k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(0);
    let mut expected: Vec<(u64, u64, u64)> = mappings.iter().map(|m| (field(m, "containerID"), field(m, "hostID"), field(m, "size"))).collect();
    expected.sort();
    let got = std::fs::read_to_string(proc_path).map_err(|e| format!("read {proc_path}: {e}")).map(|text| {
        let mut lines: Vec<(u64, u64, u64)> = text
            .lines()
            .filter_map(|line| {
                let n: Vec<u64> = line.split_whitespace().filter_map(|f| f.parse().ok()).collect();
                (n.len() == 3).then(|| (n[0], n[1], n[2]))
            })
            .collect();
        lines.sort();
        lines
    });
    report.expect_eq_read(&format!("linux.{key} = {proc_path} (containerID, hostID, size)"), expected, got);
}

fn cgroups_are_roots() -> Result<(), String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("read /proc/self/cgroup: {e}"))?;
    let not_root: Vec<&str> = text.lines().filter(|line| line.splitn(3, ':').nth(2) != Some("/")).collect();
    if not_root.is_empty() { Ok(()) } else { Err(format!("not at their root: {not_root:?}")) }
}

fn check_time_offsets(config: &Value, report: &mut Report) {
    let offsets = config.pointer("/linux/timeOffsets");
    let expected = |clock: &str| {
        let offset = offsets.and_then(|o| o.get(clock));
        let field = |k: &str| offset.and_then(|o| o.get(k)).and_then(Value::as_i64).unwrap_or(0);
        (field("secs"), field("nanosecs"))
    };
    let got = std::fs::read_to_string("/proc/self/timens_offsets").map_err(|e| format!("read /proc/self/timens_offsets: {e}"));
    for clock in ["monotonic", "boottime"] {
        let observed = got.clone().and_then(|text| time_offset(&text, clock).ok_or_else(|| format!("no {clock} line in {text:?}")));
        report.expect_eq_read(&format!("linux.timeOffsets.{clock} (secs, nanosecs)"), expected(clock), observed);
    }
}

/// The (secs, nanosecs) of one clock in /proc/self/timens_offsets ("monotonic 86400 0").
fn time_offset(text: &str, clock: &str) -> Option<(i64, i64)> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 3 && f[0] == clock { Some((f[1].parse().ok()?, f[2].parse().ok()?)) } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_offsets_parse_per_clock() {
        let text = "monotonic           86400         0\nboottime             3600       500\n";
        assert_eq!(time_offset(text, "monotonic"), Some((86400, 0)));
        assert_eq!(time_offset(text, "boottime"), Some((3600, 500)));
        assert_eq!(time_offset(text, "realtime"), None);
    }
}
