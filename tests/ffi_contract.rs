//! The C ABI's contract, driven through the exported functions: NULLs,
//! `(NULL, 0)`, bad input, UNCHANGED, buffer ownership, concurrent use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::ffi::*;
use cowork_ecs::otlp;
use serde_json::json;
use std::ptr;

const LOGS: u32 = cowork_ecs_signal::Logs as u32;

/// `cowork_ecs_transform` of logs without a tenant, every pointer as given
/// (the NULL cases).
unsafe fn raw_logs(
    t: *const cowork_ecs_transformer,
    input: *const u8,
    input_len: usize,
    out: *mut cowork_ecs_buf,
    err: *mut cowork_ecs_buf,
) -> cowork_ecs_result {
    unsafe { cowork_ecs_transform(t, LOGS, ptr::null(), 0, input, input_len, out, err) }
}

fn empty_buf() -> cowork_ecs_buf {
    cowork_ecs_buf {
        data: ptr::null_mut(),
        len: 0,
    }
}

/// Copies a library buffer and frees it.
fn take(buf: cowork_ecs_buf) -> Vec<u8> {
    let v = if buf.data.is_null() {
        Vec::new()
    } else {
        unsafe { std::slice::from_raw_parts(buf.data, buf.len) }.to_vec()
    };
    unsafe { cowork_ecs_buf_free(buf) };
    v
}

fn new_transformer(
    config: &[u8],
) -> Result<*const cowork_ecs_transformer, (cowork_ecs_result, String)> {
    let mut handle: *const cowork_ecs_transformer = ptr::null();
    let mut err = empty_buf();
    let code =
        unsafe { cowork_ecs_transformer_new(config.as_ptr(), config.len(), &mut handle, &mut err) };
    if code == cowork_ecs_result::Ok {
        assert!(err.data.is_null(), "err_out written on success");
        Ok(handle)
    } else {
        assert!(handle.is_null(), "out written on failure");
        Err((code, String::from_utf8(take(err)).unwrap()))
    }
}

fn transform(
    t: *const cowork_ecs_transformer,
    input: &[u8],
) -> (cowork_ecs_result, Vec<u8>, String) {
    let mut out = empty_buf();
    let mut err = empty_buf();
    let code = unsafe { raw_logs(t, input.as_ptr(), input.len(), &mut out, &mut err) };
    (code, take(out), String::from_utf8(take(err)).unwrap())
}

/// `cowork_ecs_transform` of logs; `None` passes the identity as `(NULL, 0)`.
fn transform_as(
    t: *const cowork_ecs_transformer,
    tenant: Option<&[u8]>,
    input: &[u8],
) -> (cowork_ecs_result, Vec<u8>, String) {
    let (tenant_ptr, tenant_len) = tenant.map_or((ptr::null(), 0), |t| (t.as_ptr(), t.len()));
    let mut out = empty_buf();
    let mut err = empty_buf();
    let code = unsafe {
        cowork_ecs_transform(
            t,
            LOGS,
            tenant_ptr,
            tenant_len,
            input.as_ptr(),
            input.len(),
            &mut out,
            &mut err,
        )
    };
    (code, take(out), String::from_utf8(take(err)).unwrap())
}

fn capture_pb() -> Vec<u8> {
    std::fs::read(testdata().join("captures/protobuf/logs.pb")).unwrap()
}

