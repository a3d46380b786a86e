//! `process.scheduler` → a `sched_attr` for sched_setattr(2) on the container's process.

use crate::error::{Error, Result};
use crate::spec::Scheduler;

/// struct sched_attr of <linux/sched/types.h> (SCHED_ATTR_SIZE_VER1, with the util clamps).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
    pub sched_util_min: u32,
    pub sched_util_max: u32,
}

const POLICIES: &[(&str, u32)] = &[
    ("SCHED_OTHER", 0),
    ("SCHED_FIFO", 1),
    ("SCHED_RR", 2),
    ("SCHED_BATCH", 3),
    ("SCHED_ISO", 4),
    ("SCHED_IDLE", 5),
    ("SCHED_DEADLINE", 6),
];

const FLAGS: &[(&str, u64)] = &[
    ("SCHED_FLAG_RESET_ON_FORK", 0x01),
    ("SCHED_FLAG_RECLAIM", 0x02),
    ("SCHED_FLAG_DL_OVERRUN", 0x04),
    ("SCHED_FLAG_KEEP_POLICY", 0x08),
    ("SCHED_FLAG_KEEP_PARAMS", 0x10),
    ("SCHED_FLAG_UTIL_CLAMP_MIN", 0x20),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", 0x40),
];

const SCHED_FIFO: u32 = 1;
const SCHED_RR: u32 = 2;
const SCHED_ISO: u32 = 4;
const SCHED_DEADLINE: u32 = 6;
/// The smallest runtime SCHED_DEADLINE accepts (1 << DL_SCALE ns).
const DL_MIN_RUNTIME: u64 = 1 << 10;

fn bad(field: &str, msg: impl Into<String>) -> Error {
    Error::spec(format!("process.scheduler.{field}"), msg)
}

/// The sched_attr for `process.scheduler`, checked as runc does plus the kernel's own ranges.
pub fn attr(s: &Scheduler) -> Result<SchedAttr> {
    let (_, policy) = *POLICIES.iter().find(|(n, _)| *n == s.policy).ok_or_else(|| {
        let known: Vec<&str> = POLICIES.iter().map(|(n, _)| *n).collect();
        bad("policy", format!("unknown policy {:?} (known: {})", s.policy, known.join(", ")))
    })?;
    if policy == SCHED_ISO {
        return Err(bad("policy", "SCHED_ISO is not implemented by Linux"));
    }
    if !(-20..=19).contains(&s.nice) {
        return Err(bad("nice", format!("{} is out of range (-20..=19)", s.nice)));
    }
    let realtime = policy == SCHED_FIFO || policy == SCHED_RR;
    if realtime && !(1..=99).contains(&s.priority) {
        return Err(bad("priority", format!("{} is out of range for {} (1..=99)", s.priority, s.policy)));
    }
    if !realtime && s.priority != 0 {
        return Err(bad("priority", "can only be set for SCHED_FIFO or SCHED_RR"));
    }
    let (runtime, deadline, period) = (s.runtime.unwrap_or(0), s.deadline.unwrap_or(0), s.period.unwrap_or(0));
    if policy == SCHED_DEADLINE {
        if runtime < DL_MIN_RUNTIME {
            return Err(bad("runtime", format!("SCHED_DEADLINE needs a runtime of at least {DL_MIN_RUNTIME} ns")));
        }
        if deadline < runtime {
            return Err(bad("deadline", "must be at least the runtime"));
        }
        if period != 0 && period < deadline {
            return Err(bad("period", "must be at least the deadline"));
        }
    } else if runtime != 0 || deadline != 0 || period != 0 {
        return Err(bad("runtime", "runtime, deadline and period can only be set for SCHED_DEADLINE"));
    }
    let mut flags = 0;
    for (i, name) in s.flags.iter().enumerate() {
        let (_, bit) = FLAGS.iter().find(|(n, _)| n == name).ok_or_else(|| bad(&format!("flags[{i}]"), format!("unknown flag {name:?}")))?;
        flags |= bit;
    }
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: s.nice,
        sched_priority: s.priority as u32,
        sched_runtime: runtime,
        sched_deadline: deadline,
        sched_period: period,
        sched_util_min: 0,
        sched_util_max: 0,
    })
}

