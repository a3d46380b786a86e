//! Unit tests with hand-built tars, hostile ones included: nothing may land outside the target.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// A scratch directory removed on drop; `root` is the unpack target inside `base`.
struct Scratch {
    base: PathBuf,
}

impl Scratch {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir().join(format!(
            "husk-image-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(base.join("root")).unwrap();
        fs::create_dir_all(base.join("outside")).unwrap();
        fs::write(base.join("outside/secret"), "secret\n").unwrap();
        Scratch { base }
    }
    fn root(&self) -> PathBuf {
        self.base.join("root")
    }
    fn outside(&self) -> PathBuf {
        self.base.join("outside")
    }
    /// Everything in `base` must be `root/` or the untouched `outside/secret`.
    fn assert_nothing_outside(&self) {
        let mut names: Vec<_> = fs::read_dir(&self.base)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["outside", "root"]);
        let outside: Vec<_> = fs::read_dir(self.outside())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(outside, ["secret"]);
        let secret = self.outside().join("secret");
        assert_eq!(fs::read_to_string(&secret).unwrap(), "secret\n");
        assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.base);
    }
}

/// Builds tars entry by entry with raw names, so hostile paths reach the unpacker unchanged.
#[derive(Default)]
struct TarBuilder {
    bytes: Vec<u8>,
}

impl TarBuilder {
    fn header(name: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_ustar();
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(1_704_067_200);
        header.set_uid(0);
        header.set_gid(0);
        header
    }
    fn push(&mut self, mut header: tar::Header, data: &[u8]) -> &mut Self {
        header.set_cksum();
        self.bytes.extend_from_slice(header.as_bytes());
        self.bytes.extend_from_slice(data);
        self.bytes.resize(self.bytes.len().div_ceil(512) * 512, 0);
        self
    }
    fn file(&mut self, name: &str, data: &str) -> &mut Self {
        self.push(
            Self::header(name, tar::EntryType::Regular, 0o644, data.len() as u64),
            data.as_bytes(),
        )
    }
    fn file_with(&mut self, name: &str, data: &str, mode: u32, uid: u64) -> &mut Self {
        let mut header = Self::header(name, tar::EntryType::Regular, mode, data.len() as u64);
        header.set_uid(uid);
        header.set_gid(uid);
        self.push(header, data.as_bytes())
    }
    fn dir(&mut self, name: &str) -> &mut Self {
        self.push(Self::header(name, tar::EntryType::Directory, 0o755, 0), b"")
    }
    fn link(&mut self, kind: tar::EntryType, name: &str, target: &str) -> &mut Self {
        let mut header = Self::header(name, kind, 0o777, 0);
        header.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        self.push(header, b"")
    }
    fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(tar::EntryType::Symlink, name, target)
    }
    fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.link(tar::EntryType::Link, name, target)
    }
    fn device(&mut self, name: &str, kind: tar::EntryType, major: u32, minor: u32) -> &mut Self {
        let mut header = Self::header(name, kind, 0o666, 0);
        header.set_device_major(major).unwrap();
        header.set_device_minor(minor).unwrap();
        self.push(header, b"")
    }
    /// A PAX extended header (records `key=value`) applying to the next entry.
    fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (key, value) in records {
            let body_len = key.len() + value.len() + 3;
            let mut len = body_len + 1;
            while format!("{len}").len() + body_len != len {
                len += 1;
            }
            data.extend_from_slice(format!("{len} {key}=").as_bytes());
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        self.push(
            Self::header("pax", tar::EntryType::XHeader, 0o644, data.len() as u64),
            &data,
        )
    }
    fn finish(&mut self) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.extend_from_slice(&[0; 1024]);
        bytes
    }
}

