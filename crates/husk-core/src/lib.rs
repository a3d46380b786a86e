//! husk-core: the container runtime library. It takes an OCI bundle and a state root, like runc.

pub mod cgroups;
pub mod console;
pub mod container;
pub mod error;
pub mod features;
pub mod hooks;
pub mod process;
pub mod rootfs;
pub mod security;
pub mod spec;
pub mod state;
pub mod util;
pub mod workers;

pub use error::{Error, Result};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The OCI runtime-spec version this runtime implements.
pub const OCI_VERSION: &str = "1.2.0";
