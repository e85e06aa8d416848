//! The C ABI: the only module with `#[unsafe(no_mangle)]`, `extern "C"` and
//! raw pointers. `include/cowork_ecs.h` is generated from it by cbindgen.
//!
//! # Conventions (modelled on rustls-ffi)
//! - Every symbol starts `cowork_ecs_`; `_new` creates, `_free` destroys.
//! - Inputs come before outputs. A byte buffer is a pointer followed by its
//!   length; it is borrowed for the call only. `(NULL, 0)` is an empty
//!   buffer; `(NULL, n > 0)` is `COWORK_ECS_RESULT_NULL_PARAMETER`.
//! - Outputs are written only on success (`*out`), error details only on
//!   failure (`*err_out`, which may be NULL when the caller does not want them).
//! - Every buffer this library returns is a [`cowork_ecs_buf`] owned by the
//!   caller from then on and released only with [`cowork_ecs_buf_free`]
//!   (never `free()`: it was allocated by Rust's allocator).
//! - No panic crosses the boundary: each export runs inside a guard that
//!   turns a panic into `COWORK_ECS_RESULT_PANIC` (release builds keep
//!   `panic = "unwind"` for that reason).
//! - No thread-local "last error": a goroutine can change OS thread between
//!   two cgo calls, so a failed call returns its message in its own `err_out`.

mod boundary;
mod buf;
mod handle;

pub use buf::cowork_ecs_buf;
pub use handle::cowork_ecs_transformer;

use crate::ecs::Transformer;
use crate::error::Error;
use crate::otlp::Signal;
use boundary::guard;
use std::ffi::c_char;

/// Status of a call. The numbers are part of the ABI and never change or get
/// reused; a zeroed value is never a success.
///
/// - `COWORK_ECS_RESULT_OK` (9000): success, the outputs were written.
/// - `COWORK_ECS_RESULT_UNCHANGED` (9001): success, the batch holds no Claude
///   record, so nothing changed and no output buffer was written: keep the input.
/// - `COWORK_ECS_RESULT_NULL_PARAMETER` (9010): a required pointer was NULL.
/// - `COWORK_ECS_RESULT_PANIC` (9011): a bug inside the library was caught;
///   the message is in `err_out`. The handle stays usable.
/// - `COWORK_ECS_RESULT_CONFIG_SYNTAX` (9100): the configuration is not valid
///   JSON or has an unknown or mistyped key.
/// - `COWORK_ECS_RESULT_CONFIG_INVALID` (9101): a configuration value breaks a rule.
/// - `COWORK_ECS_RESULT_DECODE` (9200): the input is not a protobuf
///   `ExportLogsServiceRequest`.
/// - `COWORK_ECS_RESULT_ENCODE` (9201): the output could not be encoded.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum cowork_ecs_result {
    /// Success; outputs written.
    Ok = 9000,
    /// Success; no Claude record in the batch, nothing written.
    Unchanged = 9001,
    /// A required pointer argument was NULL.
    NullParameter = 9010,
    /// A panic was caught at the boundary.
    Panic = 9011,
    /// Configuration JSON is malformed or has unknown keys.
    ConfigSyntax = 9100,
    /// Configuration value breaks a rule.
    ConfigInvalid = 9101,
    /// Input is not an OTLP protobuf request of the signal the export reads.
    Decode = 9200,
    /// Output could not be encoded.
    Encode = 9201,
}

impl From<&Error> for cowork_ecs_result {
    /// The single mapping from [`Error`] to result codes (STYLE 2.4).
    fn from(e: &Error) -> Self {
        match e {
            Error::ConfigSyntax(_) => cowork_ecs_result::ConfigSyntax,
            Error::ConfigInvalid { .. } => cowork_ecs_result::ConfigInvalid,
            Error::Decode(_) | Error::DecodeJson(_) => cowork_ecs_result::Decode,
            Error::Encode(_) => cowork_ecs_result::Encode,
        }
    }
}

