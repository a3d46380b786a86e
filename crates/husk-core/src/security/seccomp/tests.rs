//! seccomp tests: validation messages, compiling every action/operator and the Docker default
//! profile, and filters loaded in forked children (root) whose results come back as exit codes.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::profile::{FLAG_LOG, FLAG_NEW_LISTENER, FLAG_SPEC_ALLOW, FLAG_TSYNC, FLAG_TSYNC_ESRCH};
use super::*;
use crate::security::testutil::{describe, in_child, sys, wait};

const DOCKER_DEFAULT: &str = include_str!("../testdata/docker-default-amd64.json");

fn docker_default() -> Value {
    serde_json::from_str(DOCKER_DEFAULT).unwrap()
}

fn compile_err(spec: Value) -> String {
    compile(&spec).expect_err("the profile should be refused").to_string()
}

fn allow_all_but(rules: Value) -> Value {
    json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules })
}

/// Loads `plan` in a forked child and runs `body` there; returns the wait status.
fn run_filtered(plan: &SeccompPlan, body: impl FnOnce() -> i32) -> i32 {
    in_child(|| match plan.load_raw() {
        Ok(_) => body(),
        Err(_) => 200,
    })
}

fn umask_raw(v: u64) -> Result<libc::c_long, i32> {
    // SAFETY: umask changes only the (forked) caller's mask.
    sys(unsafe { libc::syscall(libc::SYS_umask, v) })
}

// ---- validation ----

#[test]
fn errors_name_the_field() {
    let cases = [
        (json!({"defaultAction": "SCMP_ACT_NOPE"}), "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\""),
        (json!({}), "linux.seccomp.defaultAction: missing"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}), "linux.seccomp.architectures[0]: unknown architecture \"SCMP_ARCH_VAX\""),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_X"]}), "linux.seccomp.flags[1]: unknown flag \"SECCOMP_FILTER_FLAG_X\""),
        (allow_all_but(json!([{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}, {"names": ["read", "Bad Name"], "action": "SCMP_ACT_ERRNO"}])), "linux.seccomp.syscalls[1].names[1]: \"Bad Name\" is not a syscall name"),
        (allow_all_but(json!([{"names": ["getpid"], "action": "SCMP_ACT_BLOCK"}])), "linux.seccomp.syscalls[0].action: unknown action \"SCMP_ACT_BLOCK\""),
        (allow_all_but(json!([{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}])), "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_ABOUT\""),
        (allow_all_but(json!([{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}])), "linux.seccomp.syscalls[0].args[0].index: 6 is out of range"),
        (allow_all_but(json!([{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_EQ"}]}])), "linux.seccomp.syscalls[0].args[0].value: missing"),
        (allow_all_but(json!([{"names": ["getpid"], "action": "SCMP_ACT_KILL", "errnoRet": 5}])), "linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_KILL takes no errno"),
        (allow_all_but(json!([{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}])), "linux.seccomp.syscalls[0].errnoRet: 70000 is out of range"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 3}), "linux.seccomp.defaultErrnoRet: SCMP_ACT_ALLOW takes no errno"),
        (json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/agent.sock"}), "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"),
        (allow_all_but(json!([{"names": ["getpid"], "action": "SCMP_ACT_NOTIFY"}])), "linux.seccomp.listenerPath: required when a rule uses SCMP_ACT_NOTIFY"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a", "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]}), "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for write"),
        (json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}), "linux.seccomp.syscalls[0].names: missing"),
        (json!("SCMP_ACT_ALLOW"), "linux.seccomp: must be an object"),
    ];
    for (spec, want) in cases {
        let got = compile_err(spec);
        assert!(got.contains(want), "got {got:?}, want it to contain {want:?}");
    }
}

#[test]
fn syscalls_libseccomp_does_not_know_are_skipped_like_runc() {
    let plan = compile(&allow_all_but(json!([{"names": ["getpid", "no_such_syscall_husk"], "action": "SCMP_ACT_ERRNO"}]))).unwrap();
    assert_eq!(plan.skipped_syscalls, vec!["no_such_syscall_husk".to_string()]);
}

