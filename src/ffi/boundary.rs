//! The panic guard every export runs in (STYLE 1.1: rustls-ffi's
//! `ffi_panic_boundary`): nothing unwinds into the caller.

use super::{cowork_ecs_buf, cowork_ecs_result};
use crate::error::Error;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Why an export failed, before it becomes a result code and a message.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A required pointer was NULL (the parameter's name).
    NullParameter(&'static str),
    /// An error of the safe API.
    Error(Error),
    /// An argument is malformed (e.g. a tenant that is not UTF-8).
    InvalidArgument(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

impl Failure {
    fn code(&self) -> cowork_ecs_result {
        match self {
            Failure::NullParameter(_) => cowork_ecs_result::NullParameter,
            Failure::Error(e) => e.into(),
            Failure::InvalidArgument(_) => cowork_ecs_result::InvalidArgument,
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::NullParameter(name) => format!("parameter {name} is NULL"),
            Failure::Error(e) => e.to_string(),
            Failure::InvalidArgument(why) => why.clone(),
        }
    }
}

/// Runs `body`, turning a `Failure` or a panic into its result code and, if
/// `err_out` is non-null, a message buffer written there.
///
/// The closure is asserted unwind-safe: after a panic nothing it touched is
/// used again (the handle is immutable and outputs are written only on success).
pub(crate) fn guard<F>(err_out: *mut cowork_ecs_buf, body: F) -> cowork_ecs_result
where
    F: FnOnce() -> Result<cowork_ecs_result, Failure>,
{
    let (code, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(code)) => return code,
        Ok(Err(failure)) => (failure.code(), failure.message()),
        Err(payload) => (cowork_ecs_result::Panic, panic_message(payload.as_ref())),
    };
    if !err_out.is_null() {
        // SAFETY: a non-null `err_out` is writable per every export's contract.
        unsafe { err_out.write(cowork_ecs_buf::from_vec(message.into_bytes())) };
    }
    code
}

/// [`guard`] for an export whose success may carry a message (a partial
/// success reports what it skipped): the message, if any, is written to a
/// non-null `err_out`.
pub(crate) fn guard_partial<F>(err_out: *mut cowork_ecs_buf, body: F) -> cowork_ecs_result
where
    F: FnOnce() -> Result<(cowork_ecs_result, Option<String>), Failure>,
{
    let mut report = None;
    let code = guard(err_out, || {
        let (code, message) = body()?;
        report = message;
        Ok(code)
    });
    if let (Some(message), false) = (report, err_out.is_null()) {
        // SAFETY: a non-null `err_out` is writable per every export's contract.
        unsafe { err_out.write(cowork_ecs_buf::from_vec(message.into_bytes())) };
    }
    code
}

/// [`guard`] for exports without a result: a panic is swallowed (there is
/// no way to report it, and unwinding into C would abort the process).
pub(crate) fn guard_void<F: FnOnce()>(body: F) {
    let _ = catch_unwind(AssertUnwindSafe(body));
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".to_owned());
    format!("panic in cowork-ecs (a bug; please report it): {detail}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        let mut err = cowork_ecs_buf::empty();
        let code = guard(&mut err, || panic!("boom"));
        assert_eq!(code, cowork_ecs_result::Panic);
        let message = String::from_utf8(unsafe { err.as_slice() }.to_vec()).unwrap();
        assert!(message.contains("boom"), "{message}");
        unsafe { err.free() };
    }

    #[test]
    fn success_leaves_err_out_alone() {
        let mut err = cowork_ecs_buf::empty();
        assert_eq!(
            guard(&mut err, || Ok(cowork_ecs_result::Ok)),
            cowork_ecs_result::Ok
        );
        assert!(err.data.is_null());
    }

    #[test]
    fn void_guard_swallows_panics() {
        guard_void(|| panic!("in a free function"));
    }
}