/// The library version (`CARGO_PKG_VERSION`), a static NUL-terminated string.
/// Never free it.
#[unsafe(no_mangle)]
pub extern "C" fn cowork_ecs_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Checks a JSON configuration without keeping anything.
///
/// - `config`, `config_len`: the configuration JSON (the processor's keys;
///   an empty buffer means all defaults). Borrowed for the call.
/// - `err_out`: optional (may be NULL). On failure it receives the message as
///   UTF-8 bytes (no NUL), owned by the caller and freed with
///   [`cowork_ecs_buf_free`].
///
/// Returns `COWORK_ECS_RESULT_OK`, `_CONFIG_SYNTAX`, `_CONFIG_INVALID`,
/// `_NULL_PARAMETER` or `_PANIC`. Thread-safe.
///
/// # Safety
/// - `config` points to `config_len` readable bytes, or is NULL with `config_len == 0`.
/// - `err_out` is NULL or points to writable memory for one `cowork_ecs_buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_config_validate(
    config: *const u8,
    config_len: usize,
    err_out: *mut cowork_ecs_buf,
) -> cowork_ecs_result {
    guard(err_out, || {
        // SAFETY: the caller upholds the contract stated above.
        let config = unsafe { buf::input_slice(config, config_len) }?;
        crate::config::Config::from_json(config).map_err(boundary::Failure::from)?;
        Ok(cowork_ecs_result::Ok)
    })
}

/// Creates a transformer from a JSON configuration (validated first).
///
/// - `config`, `config_len`: as for [`cowork_ecs_config_validate`].
/// - `out`: receives the handle on success. The caller owns it and releases
///   it with [`cowork_ecs_transformer_free`], exactly once.
/// - `err_out`: optional; the message on failure (free with [`cowork_ecs_buf_free`]).
///
/// The handle is immutable and may be used by any number of threads at once;
/// calls on it do not take a lock.
///
/// # Safety
/// - `config` points to `config_len` readable bytes, or is NULL with `config_len == 0`.
/// - `out` points to writable memory for one pointer.
/// - `err_out` is NULL or points to writable memory for one `cowork_ecs_buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_transformer_new(
    config: *const u8,
    config_len: usize,
    out: *mut *const cowork_ecs_transformer,
    err_out: *mut cowork_ecs_buf,
) -> cowork_ecs_result {
    guard(err_out, || {
        if out.is_null() {
            return Err(boundary::Failure::NullParameter("out"));
        }
        // SAFETY: the caller upholds the contract stated above.
        let config = unsafe { buf::input_slice(config, config_len) }?;
        let transformer = Transformer::from_json_config(config).map_err(boundary::Failure::from)?;
        // SAFETY: `out` is non-null and writable per the contract.
        unsafe { out.write(handle::into_raw(transformer)) };
        Ok(cowork_ecs_result::Ok)
    })
}

/// Normalizes every Claude record of one OTLP logs batch (SPEC sections 1–4).
///
/// - `transformer`: a handle from [`cowork_ecs_transformer_new`]; borrowed.
/// - `input`, `input_len`: a protobuf `ExportLogsServiceRequest` (the wire
///   shape of `LogsData`); borrowed for the call only.
/// - `out`: on `COWORK_ECS_RESULT_OK`, receives the transformed request as
///   protobuf bytes, owned by the caller and freed with [`cowork_ecs_buf_free`].
///   Not written on any other status.
/// - `err_out`: optional; the message on failure (free with [`cowork_ecs_buf_free`]).
///
/// Returns `COWORK_ECS_RESULT_OK`, `_UNCHANGED` (no Claude record: keep the
/// input, `out` untouched), `_DECODE`, `_NULL_PARAMETER` or `_PANIC`. Problems
/// inside a record are not failures: the record is marked
/// `event.kind: pipeline_error` and the call succeeds. No record is dropped.
///
/// Thread-safe: any number of threads may call this at once on one handle.
///
/// # Safety
/// - `transformer` is a live handle from [`cowork_ecs_transformer_new`].
/// - `input` points to `input_len` readable bytes, or is NULL with `input_len == 0`.
/// - `out` points to writable memory for one `cowork_ecs_buf`.
/// - `err_out` is NULL or points to writable memory for one `cowork_ecs_buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_transform_logs(
    transformer: *const cowork_ecs_transformer,
    input: *const u8,
    input_len: usize,
    out: *mut cowork_ecs_buf,
    err_out: *mut cowork_ecs_buf,
) -> cowork_ecs_result {
    guard(err_out, || {
        // SAFETY: the caller upholds the contract stated above; (NULL, 0)
        // is no tenant.
        unsafe {
            transform(
                Signal::Logs,
                transformer,
                std::ptr::null(),
                0,
                input,
                input_len,
                out,
            )
        }
    })
}

