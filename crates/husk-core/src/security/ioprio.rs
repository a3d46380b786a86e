//! `process.ioPriority` → the value for ioprio_set(2) on the container's process.

use crate::error::{Error, Result};
use crate::spec::IoPriority;

const IOPRIO_CLASS_SHIFT: u32 = 13;
const IOPRIO_WHO_PROCESS: libc::c_int = 1;

/// The ioprio_set(2) value: class in the top bits, priority level 0 (highest) to 7 below.
pub fn value(p: &IoPriority) -> Result<i32> {
    let class = match p.class.as_str() {
        "IOPRIO_CLASS_RT" => 1,
        "IOPRIO_CLASS_BE" => 2,
        "IOPRIO_CLASS_IDLE" => 3,
        other => {
            return Err(Error::spec("process.ioPriority.class", format!("unknown class {other:?} (IOPRIO_CLASS_RT, IOPRIO_CLASS_BE or IOPRIO_CLASS_IDLE)")));
        }
    };
    if !(0..=7).contains(&p.priority) {
        return Err(Error::spec("process.ioPriority.priority", format!("{} is out of range (0..=7)", p.priority)));
    }
    Ok((class << IOPRIO_CLASS_SHIFT) | p.priority)
}

/// Sets the calling process's I/O priority: one raw syscall, safe in the init child. The RT
/// class needs CAP_SYS_ADMIN, so apply it before capabilities are dropped.
pub fn apply_raw(value: i32) -> Result<(), i32> {
    // SAFETY: ioprio_set(2) with plain integers; 0 is the calling process.
    let r = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    if r < 0 { Err(crate::util::errno()) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::security::testutil::{describe, in_child};

    fn prio(class: &str, priority: i32) -> IoPriority {
        IoPriority { class: class.into(), priority }
    }

    #[test]
    fn classes_and_levels() {
        assert_eq!(value(&prio("IOPRIO_CLASS_RT", 0)).unwrap(), 1 << 13);
        assert_eq!(value(&prio("IOPRIO_CLASS_BE", 4)).unwrap(), (2 << 13) | 4);
        assert_eq!(value(&prio("IOPRIO_CLASS_IDLE", 7)).unwrap(), (3 << 13) | 7);
        assert!(value(&prio("IOPRIO_CLASS_NONE", 0)).unwrap_err().to_string().contains("process.ioPriority.class"));
        assert!(value(&prio("IOPRIO_CLASS_BE", 8)).unwrap_err().to_string().contains("process.ioPriority.priority: 8 is out of range"));
    }

    #[test]
    fn applied_in_a_child_reads_back() {
        let v = value(&prio("IOPRIO_CLASS_BE", 6)).unwrap();
        let status = in_child(|| {
            if apply_raw(v).is_err() {
                return 1;
            }
            // SAFETY: ioprio_get(2) of the calling process.
            let got = unsafe { libc::syscall(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0) };
            if got == v as libc::c_long { 0 } else { 2 }
        });
        assert_eq!(describe(status), "exit 0");
    }
}