fn unpack(tar: &[u8], root: &Path, whiteouts: WhiteoutMode) -> Result<UnpackStats> {
    let options = UnpackOptions {
        whiteouts,
        ..UnpackOptions::default()
    };
    unpack_layer(tar, root, &options)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn sha256(data: &[u8]) -> String {
    let mut reader = Sha256Digest::new(data);
    reader.drain().unwrap();
    reader.finish().0
}

#[test]
fn dotdot_and_absolute_names_stay_inside() {
    let scratch = Scratch::new();
    let tar = TarBuilder::default()
        .dir("x")
        .file("../../evil-dotdot.txt", "escaped\n")
        .file("x/../../evil-dotdot2.txt", "escaped\n")
        .file("/evil-abs.txt", "absolute\n")
        .file("./x/../../../x/ok.txt", "ok\n")
        .finish();
    for mode in [WhiteoutMode::Overlay, WhiteoutMode::Flatten] {
        unpack(&tar, &scratch.root(), mode).unwrap();
        scratch.assert_nothing_outside();
        assert_eq!(
            fs::read_to_string(scratch.root().join("evil-dotdot.txt")).unwrap(),
            "escaped\n"
        );
        assert_eq!(
            fs::read_to_string(scratch.root().join("evil-abs.txt")).unwrap(),
            "absolute\n"
        );
        assert_eq!(
            fs::read_to_string(scratch.root().join("x/ok.txt")).unwrap(),
            "ok\n"
        );
    }
}

#[test]
fn writes_through_symlinked_parents_stay_inside() {
    let scratch = Scratch::new();
    let outside = scratch.outside();
    let outside = outside.to_str().unwrap();
    let layer1 = TarBuilder::default()
        .dir("x")
        .symlink("x/abs", outside)
        .symlink("x/rel", "../../../../../../../../..")
        .symlink("x/dotdot", "..")
        .finish();
    let layer2 = TarBuilder::default()
        .file("x/abs/pwned-abs.txt", "abs\n")
        .file("x/rel/pwned-rel.txt", "rel\n")
        .file("x/rel/outside/secret", "overwritten\n")
        .file("x/dotdot/../../pwned-dotdot.txt", "dotdot\n")
        .finish();
    unpack(&layer1, &scratch.root(), WhiteoutMode::Flatten).unwrap();
    unpack(&layer2, &scratch.root(), WhiteoutMode::Flatten).unwrap();
    scratch.assert_nothing_outside();
    // The relative link resolves to the root itself, so its files land at the top of the rootfs.
    assert_eq!(
        fs::read_to_string(scratch.root().join("pwned-rel.txt")).unwrap(),
        "rel\n"
    );
    assert_eq!(
        fs::read_to_string(scratch.root().join("pwned-dotdot.txt")).unwrap(),
        "dotdot\n"
    );
}

#[test]
fn a_file_entry_replaces_a_symlink_instead_of_writing_through_it() {
    let scratch = Scratch::new();
    let secret = scratch.outside().join("secret");
    let tar = TarBuilder::default()
        .symlink("link", secret.to_str().unwrap())
        .file("link", "replaced\n")
        .symlink("dirlink", scratch.outside().to_str().unwrap())
        .dir("dirlink")
        .file("dirlink/inside.txt", "inside\n")
        .finish();
    unpack(&tar, &scratch.root(), WhiteoutMode::Flatten).unwrap();
    scratch.assert_nothing_outside();
    let link = scratch.root().join("link");
    assert!(fs::symlink_metadata(&link).unwrap().is_file());
    assert!(fs::symlink_metadata(scratch.root().join("dirlink"))
        .unwrap()
        .is_dir());
}

#[test]
fn hardlinks_to_outside_fail_and_link_nothing() {
    let scratch = Scratch::new();
    let secret = scratch.outside().join("secret");
    let cases = [
        TarBuilder::default()
            .dir("x")
            .hardlink("x/hl", "../../../../outside/secret")
            .finish(),
        TarBuilder::default()
            .hardlink("hl", secret.to_str().unwrap())
            .finish(),
        TarBuilder::default()
            .symlink("out", scratch.outside().to_str().unwrap())
            .hardlink("hl", "out/secret")
            .finish(),
        TarBuilder::default()
            .symlink("s", secret.to_str().unwrap())
            .hardlink("hl", "s")
            .finish(),
    ];
    for (i, tar) in cases.iter().enumerate() {
        let result = unpack(tar, &scratch.root(), WhiteoutMode::Overlay);
        // Linking the symlink itself (case 3) is fine; following it would not be.
        if i == 3 {
            result.unwrap();
            assert!(fs::symlink_metadata(scratch.root().join("hl"))
                .unwrap()
                .file_type()
                .is_symlink());
        } else {
            assert!(
                matches!(result, Err(Error::Entry { .. })),
                "case {i}: {result:?}"
            );
        }
        scratch.assert_nothing_outside();
    }
}

#[test]
fn whiteouts_name_a_file() {
    let scratch = Scratch::new();
    for name in [".wh..", ".wh...", "x/.wh."] {
        let tar = TarBuilder::default().file(name, "").finish();
        assert!(matches!(
            unpack(&tar, &scratch.root(), WhiteoutMode::Flatten),
            Err(Error::Entry { .. })
        ));
    }
    scratch.assert_nothing_outside();
}

#[test]
fn overlay_mode_writes_overlayfs_whiteouts_and_opaque_dirs() {
    let scratch = Scratch::new();
    let tar = TarBuilder::default()
        .dir("data")
        .file("data/.wh.gone.txt", "")
        .dir("opq")
        .file("opq/.wh..wh..opq", "")
        .file("opq/new.txt", "new\n")
        .file("implicit/.wh..wh..opq", "")
        .pax(&[("SCHILY.xattr.trusted.overlay.opaque", b"y")])
        .dir("smuggled")
        .finish();
    unpack(&tar, &scratch.root(), WhiteoutMode::Overlay).unwrap();
    let whiteout = fs::symlink_metadata(scratch.root().join("data/gone.txt")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    assert!(!scratch.root().join("data/.wh.gone.txt").exists());
    let opaque = |p: &str| xattr_of(&scratch.root().join(p), "trusted.overlay.opaque");
    assert_eq!(opaque("opq"), Some(b"y".to_vec()));
    assert_eq!(opaque("implicit"), Some(b"y".to_vec()));
    assert_eq!(opaque("smuggled"), None);
    assert_eq!(
        fs::read_to_string(scratch.root().join("opq/new.txt")).unwrap(),
        "new\n"
    );
    assert!(!scratch.root().join("opq/.wh..wh..opq").exists());
}

#[test]
fn flatten_mode_deletes_what_whiteouts_and_opaque_markers_cover() {
    let scratch = Scratch::new();
    let layer1 = TarBuilder::default()
        .dir("data")
        .file("data/gone.txt", "1\n")
        .file("data/dir/inner.txt", "1\n")
        .file("data/keep.txt", "1\n")
        .file("opq/a.txt", "1\n")
        .file("opq/sub/b.txt", "1\n")
        .file("late/old.txt", "1\n")
        .finish();
    let layer2 = TarBuilder::default()
        .file("data/.wh.gone.txt", "")
        .file("data/.wh.dir", "")
        .file("data/.wh.never-existed", "")
        .file("nowhere/.wh.x", "")
        .file("opq/.wh..wh..opq", "")
        .file("opq/sub/new.txt", "2\n")
        .file("late/new.txt", "2\n")
        .file("late/.wh..wh..opq", "")
        .finish();
    unpack(&layer1, &scratch.root(), WhiteoutMode::Flatten).unwrap();
    unpack(&layer2, &scratch.root(), WhiteoutMode::Flatten).unwrap();
    let root = scratch.root();
    for gone in [
        "data/gone.txt",
        "data/dir",
        "opq/a.txt",
        "opq/sub/b.txt",
        "late/old.txt",
        "nowhere",
    ] {
        assert!(
            fs::symlink_metadata(root.join(gone)).is_err(),
            "{gone} should be gone"
        );
    }
    for kept in ["data/keep.txt", "opq/sub/new.txt", "late/new.txt"] {
        assert!(root.join(kept).is_file(), "{kept} should be kept");
    }
    assert_eq!(fs::read_dir(root.join("opq")).unwrap().count(), 1);
}

#[test]
fn metadata_links_and_special_files_are_restored() {
    let scratch = Scratch::new();
    let tar = TarBuilder::default()
        .file_with("bin/suid", "#!/bin/sh\n", 0o4755, 1000)
        .file_with("nobody", "", 0o640, 65534)
        .hardlink("bin/suid-link", "bin/suid")
        .symlink("rel", "bin/suid")
        .pax(&[
            ("SCHILY.xattr.user.fixture", b"hello"),
            ("mtime", b"1600000000.5"),
        ])
        .file("xattr.txt", "x\n")
        .device("dev/null", tar::EntryType::Char, 1, 3)
        .device("fifo", tar::EntryType::Fifo, 0, 0)
        .dir("sticky")
        .push(
            TarBuilder::header("sticky", tar::EntryType::Directory, 0o1777, 0),
            b"",
        )
        .finish();
    unpack(&tar, &scratch.root(), WhiteoutMode::Overlay).unwrap();
    let root = scratch.root();
    let suid = fs::symlink_metadata(root.join("bin/suid")).unwrap();
    assert_eq!(suid.permissions().mode() & 0o7777, 0o4755);
    assert_eq!((suid.uid(), suid.gid()), (1000, 1000));
    assert_eq!(suid.mtime(), 1_704_067_200);
    assert_eq!(
        fs::symlink_metadata(root.join("bin/suid-link"))
            .unwrap()
            .ino(),
        suid.ino()
    );
    assert_eq!(
        fs::read_link(root.join("rel")).unwrap(),
        Path::new("bin/suid")
    );
    let nobody = fs::symlink_metadata(root.join("nobody")).unwrap();
    assert_eq!((nobody.uid(), nobody.mode() & 0o7777), (65534, 0o640));
    assert_eq!(
        xattr_of(&root.join("xattr.txt"), "user.fixture"),
        Some(b"hello".to_vec())
    );
    assert_eq!(
        fs::symlink_metadata(root.join("xattr.txt"))
            .unwrap()
            .mtime(),
        1_600_000_000
    );
    let null = fs::symlink_metadata(root.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), libc::makedev(1, 3));
    assert!(fs::symlink_metadata(root.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    let sticky = fs::symlink_metadata(root.join("sticky")).unwrap();
    assert_eq!(
        (sticky.mode() & 0o7777, sticky.mtime()),
        (0o1777, 1_704_067_200)
    );
}

#[test]
fn replaces_dirs_files_and_symlinks_by_type() {
    let scratch = Scratch::new();
    let layer1 = TarBuilder::default()
        .file("d/child", "1\n")
        .file("f", "1\n")
        .symlink("s", "/f")
        .finish();
    let layer2 = TarBuilder::default()
        .file("d", "now a file\n")
        .file("f/child", "now a dir\n")
        .file("s", "no longer a symlink\n")
        .finish();
    unpack(&layer1, &scratch.root(), WhiteoutMode::Flatten).unwrap();
    unpack(&layer2, &scratch.root(), WhiteoutMode::Flatten).unwrap();
    let root = scratch.root();
    assert_eq!(fs::read_to_string(root.join("d")).unwrap(), "now a file\n");
    assert_eq!(
        fs::read_to_string(root.join("f/child")).unwrap(),
        "now a dir\n"
    );
    assert!(fs::symlink_metadata(root.join("s")).unwrap().is_file());
    assert!(fs::read_to_string(root.join("f")).is_err());
}

#[test]
fn hardlinks_into_lower_layers_are_found() {
    let lower = Scratch::new();
    unpack(
        &TarBuilder::default()
            .file("links/hard1", "lower\n")
            .finish(),
        &lower.root(),
        WhiteoutMode::Overlay,
    )
    .unwrap();
    let upper = Scratch::new();
    let options = UnpackOptions {
        lower_dirs: vec![lower.root()],
        ..UnpackOptions::default()
    };
    let tar = TarBuilder::default()
        .hardlink("links/hard2", "links/hard1")
        .finish();
    unpack_layer(&tar[..], &upper.root(), &options).unwrap();
    assert_eq!(
        fs::read_to_string(upper.root().join("links/hard2")).unwrap(),
        "lower\n"
    );
}

#[test]
fn digests_are_computed_and_checked_for_every_compression() {
    let tar = TarBuilder::default().file("a.txt", "a\n").finish();
    let gz = gzip(&tar);
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    for (blob, name) in [(&tar, "none"), (&gz, "gzip"), (&zst, "zstd")] {
        let scratch = Scratch::new();
        let stats = unpack(blob, &scratch.root(), WhiteoutMode::Overlay).unwrap();
        assert_eq!(stats.compression, name);
        assert_eq!(stats.digest, sha256(blob));
        assert_eq!(stats.diff_id, sha256(&tar));
        assert_eq!(
            (stats.compressed_size, stats.size, stats.entries),
            (blob.len() as u64, tar.len() as u64, 1)
        );
        let bad = UnpackOptions {
            expected_diff_id: Some(sha256(b"other")),
            ..UnpackOptions::default()
        };
        let err = unpack_layer(&blob[..], &scratch.root(), &bad).unwrap_err();
        assert_eq!(err.code(), "EDIGEST_MISMATCH");
        let good = UnpackOptions {
            expected_digest: Some(sha256(blob)),
            expected_diff_id: Some(sha256(&tar)),
            ..UnpackOptions::default()
        };
        unpack_layer(&blob[..], &scratch.root(), &good).unwrap();
    }
}

#[test]
fn truncated_blobs_fail() {
    let tar = TarBuilder::default()
        .file("a.txt", &"a".repeat(10_000))
        .finish();
    let gz = gzip(&tar);
    let scratch = Scratch::new();
    let err = unpack(&gz[..gz.len() / 2], &scratch.root(), WhiteoutMode::Overlay).unwrap_err();
    assert!(matches!(err, Error::Read(_) | Error::Io { .. }), "{err:?}");
}

fn xattr_of(path: &Path, name: &str) -> Option<Vec<u8>> {
    let path = c_name(path.as_os_str().as_bytes()).unwrap();
    let name = c_name(name.as_bytes()).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: strings NUL-terminated, buffer writable for its length.
    let n = unsafe {
        libc::lgetxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    (n >= 0).then(|| buf[..n as usize].to_vec())
}