/// [`cowork_ecs_transform_logs`] for a batch whose sender the receiver
/// authenticated as `tenant` (e.g. the basic-auth username or the OIDC
/// subject). Per the configuration's `tenant` and `tenants` keys, the
/// identity sets `data_stream.namespace` (sanitized to Elasticsearch's
/// naming rules) and `labels.tenant`, and is checked against the
/// `organization.id` each record claims (`tags: organization_mismatch`).
///
/// - `tenant`, `tenant_len`: the identity as UTF-8 bytes, borrowed for the
///   call. `(NULL, 0)` or an empty identity means "no identity" and behaves
///   exactly like [`cowork_ecs_transform_logs`]. Bytes that are not UTF-8 are
///   a `COWORK_ECS_RESULT_DECODE` error.
/// - Every other parameter, the result codes, ownership and thread safety are
///   those of [`cowork_ecs_transform_logs`].
///
/// # Safety
/// As [`cowork_ecs_transform_logs`], plus: `tenant` points to `tenant_len`
/// readable bytes, or is NULL with `tenant_len == 0`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_transform_logs_as(
    transformer: *const cowork_ecs_transformer,
    tenant: *const u8,
    tenant_len: usize,
    input: *const u8,
    input_len: usize,
    out: *mut cowork_ecs_buf,
    err_out: *mut cowork_ecs_buf,
) -> cowork_ecs_result {
    guard(err_out, || {
        // SAFETY: the caller upholds the contract stated above.
        unsafe {
            transform(
                Signal::Logs,
                transformer,
                tenant,
                tenant_len,
                input,
                input_len,
                out,
            )
        }
    })
}

/// Transforms one protobuf `ExportTraceServiceRequest` (issue 9): Claude
/// spans get ECS / `gen_ai.*` fields and the gateway's routing
/// (`traces-<product>.traces-<namespace>`), and the content and identity
/// policy applies to span, span event and resource attributes; other
/// senders' spans are left as they are (under a tenant, their routing is
/// the gateway's).
///
/// - `tenant`, `tenant_len`: as in [`cowork_ecs_transform_logs_as`];
///   `(NULL, 0)` means no identity.
/// - Every other parameter, the result codes (`COWORK_ECS_RESULT_UNCHANGED`
///   when nothing changed), ownership and thread safety are those of
///   [`cowork_ecs_transform_logs`].
///
/// # Safety
/// As [`cowork_ecs_transform_logs_as`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_transform_traces(
    transformer: *const cowork_ecs_transformer,
    tenant: *const u8,
    tenant_len: usize,
    input: *const u8,
    input_len: usize,
    out: *mut cowork_ecs_buf,
    err_out: *mut cowork_ecs_buf,
) -> cowork_ecs_result {
    guard(err_out, || {
        // SAFETY: the caller upholds the contract stated above.
        unsafe {
            transform(
                Signal::Traces,
                transformer,
                tenant,
                tenant_len,
                input,
                input_len,
                out,
            )
        }
    })
}

