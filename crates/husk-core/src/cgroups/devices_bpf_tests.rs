//! The device filter against the real kernel (run as root): programs attached to a fresh cgroup2
//! directory (the unified mount on a hybrid host), and a forked child that joins it and opens or
//! mknods devices. Where the host also mounts the v1 devices controller, the same rules and
//! operations run there too and must give the same answers: one semantics on both hierarchies.
//! Every cgroup is named husk-test-bpf-<pid>-<n> and removed even when an assertion fails.

use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::cgroups::{devices::effective_rules, lifecycle, mountinfo, v1};
use crate::security::testutil::{describe as status_text, wait};

fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("husk-test-bpf-{}-{}-{tag}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// "c 1:3 rwm", "a *:* rwm", "b 7:* r" as a spec rule.
fn rule(allow: bool, text: &str) -> DeviceCgroup {
    let mut parts = text.split_whitespace();
    let typ = parts.next().unwrap().to_string();
    let (major, minor) = parts.next().unwrap().split_once(':').unwrap();
    let number = |n: &str| if n == "*" { None } else { Some(n.parse::<i64>().unwrap()) };
    let access = parts.next().unwrap().to_string();
    DeviceCgroup { allow, typ: Some(typ), major: number(major), minor: number(minor), access: Some(access) }
}

fn allow(text: &str) -> DeviceCgroup {
    rule(true, text)
}

fn deny(text: &str) -> DeviceCgroup {
    rule(false, text)
}

// ---- the reduction and the instructions, no kernel needed ----

#[test]
fn rules_reduce_like_the_v1_list() {
    let d = |rules: &[DeviceCgroup]| describe(rules).unwrap();
    assert_eq!(d(&[deny("a *:* rwm"), allow("c 1:3 rwm")]), "default deny, c 1:3 rwm");
    assert_eq!(
        d(&effective_rules(&[deny("a *:* rwm")], &[])),
        "default deny, b *:* m, c *:* m, c 1:3 rwm, c 1:5 rwm, c 1:7 rwm, c 1:8 rwm, c 1:9 rwm, c 5:0 rwm, \
         c 5:2 rwm, c 10:200 rwm, c 136:* rwm"
    );
    // An empty list starts from deny-all, as the v1 path's leading "a" does.
    assert_eq!(d(&[]), "default deny");
    // "a" resets whatever came before, whatever its numbers and access.
    assert_eq!(d(&[allow("c 1:5 rwm"), deny("a 1:1 r"), allow("c 1:3 rwm")]), "default deny, c 1:3 rwm");
    assert_eq!(d(&[deny("c 1:5 rwm"), allow("a *:* rwm")]), "default allow");
    // Access merges per exact exception, and is taken away per exact exception.
    assert_eq!(d(&[allow("c 1:3 r"), allow("c 1:3 w")]), "default deny, c 1:3 rw");
    assert_eq!(d(&[allow("c 1:3 rwm"), deny("c 1:3 w")]), "default deny, c 1:3 rm");
    assert_eq!(d(&[allow("c 1:3 w"), deny("c 1:3 rwm")]), "default deny");
    assert_eq!(d(&[allow("a *:* rwm"), deny("c 1:3 w"), deny("b 7:* rwm")]), "default allow, c 1:3 w, b 7:* rwm");
    assert_eq!(d(&[allow("a *:* rwm"), deny("c 1:3 rwm"), allow("c 1:3 r")]), "default allow, c 1:3 wm");
    // "u" is a character device, as on v1; a negative number is the wildcard.
    assert_eq!(d(&[allow("u 1:-1 r")]), "default deny, c 1:* r");
    // A hole in a wildcard exception cannot be expressed: refused, as runc does.
    for rules in [
        vec![allow("c 1:* rwm"), deny("c 1:5 w")],
        vec![allow("c *:5 r"), deny("c 1:5 rw")],
        vec![allow("c *:* m"), deny("c 1:5 m")],
        vec![allow("a *:* rwm"), deny("b *:* r"), allow("b 7:0 r")],
    ] {
        let err = describe(&rules).unwrap_err().to_string();
        assert!(err.contains("punch a hole") && err.contains("linux.resources.devices"), "{err}");
    }
    // Taking away what the wildcard does not grant is fine.
    assert_eq!(d(&[allow("c *:* m"), deny("c 1:5 rw")]), "default deny, c *:* m");
    for bad in [allow("x 1:3 rwm"), allow("c 1:3 rwx"), allow("c 1:3 -"), allow("c 4294967296:1 r")] {
        assert!(program(std::slice::from_ref(&bad)).is_err(), "{bad:?} accepted");
    }
    let no_access = DeviceCgroup { allow: true, typ: Some("c".into()), access: None, ..Default::default() };
    assert!(program(&[no_access]).is_err());
}

#[test]
fn instructions_are_runc_shaped() {
    let prog = program(&[deny("a *:* rwm"), allow("c 1:3 rwm")]).unwrap();
    let le = cfg!(target_endian = "little");
    let regs = |dst: u8, src: u8| if le { (src << 4) | dst } else { (dst << 4) | src };
    let expect = [
        (0x61, regs(2, 1), 0, 0),  // r2 = *(u32 *)(r1 + 0)
        (0x54, regs(2, 0), 0, 0xffff), // w2 &= 0xffff
        (0x61, regs(3, 1), 0, 0),  // r3 = *(u32 *)(r1 + 0)
        (0x74, regs(3, 0), 0, 16), // w3 >>= 16
        (0x61, regs(4, 1), 4, 0),  // r4 = major
        (0x61, regs(5, 1), 8, 0),  // r5 = minor
        (0x55, regs(2, 0), 4, 2),  // if r2 != CHAR goto default
        (0x55, regs(4, 0), 3, 1),  // if r4 != 1 goto default
        (0x55, regs(5, 0), 2, 3),  // if r5 != 3 goto default
        (0xb4, regs(0, 0), 0, 1),  // w0 = 1
        (0x95, 0, 0, 0),           // exit
        (0xb4, regs(0, 0), 0, 0),  // w0 = 0
        (0x95, 0, 0, 0),           // exit
    ];
    let got: Vec<(u8, u8, i16, i32)> = prog.iter().map(|i| (i.code, i.regs, i.off, i.imm)).collect();
    assert_eq!(got, expect);
    assert_eq!(std::mem::size_of::<Insn>(), 8);

    // Partial access: allow tests "all requested bits granted", deny "any requested bit denied".
    let allow_r = program(&[allow("c 1:3 r")]).unwrap();
    let codes: Vec<u8> = allow_r[6..].iter().map(|i| i.code).collect();
    assert_eq!(codes, [0x55, 0xbc, 0x54, 0x5d, 0x55, 0x55, 0xb4, 0x95, 0xb4, 0x95]);
    assert_eq!(allow_r[8].imm, 2, "BPF_DEVCG_ACC_READ");
    let deny_w = program(&[allow("a *:* rwm"), deny("b 7:0 w")]).unwrap();
    let codes: Vec<u8> = deny_w[6..].iter().map(|i| i.code).collect();
    assert_eq!(codes, [0x55, 0xbc, 0x54, 0x15, 0x55, 0x55, 0xb4, 0x95, 0xb4, 0x95]);
    assert_eq!((deny_w[6].imm, deny_w[8].imm, deny_w[12].imm, deny_w[14].imm), (1, 4, 0, 1), "block, write, deny, allow");

    // A number above i32::MAX is loaded whole (ld_imm64), not sign-extended.
    let big = program(&[allow("c 4294967295:* rwm")]).unwrap();
    assert_eq!((big[7].code, big[7].imm, big[8].imm, big[9].code), (0x18, -1, 0, 0x5d));
}

// ---- the kernel ----

/// Skips (with the reason) only where bpf(2) itself is missing; any other refusal fails the test.
/// The guard serialises the kernel tests, so one's program fds never show in another's fd check.
fn kernel() -> Option<std::sync::MutexGuard<'static, ()>> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    match probe() {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            eprintln!("skipped: this kernel has no bpf(2): {e}");
            None
        }
        Err(e) => panic!("BPF_PROG_LOAD of a 2-instruction cgroup device program failed: {e}"),
        Ok(()) => Some(guard),
    }
}

