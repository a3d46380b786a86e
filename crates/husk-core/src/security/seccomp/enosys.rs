//! The -ENOSYS stub runc prepends to a filter: a syscall newer than every syscall the profile
//! names gets ENOSYS instead of the default action, so libc falls back (clone3 → clone,
//! faccessat2 → faccessat) instead of failing with EPERM on a profile older than the kernel.

use std::collections::BTreeMap;

use libc::sock_filter;

use super::profile::{Arch, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGT_K: u16 = 0x25;
const BPF_JMP_JSET_K: u16 = 0x45;
const BPF_RET_K: u16 = 0x06;

/// offsetof(struct seccomp_data, nr) and (…, arch).
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

const RET_ERRNO_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;

/// The s390 multiplexer syscall an unknown large syscall number lands on.
const S390_SETUP: u32 = 0;
const AUDIT_ARCH_S390: u32 = 0x0000_0016;
const AUDIT_ARCH_S390X: u32 = 0x8000_0016;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The largest syscall numbers of one kernel architecture: x86_64 and x32 share AUDIT_ARCH_X86_64
/// (x32 numbers carry bit 30), every other architecture has one.
#[derive(Default)]
struct Largest {
    native: Option<u32>,
    x32: Option<u32>,
}

/// Instructions of one architecture's section, with its own `ret ENOSYS` so every conditional
/// jump stays short; the last one is a placeholder for `ja <filter>`.
fn section(audit: u32, largest: &Largest) -> Vec<sock_filter> {
    let mut s = vec![stmt(BPF_LD_W_ABS, OFFSET_NR)];
    match (audit, largest.native, largest.x32) {
        (AUDIT_ARCH_X86_64, Some(max64), Some(max32)) => {
            s.push(jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, 1, 0));
            s.push(jump(BPF_JMP_JGT_K, max64, 1, 2));
            s.push(jump(BPF_JMP_JGT_K, max32, 0, 1));
        }
        (AUDIT_ARCH_X86_64, Some(max64), None) => {
            // an x32 syscall goes to the filter untouched (which denies the x32 ABI anyway)
            s.push(jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, 2, 0));
            s.push(jump(BPF_JMP_JGT_K, max64, 0, 1));
        }
        (AUDIT_ARCH_X86_64, None, Some(max32)) => {
            s.push(jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, 0, 2));
            s.push(jump(BPF_JMP_JGT_K, max32, 0, 1));
        }
        (_, Some(max), _) => {
            if audit == AUDIT_ARCH_S390 || audit == AUDIT_ARCH_S390X {
                s.push(jump(BPF_JMP_JEQ_K, S390_SETUP, 1, 0));
            }
            s.push(jump(BPF_JMP_JGT_K, max, 0, 1));
        }
        _ => unreachable!("a section is only built for an architecture with a largest syscall"),
    }
    s.push(stmt(BPF_RET_K, RET_ERRNO_ENOSYS));
    s.push(stmt(BPF_JMP_JA, 0));
    s
}

