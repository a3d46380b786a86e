//! The library's error type: every variant names the step, path or syscall, and has a stable code.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("invalid config.json: {field}: {msg}")]
    InvalidSpec { field: String, msg: String },
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    #[error("container with id \"{0}\" already exists")]
    AlreadyExists(String),
    #[error("{0}")]
    WrongState(String),
    #[error("{step}: {path}: {source}")]
    Io { step: &'static str, path: String, #[source] source: io::Error },
    #[error("{step}: {source}")]
    Sys { step: String, #[source] source: io::Error },
    #[error("{0}")]
    Child(String),
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// A stable, machine-readable code (the addon sets it as the JS Error's `code`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "EINVAL_ARGUMENT",
            Error::InvalidSpec { .. } => "EINVAL_SPEC",
            Error::NotFound(_) => "ENOTFOUND_CONTAINER",
            Error::AlreadyExists(_) => "EEXIST_CONTAINER",
            Error::WrongState(_) => "EWRONG_STATE",
            Error::Io { .. } => "EIO_STEP",
            Error::Sys { .. } => "ESYSCALL",
            Error::Child(_) => "ECHILD_SETUP",
            Error::Other(_) => "EHUSK",
        }
    }

    pub fn io(step: &'static str, path: impl Into<String>, source: io::Error) -> Self {
        Error::Io { step, path: path.into(), source }
    }

    pub fn sys(step: impl Into<String>) -> Self {
        Error::Sys { step: step.into(), source: io::Error::last_os_error() }
    }

    pub fn spec(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::InvalidSpec { field: field.into(), msg: msg.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
