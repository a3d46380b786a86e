//! husk-node: the Node-API addon. JS calls land in the table below; anything that can block runs
//! on libuv's thread pool and settles a Promise, so the event loop never waits on the kernel.

mod container;
mod env;
mod export;
mod image;
mod napi_sys;

use std::time::Duration;

use env::{Args, Env, JsError, JsValue};
use export::{job, Export, Job};

/// Everything the addon exports, one line each. `Sync` functions return a value on the JS thread;
/// `Promise` functions read their arguments, then return a job for the thread pool; `Thread`
/// functions do the same for a job that gets a thread of its own (it blocks for long).
static EXPORTS: &[Export] = &[
    Export::Sync(c"version", version),
    Export::Promise(c"features", features),
    Export::Promise(c"unpackLayer", image::unpack_layer),
    Export::Promise(c"spawn", container::spawn),
    Export::Thread(c"run", container::run),
    Export::Thread(c"wait", container::wait),
    Export::Thread(c"waitCapture", container::wait_capture),
    Export::Promise(c"start", container::start),
    Export::Promise(c"state", container::state),
    Export::Promise(c"list", container::list),
    Export::Promise(c"kill", container::kill),
    Export::Promise(c"delete", container::delete),
    Export::Promise(c"pause", container::pause),
    Export::Promise(c"resume", container::resume),
    Export::Promise(c"ps", container::ps),
    Export::Promise(c"stats", container::stats),
    Export::Promise(c"update", container::update),
    // Test-only hooks: they pin error mapping, panic catching and running off the event loop.
    Export::Promise(c"__rejectForTest", reject_for_test),
    Export::Promise(c"__echoForTest", echo_for_test),
    Export::Promise(c"__sleepForTest", sleep_for_test),
    Export::Promise(c"__panicForTest", panic_for_test),
    Export::Sync(c"__panicSyncForTest", panic_sync_for_test),
];

/// `version(): string`
fn version(env: Env, _: &Args) -> Result<JsValue, JsError> {
    env.string(husk_core::VERSION)
}

/// `features(): Promise<Features>`: the runtime-spec features document.
fn features(_: &Args) -> Result<Job, JsError> {
    Ok(job(|| Ok(husk_core::features::features().to_string())))
}

/// `__rejectForTest(id): Promise<never>`: rejects with NotFound (`ENOTFOUND_CONTAINER`).
fn reject_for_test(args: &Args) -> Result<Job, JsError> {
    let id = args.string(0, "id")?;
    Ok(job(move || Err(husk_core::Error::NotFound(id))))
}

/// `__echoForTest(value): Promise<unknown>`: a JSON round trip through Rust.
fn echo_for_test(args: &Args) -> Result<Job, JsError> {
    let value = args.json(0, "value")?;
    Ok(job(move || Ok(value.to_string())))
}

/// `__sleepForTest(ms): Promise<null>`: blocks a pool thread, never the event loop.
fn sleep_for_test(args: &Args) -> Result<Job, JsError> {
    let ms = args.number(0, "ms")?;
    Ok(job(move || {
        if !(0.0..=60_000.0).contains(&ms) {
            let msg = format!("argument ms: {ms} is not within 0..=60000");
            return Err(husk_core::Error::InvalidArgument(msg));
        }
        std::thread::sleep(Duration::from_secs_f64(ms / 1000.0));
        Ok("null".to_owned())
    }))
}

/// `__panicForTest(): Promise<never>`: rejects with `EPANIC`.
fn panic_for_test(_: &Args) -> Result<Job, JsError> {
    Ok(job(|| {
        panic!("__panicForTest: deliberate panic in async work")
    }))
}

/// `__panicSyncForTest(): never`: throws `EPANIC`.
fn panic_sync_for_test(_: Env, _: &Args) -> Result<JsValue, JsError> {
    panic!("__panicSyncForTest: deliberate panic on the JS thread")
}

/// The entry point Node looks up after `dlopen`; it runs once per JS environment (main or worker).
///
/// # Safety
/// Only Node calls this, on the JS thread, with a live env and its `exports` object.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(
    raw_env: napi_sys::napi_env,
    raw_exports: napi_sys::napi_value,
) -> napi_sys::napi_value {
    // SAFETY: the caller (Node) guarantees both handles are live on this thread.
    let (env, exports) = unsafe { (Env::from_raw(raw_env), JsValue::from_raw(raw_exports)) };
    let registered = std::panic::catch_unwind(|| export::register(env, exports, EXPORTS))
        .unwrap_or_else(|payload| Err(JsError::from_panic(payload)));
    if let Err(err) = registered {
        env.throw(err);
    }
    raw_exports
}
