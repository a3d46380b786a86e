//! The `linux.seccomp` object of config.json, read into typed rules; every error names its field.

use std::path::PathBuf;

use serde_json::Value;

use crate::error::{Error, Result};

/// SECCOMP_FILTER_FLAG_* values of <linux/seccomp.h>.
pub const FLAG_TSYNC: u32 = 1;
pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;
pub const FLAG_NEW_LISTENER: u32 = 8;
pub const FLAG_TSYNC_ESRCH: u32 = 16;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// The flags a profile may name (runtime-spec `linux.seccomp.flags`).
pub const KNOWN_FLAGS: &[(&str, u32)] = &[
    ("SECCOMP_FILTER_FLAG_TSYNC", FLAG_TSYNC),
    ("SECCOMP_FILTER_FLAG_LOG", FLAG_LOG),
    ("SECCOMP_FILTER_FLAG_SPEC_ALLOW", FLAG_SPEC_ALLOW),
    ("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", FLAG_WAIT_KILLABLE_RECV),
];

pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
];

pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];

/// What the filter does with a matching syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    KillThread,
    KillProcess,
    Trap,
    Errno(u16),
    Trace(u16),
    Allow,
    Log,
    Notify,
}

impl Action {
    /// The SCMP_ACT_* value libseccomp takes (equal to the kernel's SECCOMP_RET_*).
    pub fn to_scmp(self) -> u32 {
        match self {
            Action::KillThread => 0x0000_0000,
            Action::KillProcess => 0x8000_0000,
            Action::Trap => 0x0003_0000,
            Action::Errno(e) => 0x0005_0000 | e as u32,
            Action::Trace(m) => 0x7ff0_0000 | m as u32,
            Action::Allow => 0x7fff_0000,
            Action::Log => 0x7ffc_0000,
            Action::Notify => 0x7fc0_0000,
        }
    }

    /// Actions that let a syscall run (runc gives these no -ENOSYS stub: a tracer handles new
    /// syscalls itself).
    pub fn lets_syscalls_run(self) -> bool {
        matches!(self, Action::Allow | Action::Log | Action::Trace(_))
    }
}

/// libseccomp's enum scmp_compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ne = 1,
    Lt = 2,
    Le = 3,
    Eq = 4,
    Ge = 5,
    Gt = 6,
    MaskedEq = 7,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgCmp {
    pub index: u32,
    pub op: Op,
    /// The compared value, or the mask for MASKED_EQ.
    pub value: u64,
    /// The value compared with `arg & value` for MASKED_EQ.
    pub value_two: u64,
}

/// One architecture: the SCMP_ARCH_* token libseccomp takes and the AUDIT_ARCH_* the kernel
/// puts in seccomp_data.arch (they differ only for x32, which is x86_64 with bit 30 in nr).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arch {
    pub name: &'static str,
    pub token: u32,
    pub audit: u32,
}

pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// The architectures libseccomp 2.5 knows, by their runtime-spec names.
pub const ARCHES: &[Arch] = &[
    Arch { name: "SCMP_ARCH_X86", token: 0x4000_0003, audit: 0x4000_0003 },
    Arch { name: "SCMP_ARCH_X86_64", token: AUDIT_ARCH_X86_64, audit: AUDIT_ARCH_X86_64 },
    Arch { name: "SCMP_ARCH_X32", token: 0x4000_003e, audit: AUDIT_ARCH_X86_64 },
    Arch { name: "SCMP_ARCH_ARM", token: 0x4000_0028, audit: 0x4000_0028 },
    Arch { name: "SCMP_ARCH_AARCH64", token: 0xc000_00b7, audit: 0xc000_00b7 },
    Arch { name: "SCMP_ARCH_MIPS", token: 0x0000_0008, audit: 0x0000_0008 },
    Arch { name: "SCMP_ARCH_MIPS64", token: 0x8000_0008, audit: 0x8000_0008 },
    Arch { name: "SCMP_ARCH_MIPS64N32", token: 0xa000_0008, audit: 0xa000_0008 },
    Arch { name: "SCMP_ARCH_MIPSEL", token: 0x4000_0008, audit: 0x4000_0008 },
    Arch { name: "SCMP_ARCH_MIPSEL64", token: 0xc000_0008, audit: 0xc000_0008 },
    Arch { name: "SCMP_ARCH_MIPSEL64N32", token: 0xe000_0008, audit: 0xe000_0008 },
    Arch { name: "SCMP_ARCH_PPC", token: 0x0000_0014, audit: 0x0000_0014 },
    Arch { name: "SCMP_ARCH_PPC64", token: 0x8000_0015, audit: 0x8000_0015 },
    Arch { name: "SCMP_ARCH_PPC64LE", token: 0xc000_0015, audit: 0xc000_0015 },
    Arch { name: "SCMP_ARCH_S390", token: 0x0000_0016, audit: 0x0000_0016 },
    Arch { name: "SCMP_ARCH_S390X", token: 0x8000_0016, audit: 0x8000_0016 },
    Arch { name: "SCMP_ARCH_PARISC", token: 0x0000_000f, audit: 0x0000_000f },
    Arch { name: "SCMP_ARCH_PARISC64", token: 0x8000_000f, audit: 0x8000_000f },
    Arch { name: "SCMP_ARCH_RISCV64", token: 0xc000_00f3, audit: 0xc000_00f3 },
];

