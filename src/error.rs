//! The crate's error type. Its mapping to C result codes lives in
//! [`crate::ffi`] (`cowork_ecs_result`), and only there.

/// Everything that can fail in this crate. Errors *inside* a record are not
/// errors of a call: mapping.md §4 turns them into `event.kind:
/// pipeline_error` on that record, and the call succeeds.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is not valid JSON or has unknown or mistyped keys.
    #[error("configuration is not valid: {0}")]
    ConfigSyntax(#[source] serde_json::Error),
    /// The configuration parsed but a value breaks a rule (`field: why`).
    #[error("configuration is not valid: {field}: {reason}")]
    ConfigInvalid {
        /// Dotted path of the offending key, e.g. `claude_code.dataset`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The input bytes are not an OTLP `ExportLogsServiceRequest` protobuf.
    #[error("input is not an OTLP Export{{Logs,Trace,Metrics}}ServiceRequest protobuf: {0}")]
    Decode(String),
    /// The input text is not an OTLP/JSON `ExportLogsServiceRequest`.
    #[error("input is not an OTLP/JSON request: {0}")]
    DecodeJson(#[source] serde_json::Error),
    /// A seal could not be made (one is pending, or the chain is closed).
    #[error("cannot seal: {0}")]
    Seal(String),
    /// The output could not be serialized (should not happen; reported, not panicked).
    #[error("cannot encode the output: {0}")]
    Encode(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::ConfigInvalid`].
    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::ConfigInvalid {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Error::Decode(e.to_string())
    }
}

impl From<crate::otlp::wire::Malformed> for Error {
    fn from(e: crate::otlp::wire::Malformed) -> Self {
        Error::Decode(e.0.to_owned())
    }
}
