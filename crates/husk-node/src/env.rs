//! A small safe layer over Node-API: JS values, call arguments, JSON, and JS errors with a `code`.

use std::any::Any;
use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use crate::napi_sys::*;

/// The Node-API environment of the current callback; only usable on the JS thread (not `Send`).
#[derive(Clone, Copy)]
pub struct Env(napi_env);

/// A JS value, valid until the callback that produced it returns (not `Send`).
#[derive(Clone, Copy)]
pub struct JsValue(napi_value);

/// An error on its way to JS: a new `Error` with a stable `code`, or a JS exception already thrown.
#[derive(Debug)]
pub enum JsError {
    Coded {
        code: &'static str,
        message: String,
    },
    /// A JS exception is pending (e.g. thrown by `JSON.parse`); it is passed on as is.
    Pending,
}

impl JsError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        JsError::Coded {
            code,
            message: message.into(),
        }
    }

    /// A caught Rust panic: JS sees an `EPANIC` error instead of Node aborting.
    pub fn from_panic(payload: Box<dyn Any + Send>) -> Self {
        JsError::new("EPANIC", format!("husk addon panicked: {}", husk_core::workers::panic_message(payload.as_ref())))
    }
}

impl From<husk_core::Error> for JsError {
    fn from(err: husk_core::Error) -> Self {
        JsError::new(err.code(), err.to_string())
    }
}

impl JsValue {
    /// # Safety
    /// `raw` must be a live value handed to us by Node in the current callback.
    pub unsafe fn from_raw(raw: napi_value) -> Self {
        JsValue(raw)
    }

    pub fn raw(self) -> napi_value {
        self.0
    }
}

/// Calls a Node-API function whose last parameter is its result, and checks the status.
macro_rules! call_out {
    ($env:expr, $function:ident($($arg:expr),* $(,)?)) => {{
        let mut out = std::mem::MaybeUninit::uninit();
        // SAFETY: the env is live on this thread, the arguments belong to it, `out` is writable.
        $env.check(unsafe { $function($($arg,)* out.as_mut_ptr()) }, stringify!($function))?;
        // SAFETY: the call returned napi_ok, so it wrote the result.
        unsafe { out.assume_init() }
    }};
}

impl Env {
    /// # Safety
    /// `raw` must be the env Node passed to the current callback, used only on the JS thread.
    pub unsafe fn from_raw(raw: napi_env) -> Self {
        Env(raw)
    }

    pub fn raw(self) -> napi_env {
        self.0
    }

    pub fn check(self, status: napi_status, what: &'static str) -> Result<(), JsError> {
        match status {
            NAPI_OK => Ok(()),
            NAPI_PENDING_EXCEPTION => Err(JsError::Pending),
            other => Err(JsError::new(
                "ENAPI",
                format!("{what} failed with napi_status {other}"),
            )),
        }
    }

    pub fn undefined(self) -> Result<JsValue, JsError> {
        Ok(JsValue(call_out!(self, napi_get_undefined(self.0))))
    }

    pub fn string(self, s: &str) -> Result<JsValue, JsError> {
        let bytes = s.as_ptr().cast::<c_char>();
        Ok(JsValue(call_out!(
            self,
            napi_create_string_utf8(self.0, bytes, s.len())
        )))
    }

    pub fn get(self, object: JsValue, name: &CStr) -> Result<JsValue, JsError> {
        Ok(JsValue(call_out!(
            self,
            napi_get_named_property(self.0, object.0, name.as_ptr())
        )))
    }

    pub fn set(self, object: JsValue, name: &CStr, value: JsValue) -> Result<(), JsError> {
        // SAFETY: both values belong to this env and `name` is NUL-terminated.
        let status = unsafe { napi_set_named_property(self.0, object.0, name.as_ptr(), value.0) };
        self.check(status, "napi_set_named_property")
    }

    pub fn type_of(self, value: JsValue) -> Result<napi_valuetype, JsError> {
        Ok(call_out!(self, napi_typeof(self.0, value.0)))
    }