/// Runtime-spec names this libseccomp (2.5) cannot build filters for.
const ARCHES_UNSUPPORTED: &[&str] = &["SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB"];

pub fn arch_by_token(token: u32) -> Option<&'static Arch> {
    ARCHES.iter().find(|a| a.token == token)
}

/// One entry of `syscalls`: the same action (and argument filters) for every name.
#[derive(Debug, Clone)]
pub struct Rule {
    /// `linux.seccomp.syscalls[i]`, for error messages.
    pub field: String,
    pub names: Vec<String>,
    pub action: Action,
    pub args: Vec<ArgCmp>,
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub default_action: Action,
    pub architectures: Vec<&'static Arch>,
    /// SECCOMP_FILTER_FLAG_* named in `flags`, in the spec's order (NEW_LISTENER is implied by
    /// notify, never named).
    pub flags: Vec<u32>,
    pub rules: Vec<Rule>,
    pub listener_path: Option<PathBuf>,
    pub listener_metadata: String,
}

impl Profile {
    pub fn uses_notify(&self) -> bool {
        self.rules.iter().any(|r| r.action == Action::Notify)
    }
}

const FIELD: &str = "linux.seccomp";

fn bad(field: impl Into<String>, msg: impl Into<String>) -> Error {
    Error::spec(field, msg)
}

fn as_array<'a>(v: &'a Value, field: &str) -> Result<&'a [Value]> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(&[]),
        _ => Err(bad(field, "must be an array")),
    }
}

fn as_str<'a>(v: &'a Value, field: &str) -> Result<&'a str> {
    v.as_str().ok_or_else(|| bad(field, "must be a string"))
}

fn as_u64(v: &Value, field: &str) -> Result<u64> {
    v.as_u64().ok_or_else(|| bad(field, "must be an unsigned integer"))
}

/// errnoRet/defaultErrnoRet: SECCOMP_RET_DATA is 16 bits wide.
fn errno_ret(v: Option<&Value>, field: &str) -> Result<Option<u16>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let n = as_u64(v, field)?;
            u16::try_from(n).map(Some).map_err(|_| bad(field, format!("{n} is out of range (0..=65535)")))
        }
    }
}

/// An action name plus its errnoRet (EPERM when absent, as runc and the spec say).
fn action(name: &Value, errno: Option<u16>, field: &str, errno_field: &str) -> Result<Action> {
    let name = as_str(name, field)?;
    let act = match name {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(libc::EPERM as u16)),
        "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(libc::EPERM as u16)),
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => Action::Notify,
        _ => return Err(bad(field, format!("unknown action {name:?} (known: {})", ACTIONS.join(", ")))),
    };
    if errno.is_some() && !matches!(act, Action::Errno(_) | Action::Trace(_)) {
        return Err(bad(errno_field, format!("{name} takes no errno (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)")));
    }
    Ok(act)
}

fn operator(v: &Value, field: &str) -> Result<Op> {
    let name = as_str(v, field)?;
    Ok(match name {
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_GT" => Op::Gt,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
        _ => return Err(bad(field, format!("unknown operator {name:?} (known: {})", OPERATORS.join(", ")))),
    })
}

fn arg(v: &Value, field: &str) -> Result<ArgCmp> {
    if !v.is_object() {
        return Err(bad(field, "must be an object"));
    }
    let index_field = format!("{field}.index");
    let index = as_u64(v.get("index").ok_or_else(|| bad(&index_field, "missing"))?, &index_field)?;
    if index > 5 {
        return Err(bad(index_field, format!("{index} is out of range: a syscall has 6 arguments (0..=5)")));
    }
    let value_field = format!("{field}.value");
    let value = as_u64(v.get("value").ok_or_else(|| bad(&value_field, "missing"))?, &value_field)?;
    let value_two = match v.get("valueTwo") {
        None | Some(Value::Null) => 0,
        Some(x) => as_u64(x, &format!("{field}.valueTwo"))?,
    };
    let op_field = format!("{field}.op");
    let op = operator(v.get("op").ok_or_else(|| bad(&op_field, "missing"))?, &op_field)?;
    Ok(ArgCmp { index: index as u32, op, value, value_two })
}

