//! Security settings of a container's process: seccomp (+ notify), sysctl validation, AppArmor,
//! SELinux, personality, I/O priority and scheduler. Each is built in the parent as plain data
//! (validated, naming the config.json field) and applied in the init child with raw syscalls.

pub mod seccomp;

#[cfg(test)]
pub(crate) mod testutil;
