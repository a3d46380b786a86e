//! husk-image: unpacks OCI/Docker layer blobs (gzip, zstd or plain tar) into a directory, with
//! nothing ever written outside it, whiteouts applied for overlayfs or flattened onto a rootfs,
//! and the blob digest and diff id computed while streaming.

mod digest;
mod error;
mod fsops;
mod unpack;

pub use digest::Sha256Digest;
pub use error::{Error, Result};
pub use unpack::{
    unpack_layer, unpack_layer_file, Compression, UnpackOptions, UnpackStats, WhiteoutMode,
};
