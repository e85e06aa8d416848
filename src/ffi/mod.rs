//! The C ABI: the only module with `#[unsafe(no_mangle)]`, `extern "C"` and
//! raw pointers. `include/cowork_ecs.h` is generated from it by cbindgen.
//!
//! # Conventions (modelled on rustls-ffi)
//! - Every symbol starts `cowork_ecs_`; `_new` creates, `_free` destroys.
//! - Inputs come before outputs. A byte buffer is a pointer followed by its
//!   length; it is borrowed for the call only. `(NULL, 0)` is an empty
//!   buffer; `(NULL, n > 0)` is `COWORK_ECS_RESULT_NULL_PARAMETER`.
//! - Outputs are written only on success (`*out`), messages only on
//!   failure or a partial success (`*err_out`, which may be NULL when the
//!   caller does not want them).
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
use crate::seal::SealKind;
use boundary::guard;
use std::ffi::c_char;

/// Status of a call. The numbers are part of the ABI and never change or get
/// reused; a zeroed value is never a success.
///
/// - `COWORK_ECS_RESULT_OK` (9000): success, the outputs were written.
/// - `COWORK_ECS_RESULT_UNCHANGED` (9001): success, the batch holds no Claude
///   record, so nothing changed and no output buffer was written: keep the input.
/// - `COWORK_ECS_RESULT_PARTIAL` (9002): success, the outputs were written,
///   but some resources could not be read: they are in the output as they
///   came, and `err_out` says which and why.
/// - `COWORK_ECS_RESULT_NULL_PARAMETER` (9010): a required pointer was NULL.
/// - `COWORK_ECS_RESULT_PANIC` (9011): a bug inside the library was caught;
///   the message is in `err_out`. The handle stays usable.
/// - `COWORK_ECS_RESULT_INVALID_ARGUMENT` (9012): an argument is malformed
///   (a signal the ABI does not have, a tenant that is not UTF-8).
/// - `COWORK_ECS_RESULT_CONFIG_SYNTAX` (9100): the configuration is not valid
///   JSON or has an unknown or mistyped key.
/// - `COWORK_ECS_RESULT_CONFIG_INVALID` (9101): a configuration value breaks a rule.
/// - `COWORK_ECS_RESULT_DECODE` (9200): the input is not a protobuf request
///   of the signal asked.
/// - `COWORK_ECS_RESULT_ENCODE` (9201): the output could not be encoded.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum cowork_ecs_result {
    /// Success; outputs written.
    Ok = 9000,
    /// Success; no Claude record in the batch, nothing written.
    Unchanged = 9001,
    /// Success; outputs written, but some resources could not be read (and
    /// are in the output as they came); `err_out` says which.
    Partial = 9002,
    /// A required pointer argument was NULL.
    NullParameter = 9010,
    /// A panic was caught at the boundary.
    Panic = 9011,
    /// An argument is malformed (unknown signal, tenant not UTF-8).
    InvalidArgument = 9012,
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
            Error::Encode(_) | Error::Seal(_) => cowork_ecs_result::Encode,
        }
    }
}

/// The library version (`CARGO_PKG_VERSION`), a static NUL-terminated string.
/// Never free it.
#[unsafe(no_mangle)]
pub extern "C" fn cowork_ecs_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The shape limits under which Elasticsearch indexes every document the
/// transform writes: what a caller that screens batches before calling the
/// transform (the Go processor passes on untouched what needs nothing)
/// must screen for, so that it never restates them. Plain values, no
/// ownership.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct cowork_ecs_limits {
    /// Deepest field path Elasticsearch maps, in segments (`a.b.c` is 3;
    /// `index.mapping.depth.limit`): [`crate::ecs::gateway::MAX_FIELD_DEPTH`].
    pub max_field_depth: u32,
    /// Most fields one item (log record, span, span event, data point) may
    /// add to a document: [`crate::ecs::gateway::MAX_FIELDS`].
    pub max_fields: u32,
    /// Segments the exporter puts above an item's attributes at most
    /// (`resource.attributes.` in its OTel mode), which the depth counts.
    pub attribute_prefix_depth: u32,
}

/// The transform's [`cowork_ecs_limits`]. Thread-safe; cannot fail.
#[unsafe(no_mangle)]
pub extern "C" fn cowork_ecs_transform_limits() -> cowork_ecs_limits {
    use crate::ecs::gateway;
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    cowork_ecs_limits {
        max_field_depth: n(gateway::MAX_FIELD_DEPTH),
        max_fields: n(gateway::MAX_FIELDS),
        attribute_prefix_depth: n(gateway::ATTRIBUTE_PREFIX_DEPTH),
    }
}

