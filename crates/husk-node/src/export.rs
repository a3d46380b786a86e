//! The export table's machinery: one trampoline for every JS call, and the helpers that run a
//! job on libuv's thread pool or on a thread of its own and settle a Promise with its JSON;
//! panics become `EPANIC` errors.

use std::ffi::{c_void, CStr};
use std::mem::MaybeUninit;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::env::{Args, Env, JsError, JsValue};
use crate::napi_sys::*;

/// Work for the thread pool or a thread of its own: returns the result as a JSON document.
pub type Job = Box<dyn FnOnce() -> husk_core::Result<String> + Send>;

/// Boxes a closure as a [`Job`].
pub fn job(run: impl FnOnce() -> husk_core::Result<String> + Send + 'static) -> Job {
    Box::new(run)
}

/// One function on the addon's `exports` object.
pub enum Export {
    /// Runs on the JS thread and returns its value.
    Sync(&'static CStr, fn(Env, &Args) -> Result<JsValue, JsError>),
    /// Reads its arguments on the JS thread, then runs the returned job on the thread pool;
    /// the Promise resolves with the job's JSON, parsed. It never throws: errors reject.
    Promise(&'static CStr, fn(&Args) -> Result<Job, JsError>),
    /// Like `Promise`, but the job runs on a thread of its own and settles through a thread-safe
    /// function: for jobs that block as long as something outside lives (a container's process),
    /// which on the pool would hold one of libuv's 4 threads and stall Node's fs/crypto/dns/zlib.
    /// Like a live `child_process`, a running job keeps Node's event loop alive.
    Thread(&'static CStr, fn(&Args) -> Result<Job, JsError>),
}

impl Export {
    fn name(&self) -> &'static CStr {
        match self {
            Export::Sync(name, _) | Export::Promise(name, _) | Export::Thread(name, _) => name,
        }
    }
}

/// Defines every export on `exports`; each JS function carries a pointer to its table entry.
pub fn register(env: Env, exports: JsValue, table: &'static [Export]) -> Result<(), JsError> {
    for export in table {
        let name = export.name();
        let mut function = ptr::null_mut();
        // SAFETY: `name` is NUL-terminated; `export` is 'static, so it outlives the function.
        let status = unsafe {
            napi_create_function(
                env.raw(),
                name.as_ptr(),
                name.to_bytes().len(),
                Some(call_export),
                ptr::from_ref(export).cast_mut().cast::<c_void>(),
                &mut function,
            )
        };
        env.check(status, "napi_create_function")?;
        // SAFETY: napi_create_function succeeded, so `function` is a live value.
        env.set(exports, name, unsafe { JsValue::from_raw(function) })?;
    }
    Ok(())
}

/// The C callback behind every exported function: dispatches to its table entry.
unsafe extern "C" fn call_export(raw_env: napi_env, info: napi_callback_info) -> napi_value {
    // SAFETY: Node calls this on the JS thread with the env of the current call.
    let env = unsafe { Env::from_raw(raw_env) };
    let result = catch_panic(|| {
        let (args, data) = Args::from_callback(env, info)?;
        // SAFETY: `data` is the &'static Export that `register` attached to this function.
        let export = unsafe { &*data.cast_const().cast::<Export>() };
        match export {
            Export::Sync(_, call) => call(env, &args),
            Export::Promise(name, prepare) => {
                let prepared = catch_panic(|| prepare(&args));
                start_promise(env, name, prepared, queue_job)
            }
            Export::Thread(name, prepare) => {
                let prepared = catch_panic(|| prepare(&args));
                start_promise(env, name, prepared, spawn_job)
            }
        }
    });
    match result {
        Ok(value) => value.raw(),
        Err(err) => {
            env.throw(err);
            ptr::null_mut()
        }
    }
}

fn catch_panic<T>(f: impl FnOnce() -> Result<T, JsError>) -> Result<T, JsError> {
    panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|payload| Err(JsError::from_panic(payload)))
}

/// One queued job: owned by its async work from `queue_job` until `settle_promise`.
struct PendingJob {
    deferred: napi_deferred,
    work: napi_async_work,
    job: Option<Job>,
    outcome: Option<Result<String, JsError>>,
}

/// Starts a job that will settle `deferred`, or fails without having touched `deferred`.
type Runner = fn(Env, &CStr, napi_deferred, Job) -> Result<(), JsError>;

/// Creates the Promise and starts `prepared` with `run`, or rejects at once if preparing failed.
fn start_promise(
    env: Env,
    name: &CStr,
    prepared: Result<Job, JsError>,
    run: Runner,
) -> Result<JsValue, JsError> {
    // Take a pending exception (from JSON.stringify) off first: it blocks napi_create_promise.
    let prepared = prepared.map_err(|err| env.error_value(err));
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: live env on the JS thread, valid out pointers.
    let status = unsafe { napi_create_promise(env.raw(), &mut deferred, &mut promise) };
    env.check(status, "napi_create_promise")?;
    match prepared {
        Ok(job) => {
            if let Err(err) = run(env, name, deferred, job) {
                reject(env, deferred, env.error_value(err));
            }
        }
        Err(error) => reject(env, deferred, error),
    }
    // SAFETY: napi_create_promise succeeded, so `promise` is a live value.
    Ok(unsafe { JsValue::from_raw(promise) })
}

fn queue_job(env: Env, name: &CStr, deferred: napi_deferred, job: Job) -> Result<(), JsError> {
    let resource_name = env.string(&name.to_string_lossy())?;
    let pending = Box::into_raw(Box::new(PendingJob {
        deferred,
        work: ptr::null_mut(),
        job: Some(job),
        outcome: None,
    }));
    let mut work = ptr::null_mut();
    // SAFETY: the callbacks have Node-API's signatures; `pending` lives until settle_promise.
    let status = unsafe {
        napi_create_async_work(
            env.raw(),
            ptr::null_mut(),
            resource_name.raw(),
            Some(run_job),
            Some(settle_promise),
            pending.cast(),
            &mut work,
        )
    };
    if let Err(err) = env.check(status, "napi_create_async_work") {
        // SAFETY: no work was created, so we still own `pending`.
        drop(unsafe { Box::from_raw(pending) });
        return Err(err);
    }
    // SAFETY: `pending` is ours until the work is queued; nothing else reads it yet.
    unsafe { (*pending).work = work };
    // SAFETY: `work` was just created in this env.
    let status = unsafe { napi_queue_async_work(env.raw(), work) };
    if let Err(err) = env.check(status, "napi_queue_async_work") {
        // SAFETY: the work never ran, so we delete it and still own `pending`.
        unsafe {
            napi_delete_async_work(env.raw(), work);
            drop(Box::from_raw(pending));
        }
        return Err(err);
    }
    Ok(())
}

/// Runs on a pool thread: no Node-API calls here, only the job.
unsafe extern "C" fn run_job(_env: napi_env, data: *mut c_void) {
    // SAFETY: `data` is queue_job's PendingJob; only this thread touches it until it settles.
    let pending = unsafe { &mut *data.cast::<PendingJob>() };
    if let Some(job) = pending.job.take() {
        pending.outcome = Some(catch_panic(|| job().map_err(JsError::from)));
    }
}

/// Runs on the JS thread after `run_job` (or after a cancel): settles the Promise, frees the job.
unsafe extern "C" fn settle_promise(raw_env: napi_env, status: napi_status, data: *mut c_void) {
    // SAFETY: Node calls this on the JS thread with a live env.
    let env = unsafe { Env::from_raw(raw_env) };
    // SAFETY: `data` is the PendingJob leaked in queue_job; Node calls complete exactly once.
    let pending = unsafe { Box::from_raw(data.cast::<PendingJob>()) };
    // SAFETY: the work is finished and is not used again.
    unsafe { napi_delete_async_work(env.raw(), pending.work) };
    let outcome = match (status, pending.outcome) {
        (NAPI_CANCELLED, _) => Err(JsError::new(
            "ECANCELED",
            "the job was cancelled before it ran",
        )),
        (_, Some(outcome)) => outcome,
        (_, None) => Err(JsError::new(
            "ENAPI",
            format!("async work ended with napi_status {status}"),
        )),
    };
    let _ = panic::catch_unwind(AssertUnwindSafe(|| settle(env, pending.deferred, outcome)));
}

/// A threaded job's thread-safe function, shared by its thread and its finalizer. The finalizer
/// empties the slot before Node frees the function (when it is done, or when its env is torn
/// down, e.g. a Worker terminated mid-wait), so the thread never calls into a freed one.
type TsfnSlot = Arc<Mutex<Option<Tsfn>>>;

struct Tsfn(napi_threadsafe_function);

// SAFETY: napi_call_threadsafe_function and napi_release_threadsafe_function may be called from
// any thread; the slot's lock orders them against the finalizer.
unsafe impl Send for Tsfn {}

/// Runs `job` on a thread of its own; its outcome comes back to the JS thread through a thread-safe
/// function whose context is `deferred`.
// A thread per job, not one reaper: bounded by live waited-on containers, each costs only stack.
fn spawn_job(env: Env, name: &CStr, deferred: napi_deferred, job: Job) -> Result<(), JsError> {
    pin_addon()?;
    let resource_name = env.string(&name.to_string_lossy())?;
    let slot: TsfnSlot = Arc::new(Mutex::new(None));
    let finalize_data = Arc::into_raw(Arc::clone(&slot)).cast_mut();
    let mut tsfn = ptr::null_mut();
    // SAFETY: live env on the JS thread; no JS function (call_js_cb settles instead); an
    // unbounded queue, so calls never block; one thread (the job's) holds it from the start.
    let status = unsafe {
        napi_create_threadsafe_function(
            env.raw(),
            ptr::null_mut(),
            ptr::null_mut(),
            resource_name.raw(),
            0,
            1,
            finalize_data.cast(),
            Some(finalize_tsfn),
            deferred.cast(),
            Some(settle_from_thread),
            &mut tsfn,
        )
    };
    // On failure `finalize_data` is leaked: whether Node ran the finalizer is not specified.
    env.check(status, "napi_create_threadsafe_function")?;
    *lock(&slot) = Some(Tsfn(tsfn));
    let thread_slot = Arc::clone(&slot);
    // A parked worker if there is one (husk_core::workers): a container's wait starts at once.
    let spawned = husk_core::workers::spawn(move || {
        let outcome = catch_panic(|| job().map_err(JsError::from));
        send_outcome(&thread_slot, outcome);
    });
    if let Err(err) = spawned {
        // The thread never started: give up its hold, so Node finalizes the function.
        if let Some(Tsfn(tsfn)) = lock(&slot).take() {
            // SAFETY: `tsfn` is live and its one hold was for the thread that never ran.
            unsafe { napi_release_threadsafe_function(tsfn, NAPI_TSFN_RELEASE) };
        }
        return Err(err.into());
    }
    Ok(())
}

fn lock(slot: &TsfnSlot) -> MutexGuard<'_, Option<Tsfn>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// On the job's thread: queues the outcome for `settle_from_thread` and lets go of the function.
fn send_outcome(slot: &TsfnSlot, outcome: Result<String, JsError>) {
    let data = Box::into_raw(Box::new(outcome));
    let guard = lock(slot);
    let status = match &*guard {
        // SAFETY: the slot is still full, so Node has not finalized `tsfn`, and cannot until
        // we drop the lock; the queue is unbounded, so this does not block.
        Some(Tsfn(tsfn)) => unsafe {
            let status = napi_call_threadsafe_function(*tsfn, data.cast(), NAPI_TSFN_NONBLOCKING);
            // napi_closing already dropped our hold: releasing again is not allowed.
            if status != NAPI_CLOSING {
                napi_release_threadsafe_function(*tsfn, NAPI_TSFN_RELEASE);
            }
            status
        },
        None => NAPI_CLOSING, // finalized: the env was torn down (e.g. a Worker terminated)
    };
    drop(guard);
    if status != NAPI_OK {
        // The env is going away: nobody can observe the Promise any more.
        // SAFETY: the outcome was not queued, so it is still ours.
        drop(unsafe { Box::from_raw(data) });
    }
}

/// On the JS thread, once per threaded job: settles its Promise with the outcome. With a NULL env
/// the function is being torn down with the outcome still queued, and only the outcome is freed.
unsafe extern "C" fn settle_from_thread(
    raw_env: napi_env,
    _js_callback: napi_value,
    context: *mut c_void,
    data: *mut c_void,
) {
    // SAFETY: `data` is the outcome send_outcome queued; Node hands each item over exactly once.
    let outcome = unsafe { Box::from_raw(data.cast::<Result<String, JsError>>()) };
    if raw_env.is_null() {
        return;
    }
    // SAFETY: Node calls this on the JS thread with a live env.
    let env = unsafe { Env::from_raw(raw_env) };
    let deferred: napi_deferred = context.cast();
    let _ = panic::catch_unwind(AssertUnwindSafe(|| settle(env, deferred, *outcome)));
}

/// On the JS thread, when Node frees a threaded job's function: empties the slot.
unsafe extern "C" fn finalize_tsfn(_env: napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the Arc spawn_job leaked for this finalizer, which runs once.
    let slot = unsafe { Arc::from_raw(data.cast_const().cast::<Mutex<Option<Tsfn>>>()) };
    lock(&slot).take();
}

/// Keeps this library mapped for the life of the process. A Worker's env unloads the addons it
/// loaded when it exits, and a job's thread may still be running this library's code then.
fn pin_addon() -> Result<(), JsError> {
    static PINNED: OnceLock<bool> = OnceLock::new();
    let pinned = *PINNED.get_or_init(|| {
        let mut info = MaybeUninit::<libc::Dl_info>::zeroed();
        let ours = pin_addon as *const c_void;
        // SAFETY: dladdr on one of our own functions, into a writable Dl_info.
        if unsafe { libc::dladdr(ours, info.as_mut_ptr()) } == 0 {
            return false;
        }
        // SAFETY: dladdr succeeded, so it filled `info`.
        let path = unsafe { info.assume_init() }.dli_fname;
        let flags = libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE;
        // SAFETY: RTLD_NOLOAD only takes another reference to the library already loaded, and
        // RTLD_NODELETE keeps it mapped; the reference is never closed.
        !path.is_null() && !unsafe { libc::dlopen(path, flags) }.is_null()
    });
    if pinned {
        Ok(())
    } else {
        Err(JsError::new(
            "EHUSK",
            "cannot pin the husk addon in memory (dladdr/dlopen failed)",
        ))
    }
}

/// Resolves with the parsed JSON or rejects with the error (a bad document rejects too).
fn settle(env: Env, deferred: napi_deferred, outcome: Result<String, JsError>) {
    match outcome.and_then(|json| env.parse_json(&json)) {
        Ok(value) => {
            // SAFETY: `deferred` is unsettled and `value` is live in this env.
            unsafe { napi_resolve_deferred(env.raw(), deferred, value.raw()) };
        }
        Err(err) => reject(env, deferred, env.error_value(err)),
    }
}

/// Rejects with `error`; if even the error value could not be made, the env is shutting down
/// and nobody can observe the Promise any more.
fn reject(env: Env, deferred: napi_deferred, error: Result<JsValue, JsError>) {
    if let Ok(error) = error {
        // SAFETY: `deferred` is unsettled and `error` is live in this env.
        unsafe { napi_reject_deferred(env.raw(), deferred, error.raw()) };
    }
}
