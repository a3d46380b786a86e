//! seccomp: a `linux.seccomp` profile compiled to BPF in the parent (`compile`), loaded by the
//! init child with one raw syscall (`SeccompPlan::load_raw`), and the notify listener fd handed
//! child → parent → `listenerPath` agent (`notify`).
//!
//! Behaviour follows runc 1.1: syscalls libseccomp does not know are skipped, a rule whose action
//! is the default action is skipped, conditions on distinct arguments are ANDed in one rule while
//! several conditions on the same argument become one rule each (ORed), and unless the default
//! action lets syscalls run, syscalls newer than any the profile names get ENOSYS (`enosys`).
//!
//! Loading needs no_new_privs or CAP_SYS_ADMIN (in the process's user namespace). runc's order,
//! which the init should keep: without noNewPrivileges, load before the uid switch and the
//! capability drop (CAP_SYS_ADMIN is still there); with it, set PR_SET_NO_NEW_PRIVS and load as
//! late as possible, after the uid switch and caps, right before telling the parent it is ready.

mod cache;
mod enosys;
mod filter;
pub mod notify;
pub mod profile;

#[cfg(test)]
mod tests;

use std::ffi::CString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::util::errno;

pub use filter::library_version;
pub use notify::{recv_fd, send_fd_raw, send_listener_state};
use profile::{Action, ArgCmp, Profile, FLAG_NEW_LISTENER, FLAG_TSYNC, FLAG_TSYNC_ESRCH, FLAG_WAIT_KILLABLE_RECV};

/// The kernel's limit on a filter's length (BPF_MAXINSNS).
pub const MAX_INSTRUCTIONS: usize = 4096;

/// A compiled profile: everything the child needs to load it, allocated before the clone.
pub struct SeccompPlan {
    program: Vec<libc::sock_filter>,
    /// SECCOMP_FILTER_FLAG_* for seccomp(2), NEW_LISTENER included when notify is used.
    flags: u32,
    notify: bool,
    /// Where the parent sends the listener fd (set whenever notify is used).
    pub listener_path: Option<PathBuf>,
    pub listener_metadata: String,
    /// Syscall names libseccomp does not know, skipped as runc does (worth a debug log line).
    pub skipped_syscalls: Vec<String>,
}

impl fmt::Debug for SeccompPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeccompPlan")
            .field("instructions", &self.program.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("notify", &self.notify)
            .field("listener_path", &self.listener_path)
            .field("skipped_syscalls", &self.skipped_syscalls)
            .finish()
    }
}

impl SeccompPlan {
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }

    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether loading returns a listener fd that must reach `listener_path`.
    pub fn uses_notify(&self) -> bool {
        self.notify
    }

    /// Loads the filter into the calling thread: one raw seccomp(2), no allocation, safe in the
    /// init child. Returns the notify listener fd (O_CLOEXEC) or -1; Err is the errno (EACCES:
    /// neither no_new_privs nor CAP_SYS_ADMIN).
    pub fn load_raw(&self) -> Result<i32, i32> {
        let prog = libc::sock_fprog { len: self.program.len() as u16, filter: self.program.as_ptr() as *mut libc::sock_filter };
        // SAFETY: prog points at the plan's program, which outlives the call; the kernel copies it.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
                self.flags as libc::c_ulong,
                &prog as *const libc::sock_fprog,
            )
        };
        if r < 0 {
            Err(errno())
        } else if self.notify {
            Ok(r as i32)
        } else {
            Ok(-1)
        }
    }
}

/// Compiles `linux.seccomp` (as in config.json) into a plan; errors name the field at fault.
pub fn compile(spec: &Value) -> Result<SeccompPlan> {
    let profile = profile::parse(spec)?;
    check_kernel_actions(&profile)?;
    let (program, skipped_syscalls) = build_program(&profile)?;
    finish(profile, program, skipped_syscalls)
}

/// `compile`, with the BPF program kept in `cache_dir` (root-only, e.g. under the state root):
/// libseccomp takes ~10 ms for Docker's default profile, a cache hit well under 1 ms. A hit
/// must match the whole profile text byte for byte, so the file name is only an index.
pub fn compile_cached(spec: &Value, cache_dir: &Path) -> Result<SeccompPlan> {
    let profile = profile::parse(spec)?;
    check_kernel_actions(&profile)?;
    let key = cache::Key::new(spec, filter::library_version(), filter::native_arch());
    if let Some((program, skipped)) = cache::load(cache_dir, &key) {
        return finish(profile, program, skipped);
    }
    let (program, skipped) = build_program(&profile)?;
    // a cache that cannot be written only costs the next container the compile time
    let _ = cache::store(cache_dir, &key, &program, &skipped);
    finish(profile, program, skipped)
}