/// The scope attribute the elasticsearch exporter reads its mapping mode
/// from (`elastic.mapping.mode`), which only the transform may judge: a
/// static NUL-terminated string. Never free it.
#[unsafe(no_mangle)]
pub extern "C" fn cowork_ecs_mapping_mode_attribute() -> *const c_char {
    const WITH_NUL: &str = "elastic.mapping.mode\0";
    const _: () = {
        let (a, b) = (
            WITH_NUL.as_bytes(),
            crate::ecs::MAPPING_MODE_ATTRIBUTE.as_bytes(),
        );
        assert!(a.len() == b.len() + 1);
        let mut i = 0;
        while i < b.len() {
            assert!(a[i] == b[i]);
            i += 1;
        }
    };
    WITH_NUL.as_ptr().cast()
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

/// The default configuration as JSON (every key, with its default; the
/// document `cowork_ecs_config_validate` and `cowork_ecs_transformer_new`
/// read), so a caller takes its defaults from here instead of restating them.
///
/// - `out`: receives the JSON (UTF-8, no NUL), owned by the caller and freed
///   with [`cowork_ecs_buf_free`].
///
/// Returns `COWORK_ECS_RESULT_OK`, `_NULL_PARAMETER` or `_PANIC`. Thread-safe.
///
/// # Safety
/// `out` points to writable memory for one `cowork_ecs_buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_config_defaults(out: *mut cowork_ecs_buf) -> cowork_ecs_result {
    guard(std::ptr::null_mut(), || {
        if out.is_null() {
            return Err(boundary::Failure::NullParameter("out"));
        }
        let json = crate::config::Config::default().to_json();
        // SAFETY: `out` is non-null and writable per the contract.
        unsafe { out.write(cowork_ecs_buf::from_vec(json)) };
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

/// Which OTLP request a [`cowork_ecs_transform`] call reads. The numbers
/// are part of the ABI; 0 is no signal.
///
/// - `COWORK_ECS_SIGNAL_LOGS` (1): `ExportLogsServiceRequest`. Claude
///   records become ECS documents (mapping.md §1–4).
/// - `COWORK_ECS_SIGNAL_TRACES` (2): `ExportTraceServiceRequest`. Claude
///   spans get ECS / `gen_ai.*` fields and the gateway's routing
///   (`traces-<product>.traces-<namespace>`); the content and identity
///   policy applies to span, span event and resource attributes.
/// - `COWORK_ECS_SIGNAL_METRICS` (3): `ExportMetricsServiceRequest`. Claude
///   metrics are routed to `metrics-<product>.metrics-<namespace>` and the
///   identity policy applies to data point and resource attributes.
///
/// In every signal, other senders' items are left as they are, except that
/// under a tenant their routing is the gateway's.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum cowork_ecs_signal {
    /// `ExportLogsServiceRequest`.
    Logs = 1,
    /// `ExportTraceServiceRequest`.
    Traces = 2,
    /// `ExportMetricsServiceRequest`.
    Metrics = 3,
}

impl cowork_ecs_signal {
    /// The signal a caller's number names; a number the ABI does not have
    /// is an invalid argument (a C enum may hold any value).
    fn from_raw(raw: u32) -> Result<Signal, boundary::Failure> {
        use cowork_ecs_signal as S;
        Ok(match raw {
            _ if raw == S::Logs as u32 => Signal::Logs,
            _ if raw == S::Traces as u32 => Signal::Traces,
            _ if raw == S::Metrics as u32 => Signal::Metrics,
            _ => {
                return Err(boundary::Failure::InvalidArgument(format!(
                    "signal {raw} is not a cowork_ecs_signal (1 logs, 2 traces, 3 metrics)"
                )));
            }
        })
    }
}

/// Transforms one OTLP protobuf request of `signal`, whose sender the
/// receiver authenticated as `tenant`.
///
/// - `transformer`: a handle from [`cowork_ecs_transformer_new`]; borrowed.
/// - `signal`: a `cowork_ecs_signal` value: which request `input` is.
/// - `tenant`, `tenant_len`: the sender's identity as UTF-8 bytes (e.g. the
///   basic-auth username or the OIDC subject), borrowed for the call;
///   `(NULL, 0)` or an empty identity means none. Per the configuration's
///   `tenant` and `tenants` keys the identity sets `data_stream.namespace`
///   (sanitized to Elasticsearch's naming rules) and `labels.tenant`, and
///   is checked against the `organization.id` each record claims (`tags:
///   organization_mismatch`).
/// - `input`, `input_len`: the protobuf request; borrowed for the call only.
/// - `out`: on `COWORK_ECS_RESULT_OK` and `_PARTIAL`, receives the
///   transformed request as protobuf bytes, owned by the caller and freed
///   with [`cowork_ecs_buf_free`]. Not written on any other status.
/// - `err_out`: optional; the message on failure, and on `_PARTIAL` the
///   resources that could not be read (free with [`cowork_ecs_buf_free`]).
///
/// Returns:
/// - `COWORK_ECS_RESULT_OK`: `out` holds the new request;
/// - `_UNCHANGED`: nothing to change (no Claude item, nothing the gateway
///   owns): keep the input, `out` untouched;
/// - `_PARTIAL`: some resources could not be read; they are in `out` as
///   they came, every other one transformed. Whether such a batch may pass
///   on is the caller's policy (the Go processor fails it closed under a
///   tenant or a content policy);
/// - `_DECODE`: the input is not a protobuf request at all;
/// - `_INVALID_ARGUMENT` (a `signal` the ABI does not have, a tenant that is
///   not UTF-8), `_NULL_PARAMETER` or `_PANIC`.
///
/// Problems inside a record are not failures: the record is marked
/// `event.kind: pipeline_error` and the call succeeds. Nothing is dropped.
/// Thread-safe: any number of threads may call this at once on one handle.
///
/// **Seals.** With a signing key, a logs request holding Claude records
/// gets its seal appended to `out` ([`crate::seal`]), pending: the caller
/// hands `out` on, then calls [`cowork_ecs_seal_settle`] with whether it
/// was taken, before the next logs call on this handle (the Go processor
/// holds a lock from this call to the settlement). A logs call while a
/// seal is pending fails with `_ENCODE`.
///
/// # Safety
/// - `transformer` is a live handle from [`cowork_ecs_transformer_new`].
/// - `tenant` points to `tenant_len` readable bytes, or is NULL with `tenant_len == 0`.
/// - `input` points to `input_len` readable bytes, or is NULL with `input_len == 0`.
/// - `out` points to writable memory for one `cowork_ecs_buf`.
/// - `err_out` is NULL or points to writable memory for one `cowork_ecs_buf`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)] // the C shape: buffers as (pointer, length) pairs
pub unsafe extern "C" fn cowork_ecs_transform(
    transformer: *const cowork_ecs_transformer,
    signal: u32,
    tenant: *const u8,
    tenant_len: usize,
    input: *const u8,
    input_len: usize,
    out: *mut cowork_ecs_buf,
    err_out: *mut cowork_ecs_buf,
) -> cowork_ecs_result {
    boundary::guard_partial(err_out, || {
        let signal = cowork_ecs_signal::from_raw(signal)?;
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
        let done = transformer
            .transform_unsettled(signal, input, tenant)
            .map_err(boundary::Failure::from)?;
        let (code, bytes) = match (done.output, done.unread.is_empty()) {
            (None, true) => return Ok((cowork_ecs_result::Unchanged, None)),
            (Some(bytes), true) => (cowork_ecs_result::Ok, bytes),
            (output, false) => (
                cowork_ecs_result::Partial,
                output.unwrap_or_else(|| input.to_vec()),
            ),
        };
        // SAFETY: `out` is non-null and writable per the contract.
        unsafe { out.write(cowork_ecs_buf::from_vec(bytes)) };
        let report = (!done.unread.is_empty()).then(|| {
            format!(
                "{} resource(s) could not be read and were passed on as they came: {}",
                done.unread.len(),
                done.unread.join("; ")
            )
        });
        Ok((code, report))
    })
}

/// The logs entry point over serialized OTLP batches, as the design names
/// it: [`cowork_ecs_transform`] with `signal` = `COWORK_ECS_SIGNAL_LOGS`.
/// `input` is a protobuf `ExportLogsServiceRequest`; parameters, results,
/// ownership (`*out` belongs to the caller, freed with
/// [`cowork_ecs_buf_free`]) and thread safety are those of
/// [`cowork_ecs_transform`].
///
/// # Safety
/// As [`cowork_ecs_transform`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_transform_logs(
    transformer: *const cowork_ecs_transformer,
    tenant: *const u8,
    tenant_len: usize,
    input: *const u8,
    input_len: usize,
    out: *mut cowork_ecs_buf,
    err_out: *mut cowork_ecs_buf,
) -> cowork_ecs_result {
    // SAFETY: the same contract, passed through.
    unsafe {
        cowork_ecs_transform(
            transformer,
            cowork_ecs_signal::Logs as u32,
            tenant,
            tenant_len,
            input,
            input_len,
            out,
            err_out,
        )
    }
}

/// Which seal [`cowork_ecs_seal`] writes. The numbers are part of the ABI.
///
/// - `COWORK_ECS_SEAL_HEARTBEAT` (2): only when no seal was settled for the
///   seal interval (`signing.seal_interval_ms`);
/// - `COWORK_ECS_SEAL_CLOSING` (3): the chain's last seal (a graceful stop).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum cowork_ecs_seal_kind {
    /// A seal without records when nothing else was sealed for an interval.
    Heartbeat = 2,
    /// The last seal of the chain.
    Closing = 3,
}