/// A directory in a real hierarchy, removed (with anything left in it) on drop.
struct TestDir {
    dir: PathBuf,
    procs: CString,
}

impl TestDir {
    fn new(mount: &std::path::Path, tag: &str) -> TestDir {
        let dir = mount.join(unique(tag));
        fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).unwrap();
        TestDir { dir, procs }
    }

    /// A cgroup in the unified hierarchy, or None (with the reason) without a cgroup2 mount.
    fn unified(tag: &str) -> Option<TestDir> {
        let Some(mount) = mountinfo::mounts().unified.as_ref().map(|m| m.mountpoint.clone()) else {
            eprintln!("skipped: no cgroup2 mount to attach device programs to");
            return None;
        };
        Some(TestDir::new(&mount, tag))
    }

    fn v1_devices(tag: &str) -> Option<TestDir> {
        let mount = mountinfo::mounts().v1.get("devices")?.mountpoint.clone();
        Some(TestDir::new(&mount, tag))
    }

    fn husk_programs(&self) -> Vec<u32> {
        attached(&self.dir).unwrap().into_iter().filter(|p| p.name == PROG_NAME).map(|p| p.id).collect()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = lifecycle::remove_tree(&self.dir);
    }
}

/// Device nodes made by the child go here.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(unique("nodes"));
        fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Open(&'static str, libc::c_int),
    Mknod(char, u32, u32),
}

