//! Device rules on cgroup2, which has no devices controller: a BPF_PROG_TYPE_CGROUP_DEVICE
//! program attached to the container's cgroup directory, as runc and crun do. Assembled here by
//! hand and loaded with raw bpf(2) calls: no libbpf, no ELF.
//!
//! The rules (the spec's, then runc's defaults: [`super::devices::effective_rules`]) are first
//! reduced as the v1 kernel list and runc's devices emulator reduce them: an "a" rule resets to
//! allow-all or deny-all, every other rule adds or removes access of the exception for its exact
//! (type, major, minor). What is left is a default verdict plus exceptions that all carry the
//! opposite one, so their order does not matter. The program has runc's devicefilter shape:
//!
//! ```text
//!   w2 = ctx->access_type & 0xffff    BPF_DEVCG_DEV_BLOCK or _CHAR
//!   w3 = ctx->access_type >> 16       BPF_DEVCG_ACC_MKNOD | _READ | _WRITE
//!   r4 = ctx->major, r5 = ctx->minor
//!   per exception:  if r2 != type goto next
//!                   [access test on w1 = w3 & access]
//!                   [if r4 != major goto next]  [if r5 != minor goto next]
//!                   r0 = verdict; exit
//!   r0 = default; exit
//! ```
//!
//! An allow exception needs every requested access bit granted (the v1 kernel's
//! match_exception, and runc); a deny exception refuses a request sharing any bit with it (the
//! v1 kernel's match_exception_partial), so "deny c 1:3 w" refuses open(O_RDWR) as on v1, where
//! runc's program, testing both kinds the allow way, would let it through.
//!
//! The program is named [`PROG_NAME`]; applying rules again attaches the new program and then
//! takes the old husk program off (atomically with BPF_F_REPLACE since Linux 5.6), so an update
//! never stacks filters and never leaves the cgroup without one. Programs others attached are
//! left alone. rmdir of the cgroup releases whatever is attached to it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::devices::{parse_rule, DevType, Rule, ACC_ALL};
use crate::error::{Error, Result};
use crate::spec::DeviceCgroup;

/// The name husk's programs carry (bpf_attr.prog_name, at most 15 bytes), so `apply` can tell
/// its own previous program from filters others attached.
pub const PROG_NAME: &str = "husk_devices";

// bpf(2) commands, program and attach types, flags (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_int = 15;
const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
const BPF_F_REPLACE: u32 = 1 << 2;
const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;

// Instruction classes, sizes, modes, operations and sources (include/uapi/linux/bpf_common.h).
const BPF_LD: u8 = 0x00;
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_W: u8 = 0x00;
const BPF_DW: u8 = 0x18;
const BPF_IMM: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JEQ: u8 = 0x10;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

/// struct bpf_insn: opcode, dst_reg:4 + src_reg:4 (a C bitfield, so endian-dependent), off, imm.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    let regs = if cfg!(target_endian = "little") { (src << 4) | dst } else { (dst << 4) | src };
    Insn { code, regs, off, imm }
}

/// dst = *(u32 *)(src + off)
const fn load_word(dst: u8, src: u8, off: i16) -> Insn {
    insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
}

/// 32-bit `dst op= imm` (the upper half of dst is zeroed).
const fn alu32_imm(op: u8, dst: u8, imm: i32) -> Insn {
    insn(BPF_ALU | op | BPF_K, dst, 0, 0, imm)
}

const fn mov32_reg(dst: u8, src: u8) -> Insn {
    insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
}

const fn exit() -> Insn {
    insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
}

/// Reduces the rules like the v1 kernel list (and runc's devices emulator).
#[derive(Debug, Default)]
struct Emulator {
    default_allow: bool,
    /// (major, minor, type) -> access; `None` is `*`, so wildcards sort first, as in runc.
    exceptions: BTreeMap<(Option<u32>, Option<u32>, DevType), u8>,
}