/// Makes a seal without records ([`cowork_ecs_seal_kind`]), pending until
/// [`cowork_ecs_seal_settle`] like a logs request's.
///
/// - `transformer`: a live handle; borrowed.
/// - `kind`: a `cowork_ecs_seal_kind` value.
/// - `out`: on `COWORK_ECS_RESULT_OK`, receives the seal as a protobuf
///   `ExportLogsServiceRequest`, owned by the caller and freed with
///   [`cowork_ecs_buf_free`].
/// - `err_out`: optional; the message on failure.
///
/// Returns `COWORK_ECS_RESULT_OK`; `_UNCHANGED` when there is nothing to
/// write (no signing key, or a heartbeat not due); `_ENCODE` when a seal
/// is pending or the chain was closed; `_INVALID_ARGUMENT`,
/// `_NULL_PARAMETER` or `_PANIC`.
///
/// # Safety
/// - `transformer` is a live handle from [`cowork_ecs_transformer_new`].
/// - `out` points to writable memory for one `cowork_ecs_buf`.
/// - `err_out` is NULL or points to writable memory for one `cowork_ecs_buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_seal(
    transformer: *const cowork_ecs_transformer,
    kind: u32,
    out: *mut cowork_ecs_buf,
    err_out: *mut cowork_ecs_buf,
) -> cowork_ecs_result {
    guard(err_out, || {
        let kind = match kind {
            _ if kind == cowork_ecs_seal_kind::Heartbeat as u32 => SealKind::Heartbeat,
            _ if kind == cowork_ecs_seal_kind::Closing as u32 => SealKind::Closing,
            _ => {
                return Err(boundary::Failure::InvalidArgument(format!(
                    "seal kind {kind} is not a cowork_ecs_seal_kind (2 heartbeat, 3 closing)"
                )));
            }
        };
        // SAFETY: the caller passes a live handle (or NULL, refused here).
        let transformer = unsafe { handle::try_ref(transformer) }?;
        if out.is_null() {
            return Err(boundary::Failure::NullParameter("out"));
        }
        match transformer
            .seal_now(kind)
            .map_err(boundary::Failure::from)?
        {
            None => Ok(cowork_ecs_result::Unchanged),
            Some(bytes) => {
                // SAFETY: `out` is non-null and writable per the contract.
                unsafe { out.write(cowork_ecs_buf::from_vec(bytes)) };
                Ok(cowork_ecs_result::Ok)
            }
        }
    })
}

/// Settles the pending seal, if any ([`cowork_ecs_transform`], "Seals"):
/// `written` true when the request holding it was taken by the next
/// consumer (then it is the chain's last), false when it was not (its
/// number is used again). Without a pending seal it does nothing.
///
/// Returns `COWORK_ECS_RESULT_OK`, `_NULL_PARAMETER` or `_PANIC`.
///
/// # Safety
/// `transformer` is a live handle from [`cowork_ecs_transformer_new`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cowork_ecs_seal_settle(
    transformer: *const cowork_ecs_transformer,
    written: bool,
) -> cowork_ecs_result {
    guard(std::ptr::null_mut(), || {
        // SAFETY: the caller passes a live handle (or NULL, refused here).
        let transformer = unsafe { handle::try_ref(transformer) }?;
        transformer.settle_seal(written);
        Ok(cowork_ecs_result::Ok)
    })
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
