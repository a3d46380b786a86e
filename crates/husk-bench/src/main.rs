//! husk-measure CMD [ARG...]: runs CMD once and prints `wall_us cpu_us maxrss_kb exit` on
//! stderr-free stdout, with wait4's rusage (µs CPU, unlike GNU time's 10 ms steps).

use std::ffi::CString;
use std::time::Instant;

fn main() {
    let args: Vec<CString> = std::env::args().skip(1).map(|a| CString::new(a).expect("NUL in argument")).collect();
    if args.is_empty() {
        eprintln!("usage: husk-measure CMD [ARG...]");
        std::process::exit(2);
    }
    let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let start = Instant::now();
    // SAFETY: fork + execvp in the child with prepared argv; the parent waits with wait4.
    let (status, ru) = unsafe {
        let pid = libc::fork();
        if pid == 0 {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            libc::dup2(null, 1);
            libc::execvp(argv[0], argv.as_ptr());
            libc::_exit(127);
        }
        let mut status = 0;
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::wait4(pid, &mut status, 0, &mut ru);
        (status, ru)
    };
    let wall = start.elapsed().as_micros();
    let cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1_000_000 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    println!("{wall} {cpu} {} {code}", ru.ru_maxrss);
}