const NULL_RW: Op = Op::Open("/dev/null", libc::O_RDWR);
const NULL_R: Op = Op::Open("/dev/null", libc::O_RDONLY);
const NULL_W: Op = Op::Open("/dev/null", libc::O_WRONLY);
const ZERO_R: Op = Op::Open("/dev/zero", libc::O_RDONLY);
const KMSG_R: Op = Op::Open("/dev/kmsg", libc::O_RDONLY); // c 1:11, in no default rule
const LOOP0_R: Op = Op::Open("/dev/loop0", libc::O_RDONLY); // b 7:0
const MKNOD_NULL: Op = Op::Mknod('c', 1, 3);
const MKNOD_ZERO: Op = Op::Mknod('c', 1, 5);
const MKNOD_KMSG: Op = Op::Mknod('c', 1, 11);
const MKNOD_LOOP0: Op = Op::Mknod('b', 7, 0);
const ALL_OPS: &[Op] =
    &[NULL_RW, NULL_R, NULL_W, ZERO_R, KMSG_R, LOOP0_R, MKNOD_NULL, MKNOD_ZERO, MKNOD_KMSG, MKNOD_LOOP0];

/// The exit code of a child that could not join the cgroup.
const JOIN_FAILED: i32 = 250;

/// Forks a child that joins the cgroup whose cgroup.procs is `procs`, does `op`, and exits with
/// 0 or the errno; Ok or Err(errno) here.
fn run(procs: &CString, op: Op, nodes: &TempDir) -> Result<(), i32> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let (path, flags, mode, dev) = match op {
        Op::Open(path, flags) => (CString::new(path).unwrap(), flags | libc::O_CLOEXEC, 0, 0),
        Op::Mknod(typ, major, minor) => {
            let node = nodes.0.join(format!("node{}", N.fetch_add(1, Ordering::SeqCst)));
            let kind = if typ == 'b' { libc::S_IFBLK } else { libc::S_IFCHR };
            (CString::new(node.as_os_str().as_bytes()).unwrap(), 0, kind | 0o600, libc::makedev(major, minor))
        }
    };
    let is_open = matches!(op, Op::Open(..));
    // SAFETY: the child makes raw syscalls only (everything was allocated before the fork) and
    // leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: raw syscalls on NUL-terminated strings made before the fork; _exit at the end.
        unsafe {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 || libc::write(fd, c"0".as_ptr().cast(), 1) != 1 {
                libc::_exit(JOIN_FAILED);
            }
            libc::close(fd);
            let r = if is_open {
                let fd = libc::open(path.as_ptr(), flags);
                if fd >= 0 {
                    libc::close(fd);
                }
                fd
            } else {
                let r = libc::mknod(path.as_ptr(), mode, dev);
                if r == 0 {
                    libc::unlink(path.as_ptr());
                }
                r
            };
            libc::_exit(if r < 0 { crate::util::errno() } else { 0 });
        }
    }
    let status = wait(pid);
    assert!(libc::WIFEXITED(status), "child doing {op:?}: {}", status_text(status));
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        JOIN_FAILED => panic!("the child could not join {procs:?}"),
        errno => Err(errno),
    }
}

