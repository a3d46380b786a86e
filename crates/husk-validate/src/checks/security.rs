//! linux.seccomp: the filter is on (/proc/self/status `Seccomp: 2`), and each syscall the
//! validator knows how to call harmlessly does what the profile says: fails with the configured
//! errno (SCMP_ACT_ERRNO, defaultErrnoRet), ENOSYS (SCMP_ACT_TRACE without a tracer), or runs
//! (ALLOW, LOG). Rules are matched as runc loads them: conditions on distinct arguments are
//! ANDed, several conditions on one argument make one rule each (ORed). Actions that end or stop
//! the process (KILL*, TRAP, NOTIFY) are not called here; the tests check those from outside.

use crate::facts::{strings, Facts};
use crate::report::Report;
use crate::sys;
use serde_json::Value;
use std::ffi::CString;

pub fn check(facts: &Facts, report: &mut Report) {
    let Some(profile) = facts.config.pointer("/linux/seccomp").filter(|v| v.is_object()) else { return };
    report.expect_eq_read("linux.seccomp: /proc/self/status Seccomp is 2 (filter mode)", "2".to_string(), sys::status_field("Seccomp"));
    if !native_arch_listed(profile) {
        report.note("linux.seccomp.architectures does not list this architecture; syscalls not probed");
        return;
    }
    for attempt in probes::attempts() {
        let label = format!("linux.seccomp {}", attempt.label);
        match expect(profile, attempt.name, &attempt.args) {
            Expect::Errno(errno, why) => {
                let (ret, got) = attempt.call();
                let what = format!("{label}: fails with errno {errno} ({why})");
                if ret == -1 && got == errno {
                    report.pass(&what);
                } else {
                    report.fail(&what, &format!("returned {ret}, errno {got} ({})", errno_name(got)));
                }
            }
            Expect::ErrnoOrEnosys(errno, why) => {
                let (ret, got) = attempt.call();
                let what = format!("{label}: fails with errno {errno} or ENOSYS ({why})");
                if ret == -1 && (got == errno || got == libc::ENOSYS) {
                    report.pass(&what);
                    report.note(&format!("{label}: got errno {got}"));
                } else {
                    report.fail(&what, &format!("returned {ret}, errno {got} ({})", errno_name(got)));
                }
            }
            Expect::Runs(why) => {
                let (ret, got) = attempt.call();
                let what = format!("{label}: runs ({why})");
                if (attempt.natural)(ret, got) {
                    report.pass(&what);
                } else {
                    report.fail(&what, &format!("returned {ret}, errno {got} ({}), not what the kernel gives an allowed call", errno_name(got)));
                }
            }
            Expect::FromOutside(why) => report.note(&format!("{label}: {why} is checked from outside (not called)")),
            Expect::Ambiguous(why) => report.note(&format!("{label}: not checked: {why}")),
            Expect::Unmentioned => {}
        }
    }
}

fn native_arch_listed(profile: &Value) -> bool {
    let arches = strings(profile.get("architectures"));
    let native = if cfg!(target_arch = "x86_64") {
        "SCMP_ARCH_X86_64"
    } else if cfg!(target_arch = "aarch64") {
        "SCMP_ARCH_AARCH64"
    } else {
        return false;
    };
    // No list means the native architecture only.
    arches.is_empty() || arches.iter().any(|a| a == native)
}

enum Expect {
    Errno(i32, String),
    /// Not named by the profile, default action denies: runc-style runtimes may answer ENOSYS
    /// for syscalls newer than any the profile names.
    ErrnoOrEnosys(i32, String),
    Runs(String),
    FromOutside(String),
    Ambiguous(String),
    /// Neither a rule nor a restrictive default says anything about this call.
    Unmentioned,
}

/// An action as the filter applies it: (kind, errno for ERRNO).
#[derive(Clone, Debug, PartialEq)]
enum Act {
    Errno(i32),
    Trace,
    Runs,
    Stops(String),
}

fn action(name: &str, errno_ret: Option<i64>) -> Option<Act> {
    Some(match name {
        "SCMP_ACT_ERRNO" => Act::Errno(errno_ret.unwrap_or(libc::EPERM as i64) as i32),
        "SCMP_ACT_TRACE" => Act::Trace,
        "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG" => Act::Runs,
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" | "SCMP_ACT_KILL_PROCESS" | "SCMP_ACT_TRAP" | "SCMP_ACT_NOTIFY" => Act::Stops(name.to_string()),
        _ => return None,
    })
}