#[test]
fn syscalls_of_other_architectures_only_are_accepted() {
    // socketcall and the *32 calls exist on x86 but not x86_64: libseccomp maps them per arch
    let spec = json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["socketcall", "getuid32", "read", "exit_group"], "action": "SCMP_ACT_ALLOW"}]});
    let plan = compile(&spec).unwrap();
    assert!(plan.skipped_syscalls.is_empty(), "{:?}", plan.skipped_syscalls);
}

#[test]
fn every_action_and_operator_compiles() {
    let actions = ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"];
    let names = ["getpid", "getppid", "getuid", "getgid", "geteuid", "getegid", "gettid", "getpgrp"];
    let rules: Vec<Value> = actions.iter().zip(names).map(|(a, n)| json!({"names": [n], "action": a})).collect();
    let plan = compile(&json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock", "syscalls": rules})).unwrap();
    assert!(plan.uses_notify());
    assert_eq!(plan.flags() & FLAG_NEW_LISTENER, FLAG_NEW_LISTENER);

    for op in profile::OPERATORS {
        let spec = allow_all_but(json!([{"names": ["umask"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 15, "valueTwo": 4, "op": op}]}]));
        compile(&spec).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    for default in actions.iter().filter(|a| **a != "SCMP_ACT_NOTIFY") {
        compile(&json!({"defaultAction": default, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}))
            .unwrap_or_else(|e| panic!("default {default}: {e}"));
    }
}

#[test]
fn a_rule_repeating_the_default_action_is_skipped() {
    let plan = compile(&json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}]})).unwrap();
    assert!(!plan.instructions().is_empty());
}

#[test]
fn flags_map_to_seccomp2_flags() {
    let spec = json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]});
    let plan = compile(&spec).unwrap();
    // WAIT_KILLABLE_RECV means nothing (and is EINVAL) without a listener
    assert_eq!(plan.flags(), FLAG_LOG | FLAG_SPEC_ALLOW);

    let spec = json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"], "listenerPath": "/a", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]});
    let plan = compile(&spec).unwrap();
    assert_eq!(plan.flags(), FLAG_TSYNC | FLAG_TSYNC_ESRCH | FLAG_NEW_LISTENER | profile::FLAG_WAIT_KILLABLE_RECV);
    let status = run_filtered(&plan, || 0);
    assert_eq!(describe(status), "exit 0", "loading with TSYNC|NEW_LISTENER|WAIT_KILLABLE_RECV");
}

#[test]
fn features_lists_what_the_kernel_supports() {
    let f = features();
    assert_eq!(f["enabled"], true);
    assert!(f["actions"].as_array().unwrap().iter().any(|a| a == "SCMP_ACT_NOTIFY"));
    assert!(f["supportedFlags"].as_array().unwrap().iter().any(|a| a == "SECCOMP_FILTER_FLAG_SPEC_ALLOW"));
}

// ---- the Docker default profile ----

#[test]
fn docker_default_profile_compiles_fast() {
    let spec = docker_default();
    let first = Instant::now();
    let plan = compile(&spec).unwrap();
    let first = first.elapsed();
    let mut times: Vec<Duration> = (0..20)
        .map(|_| {
            let t = Instant::now();
            compile(&spec).unwrap();
            t.elapsed()
        })
        .collect();
    times.sort();
    eprintln!(
        "docker default profile: {} BPF instructions, skipped {:?}; compile first {:?}, median {:?}, min {:?}",
        plan.instructions().len(),
        plan.skipped_syscalls,
        first,
        times[times.len() / 2],
        times[0]
    );
    assert!(plan.instructions().len() < MAX_INSTRUCTIONS);
    // libseccomp's own cost (~10-20 ms); only a pathological regression should fail here
    assert!(times[times.len() / 2] < Duration::from_millis(500), "compile is far too slow: {times:?}");
}

