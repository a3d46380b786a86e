//! Security settings of a container's process: seccomp (+ notify), sysctl validation, AppArmor,
//! SELinux, personality, I/O priority and scheduler. Each is built in the parent as plain data
//! (validated, errors naming the config.json field) and applied in the init child with raw
//! syscalls (`*::apply_raw`, `SeccompPlan::load_raw`), which allocate nothing.

pub mod apparmor;
pub mod exec_attr;
pub mod ioprio;
pub mod personality;
pub mod scheduler;
pub mod seccomp;
pub mod selinux;
pub mod sysctl;

#[cfg(test)]
pub(crate) mod testutil;