fn describe(act: &Act, name: &str) -> Expect {
    match act {
        Act::Errno(e) => Expect::Errno(*e, name.to_string()),
        // With no tracer attached the kernel fails the syscall with ENOSYS.
        Act::Trace => Expect::Errno(libc::ENOSYS, format!("{name} without a tracer")),
        Act::Runs => Expect::Runs(name.to_string()),
        Act::Stops(n) => Expect::FromOutside(n.clone()),
    }
}

/// What the profile makes of `syscall(args)`.
fn expect(profile: &Value, syscall: &str, args: &[u64; 6]) -> Expect {
    let default_name = profile.get("defaultAction").and_then(Value::as_str).unwrap_or("SCMP_ACT_ALLOW");
    let Some(default) = action(default_name, profile.get("defaultErrnoRet").and_then(Value::as_i64)) else {
        return Expect::Ambiguous(format!("unknown defaultAction {default_name}"));
    };
    let mut named = false;
    let mut matched: Vec<(Act, String)> = Vec::new();
    for rule in profile.get("syscalls").and_then(Value::as_array).into_iter().flatten() {
        if !strings(rule.get("names")).iter().any(|n| n == syscall) {
            continue;
        }
        named = true;
        let name = rule.get("action").and_then(Value::as_str).unwrap_or("");
        let Some(act) = action(name, rule.get("errnoRet").and_then(Value::as_i64)) else {
            return Expect::Ambiguous(format!("unknown action {name}"));
        };
        // A rule with the default action changes nothing (and runtimes skip it).
        if act == default {
            continue;
        }
        match rule_matches(rule.get("args"), args) {
            Ok(true) => matched.push((act, name.to_string())),
            Ok(false) => {}
            Err(e) => return Expect::Ambiguous(e),
        }
    }
    matched.dedup_by(|a, b| a.0 == b.0);
    match matched.as_slice() {
        [] => {
            let why = format!("defaultAction {default_name}");
            match default {
                Act::Runs if !named => Expect::Unmentioned,
                Act::Errno(e) if !named => Expect::ErrnoOrEnosys(e, why),
                other => describe(&other, &why),
            }
        }
        [(act, name)] => describe(act, name),
        _ => Expect::Ambiguous(format!("several rules with different actions match: {:?}", matched.iter().map(|m| &m.1).collect::<Vec<_>>())),
    }
}

/// Whether a rule's `args` conditions hold for these argument values.
fn rule_matches(conditions: Option<&Value>, args: &[u64; 6]) -> Result<bool, String> {
    let Some(list) = conditions.and_then(Value::as_array).filter(|l| !l.is_empty()) else { return Ok(true) };
    let mut results = Vec::new();
    let mut indices = Vec::new();
    for c in list {
        let index = c.get("index").and_then(Value::as_u64).ok_or("a condition without index")? as usize;
        let value = c.get("value").and_then(Value::as_u64).unwrap_or(0);
        let value_two = c.get("valueTwo").and_then(Value::as_u64).unwrap_or(0);
        let op = c.get("op").and_then(Value::as_str).unwrap_or("");
        let arg = *args.get(index).ok_or_else(|| format!("condition on argument {index}"))?;
        results.push(match op {
            "SCMP_CMP_NE" => arg != value,
            "SCMP_CMP_LT" => arg < value,
            "SCMP_CMP_LE" => arg <= value,
            "SCMP_CMP_EQ" => arg == value,
            "SCMP_CMP_GE" => arg >= value,
            "SCMP_CMP_GT" => arg > value,
            "SCMP_CMP_MASKED_EQ" => arg & value == value_two,
            _ => return Err(format!("unknown operator {op:?}")),
        });
        indices.push(index);
    }
    let mut sorted = indices.clone();
    sorted.sort_unstable();
    sorted.dedup();
    // runc: several conditions on one argument become one rule each, else one rule with all.
    Ok(if sorted.len() < indices.len() { results.iter().any(|r| *r) } else { results.iter().all(|r| *r) })
}