    /// The value as a Rust string; the caller has checked that it is a JS string.
    pub fn to_rust_string(self, value: JsValue) -> Result<String, JsError> {
        let len = call_out!(
            self,
            napi_get_value_string_utf8(self.0, value.0, ptr::null_mut(), 0)
        );
        let mut buf = vec![0u8; len + 1]; // room for the NUL Node always writes
        let buf_ptr = buf.as_mut_ptr().cast::<c_char>();
        let written = call_out!(
            self,
            napi_get_value_string_utf8(self.0, value.0, buf_ptr, buf.len())
        );
        buf.truncate(written);
        // Node already replaces lone surrogates with U+FFFD, so this never loses anything.
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    pub fn to_number(self, value: JsValue) -> Result<f64, JsError> {
        Ok(call_out!(self, napi_get_value_double(self.0, value.0)))
    }

    /// `JSON.parse(json)` in this env: how results from the thread pool become JS objects.
    pub fn parse_json(self, json: &str) -> Result<JsValue, JsError> {
        let text = self.string(json)?;
        self.call_json_method(c"parse", text)
    }

    /// `JSON.stringify(value)`; `undefined` (and functions) stringify to `None`.
    pub fn stringify_json(self, value: JsValue) -> Result<Option<String>, JsError> {
        let json = self.call_json_method(c"stringify", value)?;
        match self.type_of(json)? {
            NAPI_STRING => self.to_rust_string(json).map(Some),
            _ => Ok(None),
        }
    }

    fn call_json_method(self, method: &CStr, arg: JsValue) -> Result<JsValue, JsError> {
        let global = JsValue(call_out!(self, napi_get_global(self.0)));
        let json = self.get(global, c"JSON")?;
        let function = self.get(json, method)?;
        Ok(JsValue(call_out!(
            self,
            napi_call_function(self.0, json.0, function.0, 1, &arg.0)
        )))
    }

    /// The JS value for `err`: a new `Error` with `code`, or the pending exception, taken off.
    pub fn error_value(self, err: JsError) -> Result<JsValue, JsError> {
        match err {
            JsError::Coded { code, message } => {
                let (code, message) = (self.string(code)?, self.string(&message)?);
                Ok(JsValue(call_out!(
                    self,
                    napi_create_error(self.0, code.0, message.0)
                )))
            }
            JsError::Pending => Ok(JsValue(call_out!(
                self,
                napi_get_and_clear_last_exception(self.0)
            ))),
        }
    }

    /// Throws `err` unless an exception is already pending (that one wins; JS allows only one).
    pub fn throw(self, err: JsError) {
        let mut pending = false;
        // SAFETY: live env on the JS thread, valid out pointer.
        unsafe { napi_is_exception_pending(self.0, &mut pending) };
        if pending {
            return;
        }
        if let Ok(error) = self.error_value(err) {
            // SAFETY: `error` was just created in this env.
            unsafe { napi_throw(self.0, error.0) };
        }
    }
}

/// The JS `typeof`-style name of a value type, for argument errors.
fn type_name(t: napi_valuetype) -> &'static str {
    match t {
        NAPI_UNDEFINED => "undefined",
        NAPI_NULL => "null",
        NAPI_BOOLEAN => "boolean",
        NAPI_NUMBER => "number",
        NAPI_STRING => "string",
        NAPI_SYMBOL => "symbol",
        NAPI_OBJECT => "object",
        NAPI_FUNCTION => "function",
        NAPI_EXTERNAL => "external",
        NAPI_BIGINT => "bigint",
        _ => "unknown",
    }
}

/// The arguments of one JS call, with typed accessors that fail as `EINVAL_ARGUMENT`.
pub struct Args {
    env: Env,
    values: Vec<JsValue>,
}

impl Args {
    /// Most arguments any export takes; extra ones are ignored, as JS does.
    const MAX: usize = 8;

    /// Reads the call's arguments and the `data` pointer its function was created with.
    pub fn from_callback(
        env: Env,
        info: napi_callback_info,
    ) -> Result<(Self, *mut c_void), JsError> {
        let mut argv = [ptr::null_mut(); Self::MAX];
        let mut argc = Self::MAX;
        let mut data = ptr::null_mut();
        // SAFETY: `info` comes from Node for this call; argv has room for argc values.
        let status = unsafe {
            napi_get_cb_info(
                env.0,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                ptr::null_mut(),
                &mut data,
            )
        };
        env.check(status, "napi_get_cb_info")?;
        let values = argv[..argc.min(Self::MAX)]
            .iter()
            .map(|&v| JsValue(v))
            .collect();
        Ok((Args { env, values }, data))
    }

    /// Argument `index` (missing ones read as `undefined`).
    pub fn value(&self, index: usize) -> Result<JsValue, JsError> {
        match self.values.get(index) {
            Some(&v) => Ok(v),
            None => self.env.undefined(),
        }
    }

    pub fn string(&self, index: usize, name: &str) -> Result<String, JsError> {
        let value = self.expect(index, name, NAPI_STRING)?;
        self.env.to_rust_string(value)
    }

    pub fn number(&self, index: usize, name: &str) -> Result<f64, JsError> {
        let value = self.expect(index, name, NAPI_NUMBER)?;
        self.env.to_number(value)
    }

    /// Any JSON-representable argument (an options object, say), via `JSON.stringify`.
    pub fn json(&self, index: usize, name: &str) -> Result<serde_json::Value, JsError> {
        let value = self.value(index)?;
        let json = self
            .env
            .stringify_json(value)?
            .ok_or_else(|| invalid(name, "JSON", "undefined"))?;
        serde_json::from_str(&json)
            .map_err(|e| husk_core::Error::InvalidArgument(format!("argument {name}: {e}")).into())
    }

    fn expect(&self, index: usize, name: &str, want: napi_valuetype) -> Result<JsValue, JsError> {
        let value = self.value(index)?;
        match self.env.type_of(value)? {
            got if got == want => Ok(value),
            got => Err(invalid(name, type_name(want), type_name(got))),
        }
    }
}

fn invalid(name: &str, want: &str, got: &str) -> JsError {
    husk_core::Error::InvalidArgument(format!("argument {name}: expected {want}, got {got}")).into()
}

#[cfg(test)]
mod tests {
    use super::JsError;

    fn coded(err: JsError) -> (&'static str, String) {
        match err {
            JsError::Coded { code, message } => (code, message),
            JsError::Pending => panic!("expected a coded error"),
        }
    }

    #[test]
    fn core_errors_keep_their_code_and_message() {
        let err = JsError::from(husk_core::Error::NotFound("c1".into()));
        assert_eq!(
            coded(err),
            (
                "ENOTFOUND_CONTAINER",
                "container \"c1\" does not exist".into()
            )
        );
    }

    #[test]
    fn panics_become_epanic_with_their_message() {
        let payload = std::panic::catch_unwind(|| panic!("boom {}", 42)).unwrap_err();
        assert_eq!(
            coded(JsError::from_panic(payload)),
            ("EPANIC", "husk addon panicked: boom 42".into())
        );
    }
}