/// The BPF program of a profile (libseccomp's, behind the -ENOSYS stub) and the names skipped.
fn build_program(profile: &Profile) -> Result<(Vec<libc::sock_filter>, Vec<String>)> {
    let mut ctx = filter::FilterContext::new(profile.default_action.to_scmp())
        .map_err(|e| Error::spec("linux.seccomp.defaultAction", format!("libseccomp refused it: {e}")))?;
    for (i, arch) in profile.architectures.iter().enumerate() {
        ctx.add_arch(arch.token)
            .map_err(|e| Error::spec(format!("linux.seccomp.architectures[{i}]"), format!("libseccomp could not add {}: {e}", arch.name)))?;
    }

    let mut skipped_syscalls = Vec::new();
    for rule in &profile.rules {
        if rule.action == profile.default_action {
            // libseccomp rejects a rule that repeats the default action, and it changes nothing.
            continue;
        }
        for (j, name) in rule.names.iter().enumerate() {
            let cname = CString::new(name.as_str()).expect("syscall names were checked for NULs");
            let Some(nr) = filter::resolve_name(&cname) else {
                if !skipped_syscalls.contains(name) {
                    skipped_syscalls.push(name.clone());
                }
                continue;
            };
            add_rule(&mut ctx, rule.action, nr, &rule.args).map_err(|e| {
                Error::spec(format!("{}.names[{j}]", rule.field), format!("libseccomp could not add the rule for {name:?}: {e}"))
            })?;
        }
    }

    let mut program = ctx.export_bpf().map_err(|e| Error::Sys { step: "exporting the seccomp filter".into(), source: e })?;
    drop(ctx);
    if needs_enosys_stub(profile) {
        let mut stubbed = enosys::stub(&largest_syscalls(profile));
        stubbed.append(&mut program);
        program = stubbed;
    }
    if program.len() > MAX_INSTRUCTIONS {
        return Err(Error::spec("linux.seccomp", format!("the filter is {} BPF instructions; the kernel accepts at most {MAX_INSTRUCTIONS}", program.len())));
    }
    Ok((program, skipped_syscalls))
}

/// The seccomp(2) flags of a profile, checked against the kernel, and the plan.
fn finish(profile: Profile, program: Vec<libc::sock_filter>, skipped_syscalls: Vec<String>) -> Result<SeccompPlan> {
    let notify = profile.uses_notify();
    let mut flags = profile.flags.iter().fold(0, |acc, bit| acc | bit);
    if notify {
        flags |= FLAG_NEW_LISTENER;
        if flags & FLAG_TSYNC != 0 {
            // TSYNC reports a failed sync through the return value, which NEW_LISTENER also uses.
            flags |= FLAG_TSYNC_ESRCH;
        }
    } else {
        // meaningless without a listener, and the kernel rejects it alone
        flags &= !FLAG_WAIT_KILLABLE_RECV;
    }
    check_kernel_flags(flags, &profile)?;
    Ok(SeccompPlan {
        program,
        flags,
        notify,
        listener_path: profile.listener_path,
        listener_metadata: profile.listener_metadata,
        skipped_syscalls,
    })
}

/// One spec rule into libseccomp: distinct arguments ANDed in one rule; if an argument is
/// compared twice, one rule per comparison (ORed), as runc does.
fn add_rule(ctx: &mut filter::FilterContext, action: Action, nr: i32, args: &[ArgCmp]) -> std::io::Result<()> {
    let mut seen = [false; 6];
    let repeats = args.iter().any(|a| std::mem::replace(&mut seen[a.index as usize], true));
    if repeats {
        for a in args {
            ctx.add_rule(action.to_scmp(), nr, std::slice::from_ref(a))?;
        }
        Ok(())
    } else {
        ctx.add_rule(action.to_scmp(), nr, args)
    }
}

fn needs_enosys_stub(profile: &Profile) -> bool {
    !profile.default_action.lets_syscalls_run() && profile.default_action != Action::Errno(libc::ENOSYS as u16)
}