fn errno_name(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// One harmless call: the syscall, the argument values the filter sees, and what the kernel
/// answers when the filter lets it through.
pub struct Attempt {
    name: &'static str,
    label: String,
    nr: libc::c_long,
    args: [u64; 6],
    natural: fn(i64, i32) -> bool,
    cleanup: fn(i64, &[u64; 6]),
    /// Memory the pointer arguments point into (a path, a buffer).
    _keep: Vec<CString>,
    _buf: Option<Box<libc::utsname>>,
}

impl Attempt {
    fn call(&self) -> (i64, i32) {
        let a = self.args;
        // SAFETY: the probes are chosen to be harmless; pointer arguments point into `_keep`/`_buf`.
        let ret = unsafe { libc::syscall(self.nr, a[0], a[1], a[2], a[3], a[4], a[5]) } as i64;
        let errno = if ret == -1 { std::io::Error::last_os_error().raw_os_error().unwrap_or(0) } else { 0 };
        (self.cleanup)(ret, &self.args);
        (ret, errno)
    }
}

#[cfg(target_arch = "x86_64")]
mod probes {
    use super::Attempt;
    use std::ffi::CString;

    fn nothing(_: i64, _: &[u64; 6]) {}
    fn close_fd(ret: i64, _: &[u64; 6]) {
        if ret >= 0 {
            // SAFETY: closing the fd the probe just opened.
            unsafe { libc::close(ret as i32) };
        }
    }
    fn remove_dir(ret: i64, args: &[u64; 6]) {
        if ret == 0 {
            // SAFETY: args[0] is the path the probe created (kept alive by the attempt).
            unsafe { libc::rmdir(args[0] as *const libc::c_char) };
        }
    }
    fn succeeds(ret: i64, _: i32) -> bool {
        ret >= 0
    }

    fn attempt(name: &'static str, label: &str, nr: libc::c_long, args: [u64; 6], natural: fn(i64, i32) -> bool) -> Attempt {
        Attempt { name, label: label.to_string(), nr, args, natural, cleanup: nothing, _keep: Vec::new(), _buf: None }
    }

    pub fn attempts() -> Vec<Attempt> {
        let mut list = vec![
            attempt("getppid", "getppid()", libc::SYS_getppid, [0; 6], succeeds),
            attempt("sched_yield", "sched_yield()", libc::SYS_sched_yield, [0; 6], succeeds),
            attempt("unshare", "unshare(0)", libc::SYS_unshare, [0; 6], succeeds),
            attempt("setns", "setns(-1, 0)", libc::SYS_setns, [u64::MAX, 0, 0, 0, 0, 0], |ret, e| ret == -1 && e == libc::EBADF),
            attempt("personality", "personality(0xffffffff) (query)", libc::SYS_personality, [0xffff_ffff, 0, 0, 0, 0, 0], succeeds),
            attempt("getpriority", "getpriority(PRIO_PROCESS, 0)", libc::SYS_getpriority, [0; 6], succeeds),
            // SAFETY: getpid cannot fail.
            attempt("kill", "kill(self, 0)", libc::SYS_kill, [unsafe { libc::getpid() } as u64, 0, 0, 0, 0, 0], succeeds),
        ];
        for (label, args) in [
            ("socket(AF_UNIX, SOCK_STREAM, 0)", [1, 1, 0]),
            ("socket(AF_UNIX, SOCK_DGRAM, 0)", [1, 2, 0]),
            ("socket(AF_INET, SOCK_DGRAM, 0)", [2, 2, 0]),
            ("socket(AF_INET6, SOCK_DGRAM, 0)", [10, 2, 0]),
            ("socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)", [16, 3, 0]),
        ] {
            let mut a = attempt("socket", label, libc::SYS_socket, [args[0], args[1], args[2], 0, 0, 0], |ret, e| ret >= 0 || e == libc::EAFNOSUPPORT);
            a.cleanup = close_fd;
            list.push(a);
        }
        let mut dup = attempt("dup", "dup(0)", libc::SYS_dup, [0; 6], succeeds);
        dup.cleanup = close_fd;
        list.push(dup);

        let mut buf: Box<libc::utsname> = Box::new(unsafe { std::mem::zeroed() });
        let ptr = &mut *buf as *mut libc::utsname as u64;
        let mut uname = attempt("uname", "uname(buf)", libc::SYS_uname, [ptr, 0, 0, 0, 0, 0], |ret, _| ret == 0);
        uname._buf = Some(buf);
        list.push(uname);

        // chdir to where we already are: the call changes nothing whether it runs or not.
        if let Ok(cwd) = std::env::current_dir() {
            if let Ok(path) = CString::new(cwd.as_os_str().as_encoded_bytes()) {
                let mut a = attempt("chdir", &format!("chdir({:?})", cwd.display().to_string()), libc::SYS_chdir, [path.as_ptr() as u64, 0, 0, 0, 0, 0], |ret, _| ret == 0);
                a._keep.push(path);
                list.push(a);
            }
        }
        // SAFETY: getpid cannot fail.
        let dir = CString::new(format!("/tmp/.husk-validate-seccomp-{}", unsafe { libc::getpid() })).unwrap_or_default();
        let mut mkdir = attempt("mkdir", "mkdir(\"/tmp/.husk-validate-seccomp-PID\", 0700)", libc::SYS_mkdir, [dir.as_ptr() as u64, 0o700, 0, 0, 0, 0], |ret, e| {
            ret == 0 || [libc::EROFS, libc::EACCES, libc::EEXIST, libc::ENOENT].contains(&e)
        });
        mkdir.cleanup = remove_dir;
        mkdir._keep.push(dir);
        list.push(mkdir);
        list
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod probes {
    pub fn attempts() -> Vec<super::Attempt> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn errno_rules_and_default() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["getppid"],"action":"SCMP_ACT_ERRNO"},
                {"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":95},
                {"names":["uname"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        assert!(matches!(expect(&p, "getppid", &[0; 6]), Expect::Errno(1, _)));
        assert!(matches!(expect(&p, "mkdir", &[0; 6]), Expect::Errno(95, _)));
        assert!(matches!(expect(&p, "uname", &[0; 6]), Expect::Runs(_)));
        assert!(matches!(expect(&p, "chdir", &[0; 6]), Expect::Unmentioned));
        let d = profile(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38,"syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ALLOW"}]}"#);
        assert!(matches!(expect(&d, "getppid", &[0; 6]), Expect::Runs(_)));
        assert!(matches!(expect(&d, "unshare", &[0; 6]), Expect::ErrnoOrEnosys(38, _)));
    }

    #[test]
    fn argument_conditions() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["socket"],"action":"SCMP_ACT_ERRNO","errnoRet":97,"args":[{"index":0,"value":2,"op":"SCMP_CMP_EQ"},{"index":1,"value":2,"op":"SCMP_CMP_EQ"}]},
                {"names":["personality"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":255,"valueTwo":255,"op":"SCMP_CMP_MASKED_EQ"}]},
                {"names":["kill"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":0,"op":"SCMP_CMP_EQ"},{"index":1,"value":9,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        assert!(matches!(expect(&p, "socket", &[2, 2, 0, 0, 0, 0]), Expect::Errno(97, _)));
        assert!(matches!(expect(&p, "socket", &[2, 1, 0, 0, 0, 0]), Expect::Runs(_)));
        assert!(matches!(expect(&p, "socket", &[1, 2, 0, 0, 0, 0]), Expect::Runs(_)));
        assert!(matches!(expect(&p, "personality", &[0xffff_ffff, 0, 0, 0, 0, 0]), Expect::Errno(1, _)));
        assert!(matches!(expect(&p, "kill", &[5, 9, 0, 0, 0, 0]), Expect::Errno(1, _)));
        assert!(matches!(expect(&p, "kill", &[5, 15, 0, 0, 0, 0]), Expect::Runs(_)));
    }

    #[test]
    fn stopping_actions_are_not_called() {
        let p = profile(r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_KILL"},{"names":["uname"],"action":"SCMP_ACT_TRACE"}]}"#);
        assert!(matches!(expect(&p, "getppid", &[0; 6]), Expect::FromOutside(_)));
        assert!(matches!(expect(&p, "uname", &[0; 6]), Expect::Errno(libc::ENOSYS, _)));
    }
}