/// Transforms one protobuf `ExportMetricsServiceRequest` (issue 9): Claude
/// metrics are routed to `metrics-<product>.metrics-<namespace>` and the
/// identity policy applies to data point and resource attributes; other
/// senders' metrics are left as they are (under a tenant, their routing is
/// the gateway's).
///
/// Parameters, result codes, ownership and thread safety: as
/// [`cowork_ecs_transform_traces`].
///
/// # Safety
/// As [`cowork_ecs_transform_logs_as`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_transform_metrics(
    transformer: *const cowork_ecs_transformer,
    tenant: *const u8,
    tenant_len: usize,
    input: *const u8,
    input_len: usize,
    out: *mut cowork_ecs_buf,
    err_out: *mut cowork_ecs_buf,
) -> cowork_ecs_result {
    guard(err_out, || {
        // SAFETY: the caller upholds the contract stated above.
        unsafe {
            transform(
                Signal::Metrics,
                transformer,
                tenant,
                tenant_len,
                input,
                input_len,
                out,
            )
        }
    })
}

/// The body of every transform export: reads the tenant (`None` for
/// `(NULL, 0)` or an empty identity; not UTF-8: an invalid argument), runs
/// the transform of `signal` on the input and hands its output to the
/// caller.
///
/// # Safety
/// `transformer` is a live handle or NULL (refused); `tenant` and `input`
/// point to their lengths' readable bytes, or are NULL with length 0; `out`
/// is NULL (refused) or writable.
unsafe fn transform(
    signal: Signal,
    transformer: *const cowork_ecs_transformer,
    tenant: *const u8,
    tenant_len: usize,
    input: *const u8,
    input_len: usize,
    out: *mut cowork_ecs_buf,
) -> Result<cowork_ecs_result, boundary::Failure> {
    // SAFETY: per this function's contract.
    let tenant = unsafe { buf::input_slice(tenant, tenant_len) }?;
    let tenant = std::str::from_utf8(tenant)
        .map_err(|e| boundary::Failure::InvalidArgument(format!("tenant is not UTF-8: {e}")))?;
    // SAFETY: the caller passes a live handle (or NULL, refused here).
    let transformer = unsafe { handle::try_ref(transformer) }?;
    if out.is_null() {
        return Err(boundary::Failure::NullParameter("out"));
    }
    // SAFETY: the caller upholds the input buffer contract.
    let input = unsafe { buf::input_slice(input, input_len) }?;
    let tenant = (!tenant.is_empty()).then_some(tenant);
    match transformer
        .transform_signal(signal, input, tenant)
        .map_err(boundary::Failure::from)?
    {
        None => Ok(cowork_ecs_result::Unchanged),
        Some(bytes) => {
            // SAFETY: `out` is non-null and writable per the contract.
            unsafe { out.write(cowork_ecs_buf::from_vec(bytes)) };
            Ok(cowork_ecs_result::Ok)
        }
    }
}

/// Releases a buffer returned by this library. `{NULL, 0}` is accepted and
/// does nothing. Freeing the same buffer twice is undefined behaviour.
///
/// # Safety
/// `buf` was returned by this library and not freed yet, or is `{NULL, 0}`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_buf_free(buf: cowork_ecs_buf) {
    boundary::guard_void(|| {
        // SAFETY: per the contract, `buf` came from `cowork_ecs_buf::from_vec`.
        unsafe { buf.free() }
    })
}

/// Releases a transformer. NULL is accepted and does nothing. Call it once,
/// after every call using the handle has returned.
///
/// # Safety
/// `transformer` is NULL or a handle from [`cowork_ecs_transformer_new`] not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_transformer_free(transformer: *const cowork_ecs_transformer) {
    boundary::guard_void(|| {
        // SAFETY: per the contract, the handle is live and not used afterwards.
        unsafe { handle::free(transformer) }
    })
}
