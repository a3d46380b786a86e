//! The unpacker's errors: each names the layer entry or path it failed on, and has a stable code.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{step}: {path}: {source}")]
    Io {
        step: &'static str,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("reading layer: {0}")]
    Read(#[source] io::Error),
    #[error("layer entry {path:?}: {msg}")]
    Entry { path: String, msg: String },
    #[error("{what} mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        what: &'static str,
        expected: String,
        actual: String,
    },
}

impl Error {
    /// A stable, machine-readable code (the addon passes it on to JS).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "EINVAL_ARGUMENT",
            Error::Io { .. } => "EUNPACK_IO",
            Error::Read(_) => "EUNPACK_READ",
            Error::Entry { .. } => "EUNPACK_ENTRY",
            Error::DigestMismatch { .. } => "EDIGEST_MISMATCH",
        }
    }

    pub fn io(step: &'static str, path: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            step,
            path: path.into(),
            source,
        }
    }

    pub fn entry(path: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Entry {
            path: path.into(),
            msg: msg.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
