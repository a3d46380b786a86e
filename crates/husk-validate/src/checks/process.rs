//! process: args, env, cwd, user (uid/gid/additionalGids/umask), rlimits, noNewPrivileges,
//! oomScoreAdj, terminal.

use crate::facts::{strings, Facts};
use crate::report::Report;
use crate::sys;
use serde_json::Value;
use std::collections::BTreeSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

pub fn check(facts: &Facts, report: &mut Report) {
    let Some(process) = facts.config.get("process") else { return };
    if let Some(args) = process.get("args") {
        let got: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
        report.expect_eq("process.args is the argv received", strings(Some(args)), got);
    }
    for entry in strings(process.get("env")) {
        let (key, value) = entry.split_once('=').unwrap_or((entry.as_str(), ""));
        let got = std::env::var_os(key).map(|v| v.to_string_lossy().into_owned());
        report.expect_eq(&format!("process.env {key}"), Some(value.to_string()), got);
    }
    if let Some(cwd) = process.get("cwd").and_then(Value::as_str) {
        let got = std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).map_err(|e| e.to_string());
        report.expect_eq_read("process.cwd", normalize_path(cwd), got.map(|p| normalize_path(&p)));
    }
    if let Some(user) = process.get("user") {
        check_user(user, report);
    }
    check_rlimits(process, report);
    if let Some(nnp) = process.get("noNewPrivileges").and_then(Value::as_bool) {
        // no_new_privs is inherited, so it is set if the runtime's own caller had it.
        let expected = nnp || facts.host.no_new_privs;
        let got = sys::status_field("NoNewPrivs").map(|v| v == "1");
        report.expect_eq_read("process.noNewPrivileges (NoNewPrivs)", expected, got);
    }
    if let Some(adj) = process.get("oomScoreAdj").and_then(Value::as_i64) {
        let got = std::fs::read_to_string("/proc/self/oom_score_adj")
            .map_err(|e| e.to_string())
            .and_then(|s| s.trim().parse::<i64>().map_err(|e| e.to_string()));
        report.expect_eq_read("process.oomScoreAdj", adj, got);
    }
    if let Some(terminal) = process.get("terminal").and_then(Value::as_bool) {
        check_terminal(terminal, report);
    }
}

fn normalize_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() { "/".to_string() } else { trimmed.to_string() }
}

fn check_user(user: &Value, report: &mut Report) {
    // SAFETY: the get*id calls cannot fail.
    let (uid, euid, gid, egid) = unsafe { (libc::getuid(), libc::geteuid(), libc::getgid(), libc::getegid()) };
    let want_uid = user.get("uid").and_then(Value::as_u64).unwrap_or(0) as u32;
    let want_gid = user.get("gid").and_then(Value::as_u64).unwrap_or(0) as u32;
    report.expect_eq("process.user.uid (real, effective)", (want_uid, want_uid), (uid, euid));
    report.expect_eq("process.user.gid (real, effective)", (want_gid, want_gid), (gid, egid));
    if let Some(extra) = user.get("additionalGids").and_then(Value::as_array) {
        let want: BTreeSet<u32> = extra.iter().filter_map(Value::as_u64).map(|g| g as u32).collect();
        report.check(
            "process.user.additionalGids (getgroups)",
            sys::getgroups().and_then(|groups| {
                let got: BTreeSet<u32> = groups.into_iter().collect();
                // The primary gid may also be listed; anything else is an unexpected extra group.
                let extra_groups: Vec<u32> = got.iter().copied().filter(|g| !want.contains(g) && *g != want_gid).collect();
                if want.is_subset(&got) && extra_groups.is_empty() {
                    Ok(())
                } else {
                    Err(format!("expected {want:?} (plus optionally {want_gid}), got {got:?}"))
                }
            }),
        );
    }
    if let Some(umask) = user.get("umask").and_then(Value::as_u64) {
        let got = sys::status_field("Umask").and_then(|v| u64::from_str_radix(&v, 8).map_err(|e| e.to_string()));
        report.expect_eq_read("process.user.umask", format!("{umask:04o}"), got.map(|m| format!("{m:04o}")));
    }
}

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    })
}

fn check_rlimits(process: &Value, report: &mut Report) {
    for limit in process.get("rlimits").and_then(Value::as_array).into_iter().flatten() {
        let name = limit.get("type").and_then(Value::as_str).unwrap_or("?");
        let what = format!("process.rlimits {name} (soft, hard)");
        let Some(resource) = rlimit_resource(name) else {
            report.fail(&what, "unknown rlimit type");
            continue;
        };
        let soft = limit.get("soft").and_then(Value::as_u64).unwrap_or(0);
        let hard = limit.get("hard").and_then(Value::as_u64).unwrap_or(0);
        report.expect_eq_read(&what, (soft, hard), sys::getrlimit(resource));
    }
}

fn check_terminal(terminal: bool, report: &mut Report) {
    report.expect_eq("process.terminal: stdin is a tty", terminal, sys::isatty(0));
    report.expect_eq("process.terminal: stdout is a tty", terminal, sys::isatty(1));
    if !terminal {
        return;
    }
    report.check(
        "process.terminal: /dev/console is the terminal on stdin",
        (|| {
            let console = std::fs::metadata("/dev/console").map_err(|e| format!("/dev/console: {e}"))?;
            if !console.file_type().is_char_device() {
                return Err("/dev/console is not a character device".to_string());
            }
            let stdin = std::fs::metadata("/proc/self/fd/0").map_err(|e| format!("stdin: {e}"))?;
            if console.rdev() != stdin.rdev() {
                return Err(format!(
                    "/dev/console is {}:{}, stdin is {}:{}",
                    sys::major(console.rdev()),
                    sys::minor(console.rdev()),
                    sys::major(stdin.rdev()),
                    sys::minor(stdin.rdev())
                ));
            }
            Ok(())
        })(),
    );
}