/// Asserts each op's outcome: true allowed, false refused with EPERM.
fn expect(cg: &TestDir, nodes: &TempDir, what: &str, cases: &[(Op, bool)]) {
    for &(op, allowed) in cases {
        let got = run(&cg.procs, op, nodes);
        let want = if allowed { Ok(()) } else { Err(libc::EPERM) };
        assert_eq!(got, want, "{what}: {op:?} (errno {:?})", got.err().map(crate::util::errno_text));
    }
}

/// Every op works before any program is attached, so each EPERM below is the program's doing.
fn control(cg: &TestDir, nodes: &TempDir) {
    let cases: Vec<(Op, bool)> = ALL_OPS.iter().map(|&op| (op, true)).collect();
    expect(cg, nodes, "no program attached", &cases);
}

#[test]
fn only_null_allowed() {
    let Some(_serial) = kernel() else { return };
    let Some(cg) = TestDir::unified("null") else { return };
    let nodes = TempDir::new();
    control(&cg, &nodes);
    apply(&cg.dir, &[deny("a *:* rwm"), allow("c 1:3 rwm")]).unwrap();
    assert_eq!(cg.husk_programs().len(), 1);
    let cases = [(NULL_RW, true), (NULL_R, true), (ZERO_R, false), (KMSG_R, false), (LOOP0_R, false), (MKNOD_ZERO, false), (MKNOD_LOOP0, false), (MKNOD_NULL, true)];
    expect(&cg, &nodes, "c 1:3 rwm only", &cases);
}

#[test]
fn runc_default_list() {
    let Some(_serial) = kernel() else { return };
    let Some(cg) = TestDir::unified("defaults") else { return };
    let nodes = TempDir::new();
    apply(&cg.dir, &effective_rules(&[deny("a *:* rwm")], &[])).unwrap();
    let cases = [
        (NULL_RW, true),
        (ZERO_R, true),
        (Op::Open("/dev/full", libc::O_WRONLY), true),
        (Op::Open("/dev/urandom", libc::O_RDONLY), true),
        (KMSG_R, false),
        (LOOP0_R, false),
        // "c *:* m" and "b *:* m": any node may be made, not opened.
        (MKNOD_KMSG, true),
        (MKNOD_LOOP0, true),
    ];
    expect(&cg, &nodes, "runc's defaults", &cases);
}

#[test]
fn wildcard_rules() {
    let Some(_serial) = kernel() else { return };
    let Some(cg) = TestDir::unified("wild") else { return };
    let nodes = TempDir::new();
    apply(&cg.dir, &[allow("a *:* rwm")]).unwrap();
    let everything: Vec<(Op, bool)> = ALL_OPS.iter().map(|&op| (op, true)).collect();
    expect(&cg, &nodes, "a *:* rwm", &everything);

    apply(&cg.dir, &[deny("a *:* rwm"), allow("c *:* m")]).unwrap();
    let cases = [(MKNOD_ZERO, true), (MKNOD_KMSG, true), (MKNOD_LOOP0, false), (NULL_R, false), (ZERO_R, false)];
    expect(&cg, &nodes, "c *:* m", &cases);

    apply(&cg.dir, &[deny("a *:* rwm"), allow("c 1:* r"), allow("b *:0 r")]).unwrap();
    let cases = [(NULL_R, true), (KMSG_R, true), (LOOP0_R, true), (NULL_W, false), (MKNOD_NULL, false)];
    expect(&cg, &nodes, "c 1:* r, b *:0 r", &cases);
    assert_eq!(cg.husk_programs().len(), 1);
}

#[test]
fn read_only_access() {
    let Some(_serial) = kernel() else { return };
    let Some(cg) = TestDir::unified("ro") else { return };
    let nodes = TempDir::new();
    apply(&cg.dir, &[deny("a *:* rwm"), allow("c 1:3 r")]).unwrap();
    let cases = [(NULL_R, true), (NULL_W, false), (NULL_RW, false), (MKNOD_NULL, false), (ZERO_R, false)];
    expect(&cg, &nodes, "c 1:3 r", &cases);

    // Denying write on an allow-all list refuses O_RDWR too: any denied bit refuses, as on v1.
    apply(&cg.dir, &[allow("a *:* rwm"), deny("c 1:3 w")]).unwrap();
    let cases = [(NULL_R, true), (NULL_W, false), (NULL_RW, false), (MKNOD_NULL, true), (ZERO_R, true), (KMSG_R, true)];
    expect(&cg, &nodes, "allow all but c 1:3 w", &cases);
}

