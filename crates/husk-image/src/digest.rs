//! A reader that hashes (sha256) and counts every byte that passes through it.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// Wraps a reader; `finish` gives the `sha256:<hex>` digest and the byte count read so far.
pub struct Sha256Digest<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> Sha256Digest<R> {
    pub fn new(inner: R) -> Self {
        Sha256Digest {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Reads the rest of the stream (trailing tar padding, compressor trailers) into the hash.
    pub fn drain(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        while self.read(&mut buf)? != 0 {}
        Ok(())
    }

    /// The digest and length of everything read, and the inner reader.
    pub fn finish(self) -> (String, u64, R) {
        let hex: String = self
            .hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        (format!("sha256:{hex}"), self.bytes, self.inner)
    }
}

impl<R: Read> Read for Sha256Digest<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_what_passes_through() {
        let mut reader = Sha256Digest::new(&b"abc"[..]);
        reader.drain().unwrap();
        let (digest, len, _) = reader.finish();
        assert_eq!(
            digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(len, 3);
    }
}