#[test]
fn docker_default_profile_enforces_in_a_child() {
    let plan = compile(&docker_default()).unwrap();
    assert!(!plan.uses_notify());
    let status = run_filtered(&plan, || {
        // SAFETY: raw syscalls in the forked child; none has side effects outside it.
        unsafe {
            if sys(libc::syscall(libc::SYS_getppid)).is_err() {
                return 1;
            }
            // clone3 is ERRNO(38) so glibc falls back to clone
            if sys(libc::syscall(libc::SYS_clone3, 0usize, 0usize)) != Err(libc::ENOSYS) {
                return 2;
            }
            // socket(AF_VSOCK) is the one family the profile refuses
            if sys(libc::syscall(libc::SYS_socket, 40, libc::SOCK_STREAM, 0)) != Err(libc::EPERM) {
                return 3;
            }
            // not in the profile and older than its newest syscall: the default action, EPERM
            if sys(libc::syscall(libc::SYS_unshare, 0)) != Err(libc::EPERM) {
                return 4;
            }
            // newer than every syscall the profile names: the ENOSYS stub
            if sys(libc::syscall(1000, 0)) != Err(libc::ENOSYS) {
                return 5;
            }
            // personality(PER_LINUX32) is allowed by an argument filter, 0x1234 is not
            if sys(libc::syscall(libc::SYS_personality, 0xffff_ffffu64)).is_err() {
                return 6;
            }
            if sys(libc::syscall(libc::SYS_personality, 0x1234u64)) != Err(libc::EPERM) {
                return 7;
            }
        }
        0
    });
    assert_eq!(describe(status), "exit 0");
}

// ---- actions, in forked children ----

#[test]
fn errno_action_returns_the_configured_errno() {
    let plan = compile(&allow_all_but(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]))).unwrap();
    // SAFETY: a raw getppid in the child.
    let status = run_filtered(&plan, || match sys(unsafe { libc::syscall(libc::SYS_getppid) }) {
        Err(42) => 0,
        Err(_) => 1,
        Ok(_) => 2,
    });
    assert_eq!(describe(status), "exit 0");
}

#[test]
fn errno_without_errno_ret_is_eperm() {
    let plan = compile(&allow_all_but(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]))).unwrap();
    // SAFETY: a raw getppid in the child.
    let status = run_filtered(&plan, || if sys(unsafe { libc::syscall(libc::SYS_getppid) }) == Err(libc::EPERM) { 0 } else { 1 });
    assert_eq!(describe(status), "exit 0");
}

#[test]
fn default_errno_ret_applies_to_the_default_action() {
    let spec = json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 77, "syscalls": [{"names": ["exit_group", "exit"], "action": "SCMP_ACT_ALLOW"}]});
    let plan = compile(&spec).unwrap();
    // SAFETY: a raw getppid in the child.
    let status = run_filtered(&plan, || if sys(unsafe { libc::syscall(libc::SYS_getppid) }) == Err(77) { 0 } else { 1 });
    assert_eq!(describe(status), "exit 0");
}

#[test]
fn mkdir_argument_filter_matches_only_the_mode() {
    // mkdir fails with EACCES when (mode & 0o7) == 0o5; other modes reach the kernel (ENOENT)
    let spec = allow_all_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::EACCES,
        "args": [{"index": 1, "value": 0o7, "valueTwo": 0o5, "op": "SCMP_CMP_MASKED_EQ"}]}]));
    let plan = compile(&spec).unwrap();
    let status = run_filtered(&plan, || {
        let path = c"/nonexistent-husk-seccomp-test/dir";
        // SAFETY: mkdir under a directory that does not exist changes nothing.
        let (denied, passed) = unsafe { (sys(libc::syscall(libc::SYS_mkdir, path.as_ptr(), 0o755)), sys(libc::syscall(libc::SYS_mkdir, path.as_ptr(), 0o700))) };
        match (denied, passed) {
            (Err(libc::EACCES), Err(libc::ENOENT)) => 0,
            (Err(libc::EACCES), _) => 1,
            _ => 2,
        }
    });
    assert_eq!(describe(status), "exit 0");
}