#[test]
fn update_replaces_rather_than_stacks() {
    let Some(_serial) = kernel() else { return };
    let Some(cg) = TestDir::unified("update") else { return };
    let nodes = TempDir::new();
    // A filter someone else attached stays: it allows everything, so it changes no answer here.
    let foreign = load_named(&[alu32_imm(BPF_MOV, R0, 1), exit()], &mut [], "not_husk").unwrap();
    let cgroup = open_dir(&cg.dir).unwrap();
    attach(&cgroup, &foreign, None).unwrap();

    apply(&cg.dir, &[deny("a *:* rwm"), allow("c 1:3 rwm"), allow("c 1:5 rwm")]).unwrap();
    expect(&cg, &nodes, "null and zero", &[(NULL_RW, true), (ZERO_R, true), (KMSG_R, false)]);
    let first = cg.husk_programs();
    assert_eq!(first.len(), 1);

    // Stricter: zero was allowed and no longer is, so the old program really went.
    apply(&cg.dir, &[deny("a *:* rwm"), allow("c 1:3 rwm")]).unwrap();
    expect(&cg, &nodes, "null only", &[(NULL_RW, true), (ZERO_R, false)]);
    let second = cg.husk_programs();
    assert_eq!(second.len(), 1);
    assert_ne!(first, second);

    // The path for kernels without BPF_F_REPLACE: attach, then detach the old one.
    apply_with(&cg.dir, &[deny("a *:* rwm"), allow("c 1:5 rwm")], false).unwrap();
    expect(&cg, &nodes, "zero only", &[(NULL_RW, false), (ZERO_R, true)]);
    let third = cg.husk_programs();
    assert_eq!(third.len(), 1);
    assert!(!second.contains(&third[0]));

    // Refused rules attach nothing and keep the program in place.
    assert!(apply(&cg.dir, &[allow("c 1:* rwm"), deny("c 1:5 w")]).is_err());
    assert_eq!(cg.husk_programs(), third);
    let names: Vec<String> = attached(&cg.dir).unwrap().into_iter().map(|p| p.name).collect();
    assert!(names.iter().any(|n| n == "not_husk"), "{names:?}");
    assert_eq!(names.len(), 2, "{names:?}");
}

/// fds of this process that name `path` or hold one of the programs `ids` (fdinfo's prog_id).
fn fds_holding(path: &std::path::Path, ids: &[u32]) -> Vec<String> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = fs::read_link(entry.path()) else { continue };
        let info = fs::read_to_string(format!("/proc/self/fdinfo/{}", entry.file_name().to_string_lossy())).unwrap_or_default();
        let prog_id = info.lines().find_map(|l| l.strip_prefix("prog_id:")).and_then(|v| v.trim().parse::<u32>().ok());
        if target == path || prog_id.is_some_and(|id| ids.contains(&id)) {
            out.push(format!("{} -> {} {info:?}", entry.file_name().to_string_lossy(), target.display()));
        }
    }
    out
}