impl Emulator {
    fn apply(&mut self, rule: &Rule) -> Result<()> {
        if rule.typ == DevType::All {
            *self = Emulator { default_allow: rule.allow, exceptions: BTreeMap::new() };
            return Ok(());
        }
        let key = (rule.major, rule.minor, rule.typ);
        if rule.allow != self.default_allow {
            *self.exceptions.entry(key).or_insert(0) |= rule.access;
            return Ok(());
        }
        // Taking access away from an exception only changes that exact exception; one that a
        // wildcard exception still grants (or refuses) would silently stay so. runc refuses the
        // rule rather than give a false sense of security, and so does husk.
        for wild in [(None, rule.minor, rule.typ), (rule.major, None, rule.typ), (None, None, rule.typ)] {
            if wild == key {
                continue;
            }
            if let Some(&access) = self.exceptions.get(&wild).filter(|&&a| a & rule.access != 0) {
                let wildcard = Rule { allow: !rule.allow, typ: rule.typ, major: wild.0, minor: wild.1, access };
                return Err(Error::spec(
                    "linux.resources.devices",
                    format!("rule \"{rule}\" cannot punch a hole in the wildcard rule \"{wildcard}\""),
                ));
            }
        }
        if let Some(access) = self.exceptions.get_mut(&key) {
            *access &= !rule.access;
            if *access == 0 {
                self.exceptions.remove(&key);
            }
        }
        Ok(())
    }
}

/// The device filter for `rules` (the list the v1 path writes), in order.
pub fn program(rules: &[DeviceCgroup]) -> Result<Vec<Insn>> {
    let mut emulator = Emulator::default();
    for rule in rules {
        emulator.apply(&parse_rule(rule)?)?;
    }
    let mut out = vec![
        load_word(R2, R1, 0),
        alu32_imm(BPF_AND, R2, 0xffff),
        load_word(R3, R1, 0),
        alu32_imm(BPF_RSH, R3, 16),
        load_word(R4, R1, 4),
        load_word(R5, R1, 8),
    ];
    let verdict = i32::from(!emulator.default_allow);
    for (&(major, minor, typ), &access) in &emulator.exceptions {
        exception_block(&mut out, typ, major, minor, access, verdict);
    }
    out.push(alu32_imm(BPF_MOV, R0, i32::from(emulator.default_allow)));
    out.push(exit());
    Ok(out)
}

/// One exception: every test jumps past the block's `exit` when the request does not match.
fn exception_block(out: &mut Vec<Insn>, typ: DevType, major: Option<u32>, minor: Option<u32>, access: u8, verdict: i32) {
    let mut block: Vec<Insn> = Vec::with_capacity(10);
    let mut to_next: Vec<usize> = Vec::new();
    let mut jump = |block: &mut Vec<Insn>, code: u8, dst: u8, src: u8, imm: i32| {
        to_next.push(block.len());
        block.push(insn(BPF_JMP | code, dst, src, 0, imm));
    };
    let typ = if typ == DevType::Block { BPF_DEVCG_DEV_BLOCK } else { BPF_DEVCG_DEV_CHAR };
    jump(&mut block, BPF_JNE | BPF_K, R2, 0, typ);
    if access != ACC_ALL {
        block.push(mov32_reg(R1, R3));
        block.push(alu32_imm(BPF_AND, R1, i32::from(access)));
        if verdict == 1 {
            // allow: every requested bit must be granted
            jump(&mut block, BPF_JNE | BPF_X, R1, R3, 0);
        } else {
            // deny: any requested bit that is denied refuses
            jump(&mut block, BPF_JEQ | BPF_K, R1, 0, 0);
        }
    }
    for (reg, value) in [(R4, major), (R5, minor)] {
        let Some(value) = value else { continue };
        match i32::try_from(value) {
            Ok(imm) => jump(&mut block, BPF_JNE | BPF_K, reg, 0, imm),
            Err(_) => {
                // A 64-bit compare would sign-extend the immediate: load the u32 whole instead.
                block.push(insn(BPF_LD | BPF_IMM | BPF_DW, R1, 0, 0, value as i32));
                block.push(insn(0, 0, 0, 0, 0));
                jump(&mut block, BPF_JNE | BPF_X, reg, R1, 0);
            }
        }
    }
    block.push(alu32_imm(BPF_MOV, R0, verdict));
    block.push(exit());
    for at in to_next {
        // Jumps count from the next instruction; "next" is the first one after this block.
        block[at].off = (block.len() - at - 1) as i16;
    }
    out.extend(block);
}

/// bpf(2) with `attr` as its union bpf_attr prefix.
///
/// # Safety
/// Every pointer stored in `attr` must be valid for the length stored beside it (or that the
/// command implies) for the duration of the call: the kernel reads and may write through them.
unsafe fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    let r = libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>());
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The BPF_PROG_LOAD part of union bpf_attr (up to expected_attach_type, Linux 4.17).
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// BPF_PROG_ATTACH and BPF_PROG_DETACH.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// BPF_PROG_QUERY.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// BPF_OBJ_GET_INFO_BY_FD.
#[repr(C)]
#[derive(Default)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The start of struct bpf_prog_info, up to its name.
#[repr(C)]
#[derive(Default)]
struct ProgInfo {
    typ: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; 16],
}