/// Sets the calling process's scheduling: one raw sched_setattr(2), safe in the init child.
/// Real-time policies need CAP_SYS_NICE, so apply it before capabilities are dropped.
pub fn apply_raw(attr: &SchedAttr) -> Result<(), i32> {
    // SAFETY: sched_setattr(2) reads the struct, which outlives the call; pid 0 is the caller.
    let r = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) };
    if r < 0 { Err(crate::util::errno()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::testutil::{describe, in_child};

    fn sched(policy: &str) -> Scheduler {
        Scheduler { policy: policy.into(), nice: 0, priority: 0, flags: vec![], runtime: None, deadline: None, period: None }
    }

    fn err(s: &Scheduler) -> String {
        attr(s).unwrap_err().to_string()
    }

    #[test]
    fn struct_is_the_kernels_ver1_layout() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 56);
    }

    #[test]
    fn policies_flags_and_checks() {
        let a = attr(&Scheduler { nice: 5, flags: vec!["SCHED_FLAG_RESET_ON_FORK".into()], ..sched("SCHED_BATCH") }).unwrap();
        assert_eq!((a.sched_policy, a.sched_nice, a.sched_flags, a.size), (3, 5, 1, 56));
        let a = attr(&Scheduler { priority: 10, ..sched("SCHED_FIFO") }).unwrap();
        assert_eq!((a.sched_policy, a.sched_priority), (1, 10));
        let a = attr(&Scheduler { runtime: Some(10_000_000), deadline: Some(30_000_000), period: Some(100_000_000), ..sched("SCHED_DEADLINE") }).unwrap();
        assert_eq!((a.sched_policy, a.sched_runtime, a.sched_deadline, a.sched_period), (6, 10_000_000, 30_000_000, 100_000_000));

        assert!(err(&sched("SCHED_WHATEVER")).contains("process.scheduler.policy: unknown policy"));
        assert!(err(&sched("SCHED_ISO")).contains("not implemented"));
        assert!(err(&Scheduler { nice: 20, ..sched("SCHED_OTHER") }).contains("process.scheduler.nice: 20 is out of range"));
        assert!(err(&Scheduler { priority: 5, ..sched("SCHED_OTHER") }).contains("process.scheduler.priority: can only be set"));
        assert!(err(&sched("SCHED_RR")).contains("process.scheduler.priority: 0 is out of range"));
        assert!(err(&Scheduler { runtime: Some(1), ..sched("SCHED_OTHER") }).contains("only be set for SCHED_DEADLINE"));
        assert!(err(&Scheduler { runtime: Some(5000), deadline: Some(1000), ..sched("SCHED_DEADLINE") }).contains("process.scheduler.deadline"));
        assert!(err(&Scheduler { flags: vec!["SCHED_FLAG_X".into()], ..sched("SCHED_OTHER") }).contains("process.scheduler.flags[0]: unknown flag"));
    }

    #[test]
    fn applied_in_a_child_reads_back() {
        let want = attr(&Scheduler { nice: 7, ..sched("SCHED_BATCH") }).unwrap();
        let status = in_child(|| {
            if apply_raw(&want).is_err() {
                return 1;
            }
            let mut got = SchedAttr::default();
            // SAFETY: sched_getattr(2) into a stack struct of the size we pass.
            let r = unsafe { libc::syscall(libc::SYS_sched_getattr, 0, &mut got as *mut SchedAttr, std::mem::size_of::<SchedAttr>() as u32, 0) };
            if r != 0 {
                return 2;
            }
            if got.sched_policy == 3 && got.sched_nice == 7 { 0 } else { 3 }
        });
        assert_eq!(describe(status), "exit 0");
    }
}