#[test]
fn every_operator_compares_as_libseccomp_says() {
    // umask(v) for v in 99, 100, 101; bit i of the exit code: the i-th call was denied
    let cases = [
        ("SCMP_CMP_NE", 100, 0, 0b101),
        ("SCMP_CMP_LT", 100, 0, 0b001),
        ("SCMP_CMP_LE", 100, 0, 0b011),
        ("SCMP_CMP_EQ", 100, 0, 0b010),
        ("SCMP_CMP_GE", 100, 0, 0b110),
        ("SCMP_CMP_GT", 100, 0, 0b100),
        ("SCMP_CMP_MASKED_EQ", 0x0f, 4, 0b010), // 99 & 15 = 3, 100 & 15 = 4, 101 & 15 = 5
    ];
    for (op, value, value_two, want) in cases {
        let spec = allow_all_but(json!([{"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42,
            "args": [{"index": 0, "value": value, "valueTwo": value_two, "op": op}]}]));
        let plan = compile(&spec).unwrap();
        let status = run_filtered(&plan, || {
            let mut denied = 0;
            for (i, v) in [99u64, 100, 101].into_iter().enumerate() {
                if umask_raw(v) == Err(42) {
                    denied |= 1 << i;
                }
            }
            denied
        });
        assert_eq!(describe(status), format!("exit {want}"), "{op}");
    }
}

#[test]
fn conditions_on_distinct_arguments_are_anded_same_argument_ored() {
    // getpriority(which, who): denied only when which == PRIO_PROCESS(0) AND who == 4242
    let spec = allow_all_but(json!([
        {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42,
         "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 4242, "op": "SCMP_CMP_EQ"}]},
        {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 43,
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}
    ]));
    let plan = compile(&spec).unwrap();
    let status = run_filtered(&plan, || {
        // SAFETY: getpriority only reads; umask only affects the forked child.
        let getprio = |which: i32, who: i32| sys(unsafe { libc::syscall(libc::SYS_getpriority, which, who) });
        if getprio(0, 4242) != Err(42) {
            return 1;
        }
        if getprio(0, 0) == Err(42) || getprio(1, 4242) == Err(42) {
            return 2;
        }
        if umask_raw(1) != Err(43) || umask_raw(2) != Err(43) || umask_raw(3) == Err(43) {
            return 3;
        }
        0
    });
    assert_eq!(describe(status), "exit 0");
}

#[test]
fn kill_actions_kill_with_sigsys() {
    for action in ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"] {
        let plan = compile(&allow_all_but(json!([{"names": ["getppid"], "action": action}]))).unwrap();
        // SAFETY: a raw getppid in the child; it should not return.
        let status = run_filtered(&plan, || {
            unsafe { libc::syscall(libc::SYS_getppid) };
            0
        });
        assert_eq!(describe(status), format!("signal {}", libc::SIGSYS), "{action}");
    }
}

#[test]
fn log_and_trace_actions() {
    // LOG runs the syscall; TRACE with no tracer attached fails it with ENOSYS
    let spec = allow_all_but(json!([{"names": ["getppid"], "action": "SCMP_ACT_LOG"}, {"names": ["getuid"], "action": "SCMP_ACT_TRACE"}]));
    let plan = compile(&spec).unwrap();
    let status = run_filtered(&plan, || {
        // SAFETY: raw getppid/getuid in the child.
        let (ppid, uid) = unsafe { (sys(libc::syscall(libc::SYS_getppid)), sys(libc::syscall(libc::SYS_getuid))) };
        match (ppid, uid) {
            (Ok(p), Err(libc::ENOSYS)) if p > 0 => 0,
            (Ok(_), _) => 1,
            _ => 2,
        }
    });
    assert_eq!(describe(status), "exit 0");
}

#[test]
fn loading_needs_no_new_privs_or_cap_sys_admin() {
    let plan = compile(&allow_all_but(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]))).unwrap();
    let status = in_child(|| {
        // SAFETY: raw setresuid/prctl/getppid in the forked child.
        unsafe {
            // root → nobody drops every capability
            if libc::setresuid(65534, 65534, 65534) != 0 {
                return 10;
            }
            if plan.load_raw() != Err(libc::EACCES) {
                return 1;
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return 11;
            }
            if plan.load_raw().is_err() {
                return 2;
            }
            if sys(libc::syscall(libc::SYS_getppid)) != Err(42) {
                return 3;
            }
        }
        0
    });
    assert_eq!(describe(status), "exit 0");
}