#[test]
fn version_is_the_crate_version() {
    let v = unsafe { std::ffi::CStr::from_ptr(cowork_ecs_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn limits_and_mapping_mode_attribute_are_the_transforms() {
    let limits = cowork_ecs_transform_limits();
    assert_eq!(
        (
            limits.max_field_depth,
            limits.max_fields,
            limits.attribute_prefix_depth
        ),
        (
            cowork_ecs::ecs::gateway::MAX_FIELD_DEPTH as u32,
            cowork_ecs::ecs::gateway::MAX_FIELDS as u32,
            cowork_ecs::ecs::gateway::ATTRIBUTE_PREFIX_DEPTH as u32
        )
    );
    let mode = unsafe { std::ffi::CStr::from_ptr(cowork_ecs_mapping_mode_attribute()) };
    assert_eq!(
        mode.to_str().unwrap(),
        cowork_ecs::ecs::MAPPING_MODE_ATTRIBUTE
    );
}

#[test]
fn transform_ok_returns_normalized_protobuf() {
    let t = new_transformer(b"{}").unwrap();
    let (code, out, err) = transform(t, &capture_pb());
    assert_eq!(code, cowork_ecs_result::Ok, "{err}");
    assert!(err.is_empty());
    let req = otlp::decode(&out).unwrap();
    let recs = records(&req);
    assert_eq!(recs.len(), 11);
    assert!(
        recs.iter()
            .all(|r| flat_attributes(r)["ecs.version"] == "9.3.0")
    );
    unsafe { cowork_ecs_transformer_free(t) };
}

#[test]
fn no_claude_record_is_unchanged_and_writes_nothing() {
    let t = new_transformer(b"").unwrap();
    let mut req = read_request(&testdata().join("cowork/events.otlp.json"));
    req.resource_logs.remove(0); // keep only the billing-api resource
    let bytes = otlp::encode(&req);
    let mut out = empty_buf();
    let code = unsafe { raw_logs(t, bytes.as_ptr(), bytes.len(), &mut out, ptr::null_mut()) };
    assert_eq!(code, cowork_ecs_result::Unchanged);
    assert!(out.data.is_null(), "out must not be written on UNCHANGED");
    // (NULL, 0) is the empty batch: nothing to change either.
    let mut out = empty_buf();
    let code = unsafe { raw_logs(t, ptr::null(), 0, &mut out, ptr::null_mut()) };
    assert_eq!(code, cowork_ecs_result::Unchanged);
    unsafe { cowork_ecs_transformer_free(t) };
}

#[test]
fn null_parameters_are_errors_not_crashes() {
    let t = new_transformer(b"{}").unwrap();
    let mut out = empty_buf();
    let mut err = empty_buf();
    let code = unsafe { raw_logs(ptr::null(), ptr::null(), 0, &mut out, &mut err) };
    assert_eq!(code, cowork_ecs_result::NullParameter);
    assert!(
        String::from_utf8(take(err))
            .unwrap()
            .contains("transformer")
    );
    let code = unsafe { raw_logs(t, ptr::null(), 5, &mut out, ptr::null_mut()) };
    assert_eq!(code, cowork_ecs_result::NullParameter);
    let code = unsafe { raw_logs(t, ptr::null(), 0, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(code, cowork_ecs_result::NullParameter);
    let code =
        unsafe { cowork_ecs_transformer_new(ptr::null(), 0, ptr::null_mut(), ptr::null_mut()) };
    assert_eq!(code, cowork_ecs_result::NullParameter);
    let code = unsafe { cowork_ecs_config_validate(ptr::null(), 3, ptr::null_mut()) };
    assert_eq!(code, cowork_ecs_result::NullParameter);
    // Freeing NULL handles and empty buffers is allowed.
    unsafe { cowork_ecs_transformer_free(ptr::null()) };
    unsafe { cowork_ecs_buf_free(empty_buf()) };
    unsafe { cowork_ecs_transformer_free(t) };
}

#[test]
fn bad_config_is_reported_with_its_field() {
    let (code, msg) = new_transformer(br#"{"namespace":"Bad-Name"}"#).unwrap_err();
    assert_eq!(code, cowork_ecs_result::ConfigInvalid);
    assert!(msg.contains("namespace"), "{msg}");
    let (code, msg) = new_transformer(br#"{"error_mod":"x"}"#).unwrap_err();
    assert_eq!(code, cowork_ecs_result::ConfigSyntax);
    assert!(msg.contains("error_mod"), "{msg}");
    let mut err = empty_buf();
    let cfg = br#"{"namespace": 7}"#;
    let code = unsafe { cowork_ecs_config_validate(cfg.as_ptr(), cfg.len(), &mut err) };
    assert_eq!(code, cowork_ecs_result::ConfigSyntax);
    assert!(!take(err).is_empty());
    let code = unsafe { cowork_ecs_config_validate(b"{}".as_ptr(), 2, ptr::null_mut()) };
    assert_eq!(code, cowork_ecs_result::Ok);
}

#[test]
fn garbage_input_is_a_decode_error() {
    let t = new_transformer(b"{}").unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in [1usize, 2, 7, 64, 1000] {
        let garbage: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect();
        let (code, out, err) = transform(t, &garbage);
        assert!(
            matches!(
                code,
                cowork_ecs_result::Decode | cowork_ecs_result::Unchanged | cowork_ecs_result::Ok
            ),
            "{code:?}"
        );
        if code == cowork_ecs_result::Decode {
            assert!(out.is_empty());
            assert!(err.contains("protobuf"), "{err}");
        }
    }
    // A truncated real batch is always a decode error, never a crash.
    let pb = capture_pb();
    let (code, _, err) = transform(t, &pb[..pb.len() / 2]);
    assert_eq!(code, cowork_ecs_result::Decode, "{err}");
    unsafe { cowork_ecs_transformer_free(t) };
}

#[test]
fn one_handle_many_threads() {
    let t = new_transformer(b"{}").unwrap();
    let handle = t as usize; // raw pointers are not Send; the handle is Sync by contract
    let pb = capture_pb();
    let (code, expected, _) = transform(t, &pb);
    assert_eq!(code, cowork_ecs_result::Ok);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..50 {
                    let (code, out, _) = transform(handle as *const cowork_ecs_transformer, &pb);
                    assert_eq!(code, cowork_ecs_result::Ok);
                    assert_eq!(out, expected);
                }
            });
        }
    });
    unsafe { cowork_ecs_transformer_free(t) };
}

#[test]
fn abi_layouts_are_pinned() {
    // cowork_ecs_buf { uint8_t *data; size_t len; } and a uint32_t result.
    assert_eq!(
        std::mem::size_of::<cowork_ecs_buf>(),
        2 * std::mem::size_of::<usize>()
    );
    assert_eq!(
        std::mem::align_of::<cowork_ecs_buf>(),
        std::mem::align_of::<usize>()
    );
    assert_eq!(std::mem::offset_of!(cowork_ecs_buf, data), 0);
    assert_eq!(
        std::mem::offset_of!(cowork_ecs_buf, len),
        std::mem::size_of::<usize>()
    );
    assert_eq!(std::mem::size_of::<cowork_ecs_result>(), 4);
    // The numbers are part of the ABI.
    let codes = [
        (cowork_ecs_result::Ok, 9000),
        (cowork_ecs_result::Unchanged, 9001),
        (cowork_ecs_result::Partial, 9002),
        (cowork_ecs_result::NullParameter, 9010),
        (cowork_ecs_result::Panic, 9011),
        (cowork_ecs_result::InvalidArgument, 9012),
        (cowork_ecs_result::ConfigSyntax, 9100),
        (cowork_ecs_result::ConfigInvalid, 9101),
        (cowork_ecs_result::Decode, 9200),
        (cowork_ecs_result::Encode, 9201),
    ];
    for (code, number) in codes {
        assert_eq!(code as u32, number, "{code:?}");
    }
    let signals = [
        (cowork_ecs_signal::Logs, 1),
        (cowork_ecs_signal::Traces, 2),
        (cowork_ecs_signal::Metrics, 3),
    ];
    for (signal, number) in signals {
        assert_eq!(signal as u32, number, "{signal:?}");
    }
}

#[test]
fn a_signal_the_abi_does_not_have_is_an_invalid_argument() {
    let t = new_transformer(b"").unwrap();
    let input = capture_pb();
    for signal in [0, 4, u32::MAX] {
        let (mut out, mut err) = (empty_buf(), empty_buf());
        let code = unsafe {
            cowork_ecs_transform(
                t,
                signal,
                ptr::null(),
                0,
                input.as_ptr(),
                input.len(),
                &mut out,
                &mut err,
            )
        };
        assert_eq!(code, cowork_ecs_result::InvalidArgument);
        assert!(out.data.is_null(), "no output on error");
        assert!(String::from_utf8(take(err)).unwrap().contains("signal"));
    }
    unsafe { cowork_ecs_transformer_free(t) };
}

/// A request whose second resource is not protobuf inside (its framing is):
/// `ResourceLogs { resource: <bytes with a field of wire type 7> }`.
fn with_unreadable_resource(good: &[u8]) -> Vec<u8> {
    let mut input = good.to_vec();
    input.extend_from_slice(&[0x0a, 0x04, 0x0a, 0x02, 0x0f, 0x01]);
    input
}

#[test]
fn an_unreadable_resource_is_skipped_and_reported() {
    let t = new_transformer(b"").unwrap();
    // Logs: the readable resources are normalized, the other is copied as
    // it came, PARTIAL says which.
    let good = capture_pb();
    let input = with_unreadable_resource(&good);
    let (code, out, err) = transform(t, &input);
    assert_eq!(code, cowork_ecs_result::Partial, "{err}");
    assert!(err.contains("resource 2"), "{err}");
    assert!(out.ends_with(&input[good.len()..]), "copied as it came");
    let (_, alone, _) = transform(t, &good);
    assert_eq!(
        &out[..alone.len()],
        alone.as_slice(),
        "the rest transformed"
    );
    // Traces: the same (prost refuses the resource alone, not the batch).
    use prost::Message;
    let traces = otlp::traces_from_json(
        &std::fs::read(testdata().join("captures/traces/traces.json")).unwrap(),
    )
    .unwrap()
    .encode_to_vec();
    let input = with_unreadable_resource(&traces);
    let (mut out, mut err) = (empty_buf(), empty_buf());
    let code = unsafe {
        cowork_ecs_transform(
            t,
            cowork_ecs_signal::Traces as u32,
            ptr::null(),
            0,
            input.as_ptr(),
            input.len(),
            &mut out,
            &mut err,
        )
    };
    let (out, err) = (take(out), String::from_utf8(take(err)).unwrap());
    assert_eq!(code, cowork_ecs_result::Partial, "{err}");
    assert!(err.contains("1 resource(s)"), "{err}");
    assert!(out.ends_with(&input[traces.len()..]));
    assert!(
        out.len() > input.len(),
        "the readable resource was transformed"
    );
    unsafe { cowork_ecs_transformer_free(t) };
}

#[test]
fn tenant_variant_routes_and_refuses_non_utf8() {
    let t = new_transformer(b"{}").unwrap();
    let input = std::fs::read(testdata().join("cowork/events.otlp.json")).unwrap();
    let input = otlp::encode(&otlp::from_json(&input).unwrap());
    let namespace = |out: &[u8]| {
        let doc = flat_attributes(records(&otlp::decode(out).unwrap())[0]);
        (
            doc["data_stream.namespace"].clone(),
            doc.get("labels.tenant").cloned(),
        )
    };
    let (code, out, _) = transform_as(t, Some(b"Team-A"), &input);
    assert_eq!(code, cowork_ecs_result::Ok);
    assert_eq!(namespace(&out), (json!("team_a"), Some(json!("Team-A"))));
    // (NULL, 0) is "no identity".
    let (code, out, _) = transform_as(t, None, &input);
    assert_eq!(code, cowork_ecs_result::Ok);
    assert_eq!(namespace(&out), (json!("default"), None));
    let (code, out, err) = transform_as(t, Some(&[0xff, 0xfe]), &input);
    assert_eq!(code, cowork_ecs_result::InvalidArgument);
    assert!(out.is_empty(), "no output on error");
    assert!(err.contains("tenant"), "{err}");
    unsafe { cowork_ecs_transformer_free(t) };
}

#[test]
fn traces_and_metrics_exports_keep_the_contract() {
    use prost::Message;
    let t = new_transformer(b"").unwrap();
    let read = |path: &str| std::fs::read(testdata().join(path)).unwrap();
    let traces = otlp::traces_from_json(&read("captures/traces/traces.json"))
        .unwrap()
        .encode_to_vec();
    let metrics = otlp::metrics_from_json(&read("captures/traces/metrics.json"))
        .unwrap()
        .encode_to_vec();
    let call = |f: u32, tenant: Option<&str>, input: &[u8], out: *mut cowork_ecs_buf| {
        let mut err = empty_buf();
        let (tp, tl) = tenant.map_or((ptr::null(), 0), |s| (s.as_ptr(), s.len()));
        let code = unsafe {
            cowork_ecs_transform(t, f, tp, tl, input.as_ptr(), input.len(), out, &mut err)
        };
        (code, String::from_utf8(take(err)).unwrap())
    };
    for (f, input) in [
        (cowork_ecs_signal::Traces as u32, &traces),
        (cowork_ecs_signal::Metrics as u32, &metrics),
    ] {
        let mut out = empty_buf();
        let (code, err) = call(f, None, input, &mut out);
        assert_eq!(code, cowork_ecs_result::Ok, "{err}");
        let bytes = take(out);
        assert!(bytes.len() > input.len());
        let mut out = empty_buf();
        assert_eq!(
            call(f, Some("team-a"), input, &mut out).0,
            cowork_ecs_result::Ok
        );
        assert!(String::from_utf8_lossy(&take(out)).contains("team_a"));
        // Nothing to change: UNCHANGED, nothing written.
        let mut out = empty_buf();
        assert_eq!(call(f, None, &[], &mut out).0, cowork_ecs_result::Unchanged);
        assert!(out.data.is_null());
        // Bad input, NULL out, non-UTF-8 tenant: errors, never crashes.
        let mut out = empty_buf();
        let (code, err) = call(f, None, b"\xff\xff\xff\xff", &mut out);
        assert_eq!(code, cowork_ecs_result::Decode);
        assert!(!err.is_empty());
        assert_eq!(
            call(f, None, input, ptr::null_mut()).0,
            cowork_ecs_result::NullParameter
        );
        let mut err = empty_buf();
        let bad = [0xffu8, 0xfe];
        let code = unsafe {
            cowork_ecs_transform(
                t,
                f,
                bad.as_ptr(),
                bad.len(),
                input.as_ptr(),
                input.len(),
                &mut out,
                &mut err,
            )
        };
        assert_eq!(code, cowork_ecs_result::InvalidArgument);
        take(err);
        let code = unsafe {
            cowork_ecs_transform(
                ptr::null(),
                f,
                ptr::null(),
                0,
                input.as_ptr(),
                input.len(),
                &mut out,
                ptr::null_mut(),
            )
        };
        assert_eq!(code, cowork_ecs_result::NullParameter);
    }
    unsafe { cowork_ecs_transformer_free(t) };
}

#[test]
fn config_defaults_is_the_default_configuration() {
    let mut out = empty_buf();
    assert_eq!(
        unsafe { cowork_ecs_config_defaults(&mut out) },
        cowork_ecs_result::Ok
    );
    let json = take(out);
    let parsed = cowork_ecs::Config::from_json(&json).unwrap();
    assert_eq!(parsed, cowork_ecs::Config::default());
    assert!(String::from_utf8(json).unwrap().contains("\"tool_output\""));
    assert_eq!(
        unsafe { cowork_ecs_config_defaults(ptr::null_mut()) },
        cowork_ecs_result::NullParameter
    );
}

#[test]
fn transform_logs_is_transform_of_the_logs_signal() {
    let t = new_transformer(b"").unwrap();
    let input = capture_pb();
    let (code, want, _) = transform(t, &input);
    assert_eq!(code, cowork_ecs_result::Ok);
    let mut out = empty_buf();
    let mut err = empty_buf();
    let code = unsafe {
        cowork_ecs_transform_logs(
            t,
            ptr::null(),
            0,
            input.as_ptr(),
            input.len(),
            &mut out,
            &mut err,
        )
    };
    assert_eq!(code, cowork_ecs_result::Ok);
    assert!(err.data.is_null());
    assert_eq!(take(out), want);
    // The same contract: a tenant that is not UTF-8, a truncated request.
    let mut out = empty_buf();
    let bad = [0xff_u8];
    let code = unsafe {
        cowork_ecs_transform_logs(
            t,
            bad.as_ptr(),
            1,
            input.as_ptr(),
            input.len(),
            &mut out,
            ptr::null_mut(),
        )
    };
    assert_eq!(code, cowork_ecs_result::InvalidArgument);
    let code = unsafe {
        cowork_ecs_transform_logs(
            t,
            ptr::null(),
            0,
            input.as_ptr(),
            input.len() / 2,
            &mut out,
            ptr::null_mut(),
        )
    };
    assert_eq!(code, cowork_ecs_result::Decode);
    unsafe { cowork_ecs_transformer_free(t) };
}