#[test]
fn program_goes_with_the_cgroup_and_no_fd_is_left_open() {
    let Some(_serial) = kernel() else { return };
    let Some(cg) = TestDir::unified("rmdir") else { return };
    apply(&cg.dir, &effective_rules(&[deny("a *:* rwm")], &[])).unwrap();
    let mut seen = cg.husk_programs();
    apply(&cg.dir, &[deny("a *:* rwm")]).unwrap();
    let ids = cg.husk_programs();
    assert_eq!(ids.len(), 1);
    seen.extend(&ids);
    assert_eq!(fds_holding(&cg.dir, &seen), Vec::<String>::new());
    assert!(open_prog(ids[0]).unwrap().is_some());
    drop(cg);
    // The kernel releases a removed cgroup's programs from a workqueue, soon after.
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_prog(ids[0]).unwrap().is_some() {
        assert!(Instant::now() < deadline, "program {} outlived its cgroup", ids[0]);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn errors_name_the_cgroup_and_errno() {
    let Some(_serial) = kernel() else { return };
    // A plain directory is no cgroup: the kernel says EBADF.
    let dir = TempDir::new();
    let err = apply(&dir.0, &[deny("a *:* rwm")]).unwrap_err().to_string();
    assert!(err.contains(&*dir.0.to_string_lossy()) && err.contains("os error"), "{err}");
    let err = apply(&dir.0.join("missing"), &[deny("a *:* rwm")]).unwrap_err().to_string();
    assert!(err.contains("missing") && err.contains("os error 2"), "{err}");
    // The verifier's words come with a refused program.
    let Some(cg) = TestDir::unified("verifier") else { return };
    let err = load(&[exit()], &cg.dir).unwrap_err().to_string();
    assert!(err.contains(&*cg.dir.to_string_lossy()) && err.contains("verifier: ") && err.contains("R0"), "{err}");
    // Numbers beyond i32 load (and match nothing real).
    apply(&cg.dir, &[deny("a *:* rwm"), allow("c 4294967295:4294967295 rwm"), allow("c 1:3 r")]).unwrap();
    let nodes = TempDir::new();
    expect(&cg, &nodes, "big numbers", &[(NULL_R, true), (ZERO_R, false)]);
}

#[test]
fn same_answers_as_the_v1_devices_controller() {
    let Some(_serial) = kernel() else { return };
    let sets: Vec<(&str, Vec<DeviceCgroup>)> = vec![
        ("null only", vec![deny("a *:* rwm"), allow("c 1:3 rwm")]),
        ("runc defaults", effective_rules(&[deny("a *:* rwm")], &[])),
        ("allow all", vec![allow("a *:* rwm")]),
        ("mknod chars", vec![deny("a *:* rwm"), allow("c *:* m")]),
        ("read null", vec![deny("a *:* rwm"), allow("c 1:3 r")]),
        ("merged rw", vec![deny("a *:* rwm"), allow("c 1:3 r"), allow("c 1:3 w")]),
        ("reduced", vec![deny("a *:* rwm"), allow("c 1:3 rwm"), deny("c 1:3 w")]),
        ("reset", vec![deny("a *:* rwm"), allow("c 1:5 rwm"), deny("a *:* rwm"), allow("c 1:3 rwm")]),
        ("deny write", vec![allow("a *:* rwm"), deny("c 1:3 w")]),
        ("deny some", vec![allow("a *:* rwm"), deny("c *:* m"), deny("b 7:* rwm"), deny("c 1:11 r")]),
        ("re-allow", vec![allow("a *:* rwm"), deny("c 1:3 rwm"), allow("c 1:3 r")]),
        ("major wildcards", vec![deny("a *:* rwm"), allow("c 1:* rw"), allow("b *:0 r")]),
    ];
    let Some(cg2) = TestDir::unified("diff") else { return };
    let cg1 = TestDir::v1_devices("diff");
    if cg1.is_none() {
        eprintln!("no v1 devices controller here: the v2 answers are not compared");
    }
    let nodes = TempDir::new();
    control(&cg2, &nodes);
    for (name, rules) in &sets {
        apply(&cg2.dir, rules).unwrap_or_else(|e| panic!("{name}: {e}"));
        let v2: Vec<Result<(), i32>> = ALL_OPS.iter().map(|&op| run(&cg2.procs, op, &nodes)).collect();
        assert!(v2.iter().all(|r| matches!(r, Ok(()) | Err(libc::EPERM))), "{name}: {v2:?}");
        if let Some(cg1) = &cg1 {
            v1::set_devices(&cg1.dir, rules).unwrap_or_else(|e| panic!("{name}: {e}"));
            let v1: Vec<Result<(), i32>> = ALL_OPS.iter().map(|&op| run(&cg1.procs, op, &nodes)).collect();
            for ((op, a), b) in ALL_OPS.iter().zip(&v1).zip(&v2) {
                assert_eq!(a, b, "{name} ({}): {op:?}: v1 {a:?}, v2 {b:?}", describe(rules).unwrap());
            }
        }
    }
}