/// The largest syscall number any rule names, per architecture of the filter (the native one
/// always included, as runc does).
fn largest_syscalls(profile: &Profile) -> Vec<(&'static profile::Arch, u32)> {
    let native = filter::native_arch();
    let mut arches = profile.architectures.clone();
    if let Some(n) = profile::arch_by_token(native) {
        if !arches.contains(&n) {
            arches.push(n);
        }
    }
    let names: Vec<CString> = profile
        .rules
        .iter()
        .flat_map(|r| r.names.iter())
        .map(|n| CString::new(n.as_str()).expect("syscall names were checked for NULs"))
        .collect();
    arches
        .into_iter()
        .filter_map(|arch| {
            let max = names.iter().filter_map(|n| filter::resolve_name_arch(arch.token, n)).max()?;
            (max > 0).then_some((arch, max))
        })
        .collect()
}

/// seccomp(2) as a probe; Err is the errno.
fn seccomp_probe(op: libc::c_uint, flags: u32, arg: *const libc::c_void) -> Result<(), i32> {
    // SAFETY: the kernel only reads `arg` (a u32 for GET_ACTION_AVAIL; NULL for the flag probe).
    let r = unsafe { libc::syscall(libc::SYS_seccomp, op as libc::c_ulong, flags as libc::c_ulong, arg) };
    if r < 0 { Err(errno()) } else { Ok(()) }
}

/// Whether the kernel implements an action (SECCOMP_GET_ACTION_AVAIL). Unknown → true.
pub fn kernel_has_action(action: Action) -> bool {
    let ret = action.to_scmp() & 0xffff_0000;
    !matches!(seccomp_probe(libc::SECCOMP_GET_ACTION_AVAIL, 0, &ret as *const u32 as *const libc::c_void), Err(libc::EOPNOTSUPP) | Err(libc::EINVAL))
}

/// Whether the kernel accepts these SECCOMP_FILTER_FLAG_*s: with a NULL program, a known
/// combination fails with EFAULT, an unknown one with EINVAL. Unknown → true.
pub fn kernel_has_flags(flags: u32) -> bool {
    seccomp_probe(libc::SECCOMP_SET_MODE_FILTER, flags, std::ptr::null()) != Err(libc::EINVAL)
}

fn check_kernel_actions(profile: &Profile) -> Result<()> {
    if !kernel_has_action(profile.default_action) {
        return Err(Error::spec("linux.seccomp.defaultAction", "this kernel does not implement the action"));
    }
    for rule in &profile.rules {
        if !kernel_has_action(rule.action) {
            return Err(Error::spec(format!("{}.action", rule.field), "this kernel does not implement the action"));
        }
    }
    Ok(())
}

fn check_kernel_flags(flags: u32, profile: &Profile) -> Result<()> {
    if kernel_has_flags(flags) {
        return Ok(());
    }
    let listener = flags & (FLAG_NEW_LISTENER | FLAG_TSYNC_ESRCH);
    for (i, bit) in profile.flags.iter().enumerate() {
        if flags & bit != 0 && !kernel_has_flags(bit | listener) {
            let name = profile::KNOWN_FLAGS.iter().find(|(_, b)| b == bit).map_or("flag", |(n, _)| n);
            return Err(Error::spec(format!("linux.seccomp.flags[{i}]"), format!("{name} is not supported by this kernel")));
        }
    }
    Err(Error::spec("linux.seccomp", format!("this kernel rejects the seccomp filter flags {flags:#x} (SCMP_ACT_NOTIFY needs Linux 5.0, with TSYNC 5.7)")))
}

/// The `linux.seccomp` object of the runtime-spec features document.
pub fn features() -> Value {
    let known: Vec<&str> = profile::KNOWN_FLAGS.iter().map(|(n, _)| *n).collect();
    let supported: Vec<&str> = profile::KNOWN_FLAGS
        .iter()
        .filter(|(_, bit)| {
            let with_listener = if *bit == FLAG_WAIT_KILLABLE_RECV { bit | FLAG_NEW_LISTENER } else { *bit };
            kernel_has_flags(with_listener)
        })
        .map(|(n, _)| *n)
        .collect();
    let archs: Vec<&str> = profile::ARCHES.iter().map(|a| a.name).collect();
    json!({
        "enabled": true,
        "actions": profile::ACTIONS,
        "operators": profile::OPERATORS,
        "archs": archs,
        "knownFlags": known,
        "supportedFlags": supported,
    })
}
