//! The exec trampoline: a 150-byte static ELF that only does `execve(argv[1], &argv[2], envp)`.
//! The container's process is exec'd through it from a sealed memfd, so at the moment the user's
//! program is exec'd, /proc/self/exe names that memfd and not the host's husk-runtime: a program
//! whose interpreter is `#!/proc/self/exe` (CVE-2019-5736) then reaches a file nobody can write.
//! One execve of a tiny static file costs far less than re-running the runtime from a copy.

use std::os::fd::{FromRawFd, OwnedFd};

use crate::error::{Error, Result};

const BASE: u64 = 0x400000;

/// x86_64: rcx=argc; rsi=argv; rdx=envp=argv+8*argc+8; rdi=argv[1]; rsi=&argv[2];
/// execve; on failure exit(127).
#[cfg(target_arch = "x86_64")]
const CODE: &[u8] = &[
    0x48, 0x8b, 0x0c, 0x24, // mov rcx, [rsp]
    0x48, 0x8d, 0x74, 0x24, 0x08, // lea rsi, [rsp+8]
    0x48, 0x8d, 0x54, 0xce, 0x08, // lea rdx, [rsi+rcx*8+8]
    0x48, 0x8b, 0x7e, 0x08, // mov rdi, [rsi+8]
    0x48, 0x83, 0xc6, 0x10, // add rsi, 16
    0xb8, 0x3b, 0x00, 0x00, 0x00, // mov eax, 59 (execve)
    0x0f, 0x05, // syscall
    0xbf, 0x7f, 0x00, 0x00, 0x00, // mov edi, 127
    0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60 (exit)
    0x0f, 0x05, // syscall
];

/// The whole ELF image: header, one PT_LOAD program header, the code.
#[cfg(target_arch = "x86_64")]
pub fn elf_image() -> Vec<u8> {
    let code_off = 64 + 56;
    let total = (code_off + CODE.len()) as u64;
    let mut e = Vec::with_capacity(total as usize);
    e.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e.extend_from_slice(&0x3eu16.to_le_bytes()); // EM_X86_64
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&(BASE + code_off as u64).to_le_bytes()); // e_entry
    e.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    e.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    e.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for v in [64u16, 56, 1, 64, 0, 0] {
        e.extend_from_slice(&v.to_le_bytes()); // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    }
    e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    e.extend_from_slice(&5u32.to_le_bytes()); // PF_R | PF_X
    for v in [0, BASE, BASE, total, total, 0x1000u64] {
        e.extend_from_slice(&v.to_le_bytes()); // offset, vaddr, paddr, filesz, memsz, align
    }
    e.extend_from_slice(CODE);
    e
}

/// A sealed memfd holding the trampoline (close-on-exec: an ELF runs from it all the same).
#[cfg(target_arch = "x86_64")]
pub fn sealed_trampoline() -> Result<OwnedFd> {
    let image = elf_image();
    // SAFETY: raw calls over an fd owned here and a byte buffer.
    unsafe {
        let fd = libc::memfd_create(c"husk-exec".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING);
        if fd < 0 {
            return Err(Error::sys("memfd_create for the exec trampoline"));
        }
        let fd = OwnedFd::from_raw_fd(fd);
        use std::os::fd::AsRawFd;
        if !crate::util::write_all_raw(fd.as_raw_fd(), &image) {
            return Err(Error::sys("write the exec trampoline"));
        }
        let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
        if libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) != 0 {
            return Err(Error::sys("seal the exec trampoline"));
        }
        Ok(fd)
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub fn sealed_trampoline() -> Result<OwnedFd> {
    Err(Error::Other("no exec trampoline for this architecture".into()))
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn trampoline_execs_its_second_argument() {
        let dir = std::env::temp_dir().join(format!("husk-tramp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t");
        std::fs::write(&path, super::elf_image()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = std::process::Command::new(&path).args(["/bin/sh", "sh", "-c", "echo \"$0 $X\"", "a"]).env("X", "envok").output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a envok\n");
        let missing = std::process::Command::new(&path).args(["/nonexistent", "x"]).status().unwrap();
        assert_eq!(missing.code(), Some(127));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
