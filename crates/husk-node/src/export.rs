//! The export table's machinery: one trampoline for every JS call, and the helper that runs a
//! job on libuv's thread pool and settles a Promise with its JSON; panics become `EPANIC` errors.

use std::ffi::{c_void, CStr};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use crate::env::{Args, Env, JsError, JsValue};
use crate::napi_sys::*;

/// Work for the thread pool: returns the result as a JSON document.
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
}

impl Export {
    fn name(&self) -> &'static CStr {
        match self {
            Export::Sync(name, _) | Export::Promise(name, _) => name,
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
                start_promise(env, name, prepared)
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

/// Creates the Promise and queues `prepared` on the pool, or rejects at once if preparing failed.
fn start_promise(
    env: Env,
    name: &CStr,
    prepared: Result<Job, JsError>,
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
            if let Err(err) = queue_job(env, name, deferred, job) {
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