/// The stub to put before the libseccomp program, given the largest syscall number the profile
/// names on each architecture. Empty when no architecture has one.
pub fn stub(largest_by_arch: &[(&Arch, u32)]) -> Vec<sock_filter> {
    let mut by_audit: BTreeMap<u32, Largest> = BTreeMap::new();
    for (arch, max) in largest_by_arch {
        let entry = by_audit.entry(arch.audit).or_default();
        if arch.token != arch.audit {
            entry.x32 = Some(*max);
        } else {
            entry.native = Some(*max);
        }
    }
    if by_audit.is_empty() {
        return Vec::new();
    }
    let sections: Vec<(u32, Vec<sock_filter>)> = by_audit.iter().map(|(a, l)| (*a, section(*a, l))).collect();

    // ld arch; one jeq per architecture; ja <filter> for any other; then the sections.
    let mut prog = vec![stmt(BPF_LD_W_ABS, OFFSET_ARCH)];
    let first_section = 1 + sections.len() + 1;
    let mut start = first_section;
    for (i, (audit, body)) in sections.iter().enumerate() {
        let jeq_at = 1 + i;
        let skip = start - jeq_at - 1;
        assert!(skip <= u8::MAX as usize, "seccomp ENOSYS stub: too many architectures for a short jump");
        prog.push(jump(BPF_JMP_JEQ_K, *audit, skip as u8, 0));
        start += body.len();
    }
    prog.push(stmt(BPF_JMP_JA, 0));
    for (_, body) in sections {
        prog.extend(body);
    }
    let total = prog.len();
    for (at, insn) in prog.iter_mut().enumerate() {
        if insn.code == BPF_JMP_JA {
            insn.k = (total - at - 1) as u32;
        }
    }
    prog
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::seccomp::profile::ARCHES;

    fn arch(name: &str) -> &'static Arch {
        ARCHES.iter().find(|a| a.name == name).unwrap()
    }

    /// Runs the stub on (arch, nr) like the kernel would: Some(ret) or None for "fell into the filter".
    fn run(prog: &[sock_filter], audit: u32, nr: u32) -> Option<u32> {
        let mut pc = 0usize;
        let mut acc = 0u32;
        loop {
            if pc == prog.len() {
                return None;
            }
            let i = prog[pc];
            pc += 1;
            match i.code {
                BPF_LD_W_ABS => acc = if i.k == OFFSET_ARCH { audit } else { nr },
                BPF_JMP_JA => pc += i.k as usize,
                BPF_JMP_JEQ_K => pc += if acc == i.k { i.jt } else { i.jf } as usize,
                BPF_JMP_JGT_K => pc += if acc > i.k { i.jt } else { i.jf } as usize,
                BPF_JMP_JSET_K => pc += if acc & i.k != 0 { i.jt } else { i.jf } as usize,
                BPF_RET_K => return Some(i.k),
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn newer_syscalls_get_enosys_older_ones_reach_the_filter() {
        let x86_64 = arch("SCMP_ARCH_X86_64");
        let x86 = arch("SCMP_ARCH_X86");
        let x32 = arch("SCMP_ARCH_X32");
        let prog = stub(&[(x86_64, 334), (x86, 400), (x32, X32_SYSCALL_BIT | 300)]);
        assert_eq!(run(&prog, x86_64.audit, 0), None);
        assert_eq!(run(&prog, x86_64.audit, 334), None);
        assert_eq!(run(&prog, x86_64.audit, 335), Some(RET_ERRNO_ENOSYS));
        assert_eq!(run(&prog, x86_64.audit, X32_SYSCALL_BIT | 300), None);
        assert_eq!(run(&prog, x86_64.audit, X32_SYSCALL_BIT | 301), Some(RET_ERRNO_ENOSYS));
        assert_eq!(run(&prog, x86.audit, 400), None);
        assert_eq!(run(&prog, x86.audit, 401), Some(RET_ERRNO_ENOSYS));
        // an architecture outside the profile falls through to libseccomp's bad-arch action
        assert_eq!(run(&prog, arch("SCMP_ARCH_AARCH64").audit, 5000), None);
    }

    #[test]
    fn x86_64_alone_leaves_x32_syscalls_to_the_filter() {
        let prog = stub(&[(arch("SCMP_ARCH_X86_64"), 100)]);
        assert_eq!(run(&prog, AUDIT_ARCH_X86_64, 101), Some(RET_ERRNO_ENOSYS));
        assert_eq!(run(&prog, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 5), None);
    }

    #[test]
    fn s390_multiplexer_gets_enosys() {
        let prog = stub(&[(arch("SCMP_ARCH_S390X"), 400)]);
        assert_eq!(run(&prog, AUDIT_ARCH_S390X, 0), Some(RET_ERRNO_ENOSYS));
        assert_eq!(run(&prog, AUDIT_ARCH_S390X, 1), None);
    }

    #[test]
    fn no_architecture_no_stub() {
        assert!(stub(&[]).is_empty());
    }
}