const LICENSE: &std::ffi::CStr = c"Apache-2.0";
/// Room for the verifier's complaint about a program of a few hundred instructions.
const LOG_SIZE: usize = 64 << 10;

/// BPF_PROG_LOAD; with a non-empty `log` the verifier writes its reasoning there.
fn load_once(insns: &[Insn], log: &mut [u8]) -> io::Result<OwnedFd> {
    load_named(insns, log, PROG_NAME)
}

fn load_named(insns: &[Insn], log: &mut [u8], name: &str) -> io::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() { 0 } else { log.as_mut_ptr() as u64 },
        ..Default::default()
    };
    let name = &name.as_bytes()[..name.len().min(15)];
    attr.prog_name[..name.len()].copy_from_slice(name);
    // SAFETY: insns, license and log outlive the call and their lengths are the ones given.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &mut attr)? };
    // SAFETY: BPF_PROG_LOAD returned a new fd (O_CLOEXEC) that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Before Linux 5.11 a program's memory counts against RLIMIT_MEMLOCK (EPERM when over): load
/// with the limit raised, as runc does, then put it back so no child inherits it.
fn with_memlock_raised<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let mut old = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit fills the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut old) } != 0 {
        return f();
    }
    let infinite = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
    let soft_to_hard = libc::rlimit { rlim_cur: old.rlim_max, rlim_max: old.rlim_max };
    // SAFETY: setrlimit reads the struct it is given.
    let raised = unsafe {
        libc::setrlimit(libc::RLIMIT_MEMLOCK, &infinite) == 0 || libc::setrlimit(libc::RLIMIT_MEMLOCK, &soft_to_hard) == 0
    };
    let result = f();
    if raised {
        // SAFETY: as above; restoring what getrlimit reported.
        unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &old) };
    }
    result
}

/// Loads the program; the error names the cgroup and, for a refused program, the verifier's words.
fn load(insns: &[Insn], dir: &Path) -> Result<OwnedFd> {
    let mut result = load_once(insns, &mut []);
    if matches!(&result, Err(e) if e.raw_os_error() == Some(libc::EPERM)) {
        result = with_memlock_raised(|| load_once(insns, &mut []));
    }
    result.map_err(|e| {
        let mut verifier = String::new();
        if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EACCES)) {
            let mut log = vec![0u8; LOG_SIZE];
            if load_once(insns, &mut log).is_err() {
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                verifier = String::from_utf8_lossy(&log[..end]).trim().replace('\n', "; ");
            }
        }
        let verifier = if verifier.is_empty() { String::new() } else { format!(" (verifier: {verifier})") };
        Error::Other(format!(
            "load the device filter (BPF_PROG_LOAD, {} instructions) for cgroup {}: {e}{verifier}",
            insns.len(),
            dir.display()
        ))
    })
}

/// Whether this kernel takes a cgroup device program from this process (needs bpf(2), Linux
/// 4.15, and CAP_BPF or CAP_SYS_ADMIN).
pub fn probe() -> io::Result<()> {
    load_once(&[alu32_imm(BPF_MOV, R0, 1), exit()], &mut []).map(drop)
}

/// A program attached to a cgroup, as BPF_PROG_QUERY and BPF_OBJ_GET_INFO_BY_FD report it.
#[derive(Debug)]
pub struct Attached {
    pub id: u32,
    pub name: String,
    fd: OwnedFd,
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
    // O_RDONLY|O_CLOEXEC; bpf(2) takes the fd of the cgroup's directory.
    File::open(dir).map(OwnedFd::from).map_err(|e| Error::io("open cgroup for the device filter", dir.display().to_string(), e))
}

