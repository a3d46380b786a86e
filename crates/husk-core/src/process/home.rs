//! HOME for a process whose env sets none, as runc sets it: the home directory of the entry with
//! the process's uid in the container's own /etc/passwd, or "/" when there is none.

use std::path::Path;

use crate::util::{cstring, openat2, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS};

/// A passwd file bigger than this is not read (the lookup falls back to "/").
const MAX_PASSWD: usize = 1 << 20;

/// `root` is the container's root as the host sees it (the rootfs, or /proc/PID/root); the file
/// is opened confined to it, so a symlinked /etc/passwd in the image cannot name a host file.
pub fn lookup(root: &Path, uid: u32) -> String {
    read_passwd(root).and_then(|text| home_in(&text, uid)).unwrap_or_else(|| "/".to_string())
}

fn read_passwd(root: &Path) -> Option<String> {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    let c = cstring(root.as_os_str()).ok()?;
    // SAFETY: open of a NUL-terminated path; the fd is owned by the File below or closed here.
    let rootfd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
    if rootfd < 0 {
        return None;
    }
    let fd = openat2(rootfd, c"etc/passwd", libc::O_RDONLY | libc::O_NOCTTY | libc::O_NONBLOCK, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    // SAFETY: closing the fd opened above.
    unsafe { libc::close(rootfd) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd was just opened and is owned by the File from here on.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut buf = Vec::new();
    file.take(MAX_PASSWD as u64 + 1).read_to_end(&mut buf).ok()?;
    (buf.len() <= MAX_PASSWD).then(|| String::from_utf8_lossy(&buf).into_owned())
}

/// The home of the first `name:pw:uid:gid:gecos:home:shell` line with this uid.
fn home_in(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 6 && f[2].trim().parse::<u32>().ok() == Some(uid) && !f[5].is_empty()).then(|| f[5].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A scratch dir removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let p = std::env::temp_dir().join(format!("husk-home-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(p.join("etc")).unwrap();
            Scratch(p)
        }
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn finds_the_uid_in_the_containers_passwd() {
        let dir = Scratch::new("uid");
        std::fs::write(dir.path().join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n# c\nbad line\napp:x:1000:1000::/home/app:/bin/sh\nnohome:x:7:7:::\n").unwrap();
        assert_eq!(lookup(dir.path(), 0), "/root");
        assert_eq!(lookup(dir.path(), 1000), "/home/app");
        assert_eq!(lookup(dir.path(), 7), "/");
        assert_eq!(lookup(dir.path(), 4242), "/");
    }

    #[test]
    fn a_symlink_out_of_the_rootfs_is_not_followed() {
        let host = Scratch::new("host");
        std::fs::write(host.path().join("passwd"), "root:x:0:0:root:/host-root:/bin/sh\n").unwrap();
        let dir = Scratch::new("link");
        std::os::unix::fs::symlink(host.path().join("passwd"), dir.path().join("etc/passwd")).unwrap();
        // Resolved inside the rootfs, the absolute target does not exist there.
        assert_eq!(lookup(dir.path(), 0), "/");
        assert_eq!(lookup(Path::new("/nonexistent-root"), 0), "/");
    }
}