// ---- notify ----

/// struct seccomp_notif and seccomp_notif_resp of <linux/seccomp.h>.
#[repr(C)]
#[derive(Default)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

const SECCOMP_IOCTL_NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const SECCOMP_IOCTL_NOTIF_SEND: libc::c_ulong = 0xc018_2101;

/// Answers one notification on `listener` with `val` (the agent's side); returns its syscall nr.
fn answer_one(listener: &OwnedFd, val: i64) -> i32 {
    let mut req = SeccompNotif::default();
    // SAFETY: ioctls on a seccomp listener with kernel-layout structs.
    unsafe {
        assert_eq!(libc::ioctl(listener.as_raw_fd(), SECCOMP_IOCTL_NOTIF_RECV, &mut req), 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
        let mut resp = SeccompNotifResp { id: req.id, val, error: 0, flags: 0 };
        assert_eq!(libc::ioctl(listener.as_raw_fd(), SECCOMP_IOCTL_NOTIF_SEND, &mut resp), 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    }
    req.nr
}

/// A forked child that loads `plan`, sends the listener fd over `sock` and exits 0 if getppid
/// then returns 4242 (the agent's answer).
fn spawn_notified_child(plan: &SeccompPlan, sock: &UnixStream) -> i32 {
    let sock = sock.as_raw_fd();
    // SAFETY: the child makes raw syscalls only and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = match plan.load_raw() {
            Ok(fd) if fd >= 0 => {
                if send_fd_raw(sock, fd, b"seccomp").is_err() {
                    3
                } else {
                    // SAFETY: raw close/getppid in the child.
                    unsafe { libc::close(fd) };
                    if sys(unsafe { libc::syscall(libc::SYS_getppid) }) == Ok(4242) { 0 } else { 4 }
                }
            }
            Ok(_) => 1,
            Err(_) => 2,
        };
        // SAFETY: leave the forked child without running the harness's destructors.
        unsafe { libc::_exit(code) };
    }
    pid
}

#[test]
fn notify_gives_a_listener_fd_the_parent_can_serve() {
    let plan = compile(&json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/unused", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]})).unwrap();
    let (parent_end, child_end) = UnixStream::pair().unwrap();
    let pid = spawn_notified_child(&plan, &child_end);
    let mut buf = [0u8; 16];
    let (n, fd) = recv_fd(parent_end.as_raw_fd(), &mut buf).unwrap();
    assert_eq!(&buf[..n], b"seccomp");
    let listener = fd.expect("the child sent its listener fd");
    assert_eq!(answer_one(&listener, 4242), libc::SYS_getppid as i32);
    assert_eq!(describe(wait(pid)), "exit 0");
}

#[test]
fn listener_state_reaches_the_agent_with_the_fd() {
    let dir = std::env::temp_dir().join(format!("husk-seccomp-agent-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("agent.sock");
    let _ = std::fs::remove_file(&path);
    let agent = UnixListener::bind(&path).unwrap();

    let plan = compile(&json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path, "listenerMetadata": "MKNOD=/dev/null",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]})).unwrap();
    let (parent_end, child_end) = UnixStream::pair().unwrap();
    let pid = spawn_notified_child(&plan, &child_end);

    // the agent: accept, read the state and the fd, answer the child's getppid
    let agent_thread = std::thread::spawn(move || {
        let (conn, _) = agent.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let (n, fd) = recv_fd(conn.as_raw_fd(), &mut buf).unwrap();
        let mut body = buf[..n].to_vec();
        (&conn).read_to_end(&mut body).unwrap();
        let state: Value = serde_json::from_slice(&body).unwrap();
        let listener = fd.expect("the state came with the seccomp fd");
        answer_one(&listener, 4242);
        state
    });

    // the runtime's parent: take the fd from the child, forward it, close its copy
    let mut buf = [0u8; 16];
    let (_, fd) = recv_fd(parent_end.as_raw_fd(), &mut buf).unwrap();
    let fd = fd.unwrap();
    let container_state = json!({"ociVersion": crate::OCI_VERSION, "id": "c1", "status": "creating", "pid": pid, "bundle": "/b", "annotations": {"k": "v"}});
    send_listener_state(plan.listener_path.as_ref().unwrap(), fd.as_raw_fd(), &container_state, &plan.listener_metadata).unwrap();
    drop(fd);

    let state = agent_thread.join().unwrap();
    assert_eq!(describe(wait(pid)), "exit 0");
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["pid"], json!(pid));
    assert_eq!(state["metadata"], "MKNOD=/dev/null");
    assert_eq!(state["state"]["id"], "c1");
    assert_eq!(state["ociVersion"], crate::OCI_VERSION);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn listener_errors_name_the_path() {
    // SAFETY: a fresh pipe whose ends are owned at once.
    let (r, _w) = unsafe {
        let mut p = [0; 2];
        assert_eq!(libc::pipe(p.as_mut_ptr()), 0);
        (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1]))
    };
    let e = send_listener_state(std::path::Path::new("/nonexistent-husk/agent.sock"), r.as_raw_fd(), &json!({"pid": 1}), "").unwrap_err();
    assert!(e.to_string().contains("/nonexistent-husk/agent.sock"), "{e}");
}

