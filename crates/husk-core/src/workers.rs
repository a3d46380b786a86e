//! Reused threads for short jobs that must not wait in a queue: the cgroup helper of every
//! in-process start, and the Node addon's per-container waits. Creating a thread and tearing it
//! down costs more than the cgroup work it would do; an idle worker is parked instead and ends
//! after `IDLE` without work.

use std::any::Any;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use crate::error::{Error, Result};

/// How long an idle worker waits for another job before its thread ends.
const IDLE: Duration = Duration::from_secs(2);

type Job = Box<dyn FnOnce() + Send>;

/// One worker's mailbox: the job handed to it, if any.
struct Mailbox {
    job: Mutex<Option<Job>>,
    ready: Condvar,
}

/// Parked workers, most recently parked last (a warm one is taken first).
static IDLE_WORKERS: Mutex<Vec<Arc<Mailbox>>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A job's outcome, once it has run: its value, or the panic that ended it.
pub struct Task<T> {
    slot: Arc<(Mutex<Option<thread::Result<T>>>, Condvar)>,
}

impl<T> Task<T> {
    /// Waits for the job; Err carries its panic.
    pub fn join(self) -> thread::Result<T> {
        let (m, cv) = &*self.slot;
        let mut g = lock(m);
        loop {
            if let Some(r) = g.take() {
                return r;
            }
            g = cv.wait(g).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Runs `f` on a parked worker, or on a new one ("husk-worker") if none is idle.
pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<Task<T>> {
    let slot = Arc::new((Mutex::new(None), Condvar::new()));
    let done = Arc::clone(&slot);
    let job: Job = Box::new(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let (m, cv) = &*done;
        *lock(m) = Some(r);
        cv.notify_all();
    });
    let idle = lock(&IDLE_WORKERS).pop();
    match idle {
        Some(mailbox) => {
            *lock(&mailbox.job) = Some(job);
            mailbox.ready.notify_one();
        }
        None => {
            thread::Builder::new()
                .name("husk-worker".into())
                .spawn(move || work(job))
                .map_err(|e| Error::Sys { step: "start a worker thread".into(), source: e })?;
        }
    }
    Ok(Task { slot })
}

/// A worker: runs its first job, then parks and runs what it is handed until idle too long.
fn work(first: Job) {
    first();
    let mailbox = Arc::new(Mailbox { job: Mutex::new(None), ready: Condvar::new() });
    loop {
        lock(&IDLE_WORKERS).push(Arc::clone(&mailbox));
        let mut g = lock(&mailbox.job);
        let job = loop {
            if let Some(job) = g.take() {
                break Some(job);
            }
            let (next, timeout) = mailbox.ready.wait_timeout(g, IDLE).unwrap_or_else(PoisonError::into_inner);
            g = next;
            if timeout.timed_out() && g.is_none() {
                // Leave the idle list, unless a job is being handed over right now: then the
                // giver has already taken us off it and the job is about to arrive.
                let mut idle = lock(&IDLE_WORKERS);
                if let Some(i) = idle.iter().position(|m| Arc::ptr_eq(m, &mailbox)) {
                    idle.swap_remove(i);
                    break None;
                }
            }
        };
        drop(g);
        match job {
            Some(job) => job(),
            None => return,
        }
    }
}

/// A panic payload's message, for errors that report a job's panic.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_jobs_and_reuses_parked_workers() {
        let first = spawn(|| thread::current().id()).unwrap().join().unwrap();
        // The first worker parks after its job; give it a moment to get on the idle list.
        let mut reused = false;
        for _ in 0..50 {
            thread::sleep(Duration::from_millis(2));
            if spawn(|| thread::current().id()).unwrap().join().unwrap() == first {
                reused = true;
                break;
            }
        }
        assert!(reused, "a parked worker is taken again");
    }

    #[test]
    fn a_panicking_job_is_reported_and_the_worker_survives() {
        let r = spawn(|| -> u32 { panic!("boom") }).unwrap().join();
        assert_eq!(panic_message(r.unwrap_err().as_ref()), "boom");
        assert_eq!(spawn(|| 7).unwrap().join().unwrap(), 7);
    }

    #[test]
    fn concurrent_jobs_each_get_a_worker() {
        // Two jobs that wait for each other would deadlock on a single worker.
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let pair = Arc::clone(&pair);
                spawn(move || {
                    let (m, cv) = &*pair;
                    let mut n = m.lock().unwrap();
                    *n += 1;
                    cv.notify_all();
                    while *n < 2 {
                        n = cv.wait(n).unwrap();
                    }
                })
                .unwrap()
            })
            .collect();
        for t in tasks {
            t.join().unwrap();
        }
    }
}