/// A syscall name as libseccomp spells them: lowercase letters, digits and underscores.
fn valid_syscall_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn rule(v: &Value, field: String) -> Result<Rule> {
    if !v.is_object() {
        return Err(bad(field, "must be an object"));
    }
    let names_field = format!("{field}.names");
    let names_v = v.get("names").ok_or_else(|| bad(&names_field, "missing"))?;
    let mut names = Vec::new();
    for (j, n) in as_array(names_v, &names_field)?.iter().enumerate() {
        // field names are built on error only: a profile has hundreds of names
        let name = n.as_str().ok_or_else(|| bad(format!("{names_field}[{j}]"), "must be a string"))?;
        if !valid_syscall_name(name) {
            return Err(bad(format!("{names_field}[{j}]"), format!("{name:?} is not a syscall name")));
        }
        names.push(name.to_string());
    }
    let errno_field = format!("{field}.errnoRet");
    let errno = errno_ret(v.get("errnoRet"), &errno_field)?;
    let action_field = format!("{field}.action");
    let act = action(v.get("action").ok_or_else(|| bad(&action_field, "missing"))?, errno, &action_field, &errno_field)?;
    let mut args = Vec::new();
    if let Some(a) = v.get("args") {
        let args_field = format!("{field}.args");
        for (k, x) in as_array(a, &args_field)?.iter().enumerate() {
            args.push(arg(x, &format!("{args_field}[{k}]"))?);
        }
    }
    if act == Action::Notify {
        // The child hands the listener fd to its parent with sendmsg (runc: write) after loading
        // the filter: notifying those would wait for an agent that has no fd yet.
        if let Some((j, n)) = names.iter().enumerate().find(|(_, n)| *n == "write" || *n == "sendmsg") {
            return Err(bad(format!("{names_field}[{j}]"), format!("SCMP_ACT_NOTIFY cannot be used for {n}: the runtime needs it to pass the seccomp fd to the listener")));
        }
    }
    Ok(Rule { field, names, action: act, args })
}

/// Reads and validates a `linux.seccomp` object.
pub fn parse(spec: &Value) -> Result<Profile> {
    if !spec.is_object() {
        return Err(bad(FIELD, "must be an object"));
    }
    let default_errno = errno_ret(spec.get("defaultErrnoRet"), "linux.seccomp.defaultErrnoRet")?;
    let default_action = action(
        spec.get("defaultAction").ok_or_else(|| bad("linux.seccomp.defaultAction", "missing"))?,
        default_errno,
        "linux.seccomp.defaultAction",
        "linux.seccomp.defaultErrnoRet",
    )?;
    if default_action == Action::Notify {
        return Err(bad("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action: the runtime's own syscalls after loading the filter would wait on the listener"));
    }

    let mut architectures: Vec<&'static Arch> = Vec::new();
    if let Some(a) = spec.get("architectures") {
        for (i, x) in as_array(a, "linux.seccomp.architectures")?.iter().enumerate() {
            let f = format!("linux.seccomp.architectures[{i}]");
            let name = as_str(x, &f)?;
            match ARCHES.iter().find(|a| a.name == name) {
                Some(arch) if !architectures.contains(&arch) => architectures.push(arch),
                Some(_) => {}
                None if ARCHES_UNSUPPORTED.contains(&name) => {
                    return Err(bad(f, format!("{name} is not supported by this build's libseccomp")));
                }
                None => return Err(bad(f, format!("unknown architecture {name:?}"))),
            }
        }
    }

    let mut flags = Vec::new();
    if let Some(a) = spec.get("flags") {
        for (i, x) in as_array(a, "linux.seccomp.flags")?.iter().enumerate() {
            let f = format!("linux.seccomp.flags[{i}]");
            let name = as_str(x, &f)?;
            let (_, bit) = KNOWN_FLAGS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
                let known: Vec<&str> = KNOWN_FLAGS.iter().map(|(n, _)| *n).collect();
                bad(&f, format!("unknown flag {name:?} (known: {})", known.join(", ")))
            })?;
            flags.push(*bit);
        }
    }

    let mut rules = Vec::new();
    if let Some(a) = spec.get("syscalls") {
        for (i, x) in as_array(a, "linux.seccomp.syscalls")?.iter().enumerate() {
            rules.push(rule(x, format!("linux.seccomp.syscalls[{i}]"))?);
        }
    }

    let listener_path = match spec.get("listenerPath") {
        None | Some(Value::Null) => None,
        Some(v) => Some(as_str(v, "linux.seccomp.listenerPath")?).filter(|s| !s.is_empty()).map(PathBuf::from),
    };
    let listener_metadata = match spec.get("listenerMetadata") {
        None | Some(Value::Null) => String::new(),
        Some(v) => as_str(v, "linux.seccomp.listenerMetadata")?.to_string(),
    };
    let profile = Profile { default_action, architectures, flags, rules, listener_path, listener_metadata };
    if profile.uses_notify() && profile.listener_path.is_none() {
        return Err(bad("linux.seccomp.listenerPath", "required when a rule uses SCMP_ACT_NOTIFY"));
    }
    Ok(profile)
}