fn query_ids(cgroup: &OwnedFd) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: ids.len() as u32,
            ..Default::default()
        };
        // SAFETY: prog_ids points at prog_cnt u32s that outlive the call.
        match unsafe { bpf(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // Too many for the array: prog_cnt now says how many there are.
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) && attr.prog_cnt as usize > ids.len() => {
                ids.resize(attr.prog_cnt as usize, 0);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The program with `id`, if it still exists and this process may see it.
fn open_prog(id: u32) -> io::Result<Option<Attached>> {
    let mut attr = GetFdAttr { prog_id: id, ..Default::default() };
    // SAFETY: the attr holds no pointers.
    let fd = match unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr) } {
        // Detached and freed meanwhile, or hidden by an LSM (runc skips those too: another
        // filter can only take access away).
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EPERM) | Some(libc::EACCES)) => {
            return Ok(None)
        }
        other => other?,
    };
    // SAFETY: BPF_PROG_GET_FD_BY_ID returned a new fd (O_CLOEXEC) that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut info = ProgInfo::default();
    let mut attr = InfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: std::mem::size_of::<ProgInfo>() as u32,
        info: &mut info as *mut ProgInfo as u64,
    };
    // SAFETY: info points at info_len bytes that outlive the call; its own pointers are null
    // with zero lengths, so the kernel writes nothing through them.
    unsafe { bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)? };
    let end = info.name.iter().position(|&b| b == 0).unwrap_or(info.name.len());
    Ok(Some(Attached { id, name: String::from_utf8_lossy(&info.name[..end]).into_owned(), fd }))
}

fn attached_to(cgroup: &OwnedFd, dir: &Path) -> Result<Vec<Attached>> {
    let failed = |e| Error::io("list device filters (BPF_PROG_QUERY) of cgroup", dir.display().to_string(), e);
    let mut out = Vec::new();
    for id in query_ids(cgroup).map_err(failed)? {
        out.extend(open_prog(id).map_err(failed)?);
    }
    Ok(out)
}

/// Every device filter attached directly to the cgroup at `dir`, husk's and others'.
pub fn attached(dir: &Path) -> Result<Vec<Attached>> {
    attached_to(&open_dir(dir)?, dir)
}

fn attach(cgroup: &OwnedFd, prog: &OwnedFd, replace: Option<&OwnedFd>) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI | replace.map_or(0, |_| BPF_F_REPLACE),
        replace_bpf_fd: replace.map_or(0, |r| r.as_raw_fd() as u32),
    };
    // SAFETY: the attr holds fds, no pointers.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}

fn detach(cgroup: &OwnedFd, prog: &OwnedFd) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    // SAFETY: the attr holds fds, no pointers.
    match unsafe { bpf(BPF_PROG_DETACH, &mut attr) } {
        // Someone took it off already: what we wanted.
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        other => other.map(drop),
    }
}

/// Enforces `rules` on the cgroup2 directory `dir`: builds, loads and attaches the program, then
/// takes husk's previous one off. Nothing is attached if the rules or the load are refused.
pub fn apply(dir: &Path, rules: &[DeviceCgroup]) -> Result<()> {
    apply_with(dir, rules, true)
}

/// `apply`; `atomic_replace` false skips BPF_F_REPLACE (tests take the older kernels' path).
pub(super) fn apply_with(dir: &Path, rules: &[DeviceCgroup], atomic_replace: bool) -> Result<()> {
    let insns = program(rules)?;
    let cgroup = open_dir(dir)?;
    let old: Vec<Attached> = attached_to(&cgroup, dir)?.into_iter().filter(|p| p.name == PROG_NAME).collect();
    let prog = load(&insns, dir)?;
    let attach_failed = |e| Error::io("attach the device filter (BPF_PROG_ATTACH) to cgroup", dir.display().to_string(), e);
    if let (true, [only]) = (atomic_replace, old.as_slice()) {
        match attach(&cgroup, &prog, Some(&only.fd)) {
            Ok(()) => return Ok(()),
            // EINVAL: no BPF_F_REPLACE before Linux 5.6; ENOENT: the old one went meanwhile.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOENT)) => {}
            Err(e) => return Err(attach_failed(e)),
        }
    }
    // Both run until the old one is off, and a request needs both to allow it: never laxer.
    attach(&cgroup, &prog, None).map_err(attach_failed)?;
    for p in &old {
        detach(&cgroup, &p.fd).map_err(|e| {
            Error::io("detach the previous device filter (BPF_PROG_DETACH) from cgroup", dir.display().to_string(), e)
        })?;
    }
    Ok(())
}

/// What `rules` reduce to, e.g. "default deny, c 1:3 rwm, c 1:5 r", for messages and tests.
pub fn describe(rules: &[DeviceCgroup]) -> Result<String> {
    let mut emulator = Emulator::default();
    for rule in rules {
        emulator.apply(&parse_rule(rule)?)?;
    }
    let mut out = format!("default {}", if emulator.default_allow { "allow" } else { "deny" });
    for (&(major, minor, typ), &access) in &emulator.exceptions {
        let rule = Rule { allow: !emulator.default_allow, typ, major, minor, access };
        out.push_str(&format!(", {rule}"));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "devices_bpf_tests.rs"]
mod tests;