#[test]
fn recv_fd_without_an_fd() {
    let (a, b) = UnixStream::pair().unwrap();
    // SAFETY: send of a static buffer.
    unsafe { libc::send(b.as_raw_fd(), b"x".as_ptr() as *const libc::c_void, 1, 0) };
    let mut buf = [0u8; 4];
    let (n, fd) = recv_fd(a.as_raw_fd(), &mut buf).unwrap();
    assert_eq!((n, fd.is_none()), (1, true));
}


// ---- the compile cache ----

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("husk-seccomp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn cached_compile_matches_and_is_fast() {
    let dir = temp_dir("cache");
    let spec = docker_default();
    let fresh = compile(&spec).unwrap();
    let first = compile_cached(&spec, &dir).unwrap();
    let mut times: Vec<Duration> = (0..20)
        .map(|_| {
            let t = Instant::now();
            let hit = compile_cached(&spec, &dir).unwrap();
            let e = t.elapsed();
            assert_eq!(filter::program_to_bytes(hit.instructions()), filter::program_to_bytes(fresh.instructions()));
            e
        })
        .collect();
    times.sort();
    eprintln!("docker default profile from the cache: median {:?}, min {:?}", times[times.len() / 2], times[0]);
    assert_eq!(filter::program_to_bytes(first.instructions()), filter::program_to_bytes(fresh.instructions()));
    assert_eq!(first.flags(), fresh.flags());
    // ~0.2 ms in release on a quiet machine; the bound leaves room for a loaded debug run
    assert!(times[times.len() / 2] < Duration::from_millis(20), "{times:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cache_entry_for_another_profile_is_not_used() {
    let dir = temp_dir("cache-mismatch");
    let a = allow_all_but(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]));
    let b = allow_all_but(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 43}]));
    compile_cached(&a, &dir).unwrap();
    // file b's key under a's entry: the name matches, the contents must not be trusted
    let entry = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let key_b = cache::Key::new(&b, filter::library_version(), filter::native_arch());
    let key_a = cache::Key::new(&a, filter::library_version(), filter::native_arch());
    let program_a = compile(&a).unwrap();
    std::fs::remove_file(&entry).unwrap();
    cache::store(&dir, &key_a, program_a.instructions(), &[]).unwrap();
    assert!(cache::load(&dir, &key_b).is_none());
    let plan_b = compile_cached(&b, &dir).unwrap();
    // SAFETY: a raw getppid in the child.
    let status = run_filtered(&plan_b, || if sys(unsafe { libc::syscall(libc::SYS_getppid) }) == Err(43) { 0 } else { 1 });
    assert_eq!(describe(status), "exit 0");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cache_in_a_world_writable_directory_is_ignored() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("cache-open");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let spec = allow_all_but(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]));
    compile_cached(&spec, &dir).unwrap();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "nothing is written to an untrusted directory");
    let _ = std::fs::remove_dir_all(&dir);
}
