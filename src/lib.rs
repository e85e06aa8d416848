//! # cowork-ecs
//!
//! Turns the native OpenTelemetry log events of **Claude Cowork** (the agent in
//! Claude Desktop) and **Claude Code** (the CLI) into Elastic Common Schema
//! (ECS) documents, in place, inside serialized OTLP log batches.
//!
//! The mapping is documented field by field in `docs/mapping.md`, which is
//! generated from the mapping's own tables ([`ecs::reference`]); every rule
//! below names the section it comes from (`mapping.md §N`).
//!
//! Layers, from the inside out:
//! - [`ecs`]: the safe, pure OTLP → ECS mapping ([`ecs::Transformer`]), driven
//!   by the data tables in `ecs::tables`.
//! - [`otlp`]: the only module that imports `opentelemetry-proto`; protobuf and
//!   OTLP/JSON decoding and encoding.
//! - [`config`]: the JSON configuration shared with the Go processor and the CLI.
//! - [`policy`]: the content classes and actions, the vocabulary `config`
//!   and `ecs` share.
//! - [`data_stream`]: Elasticsearch data stream naming.
//! - [`signature`]: tamper evidence, the Ed25519 signature of a stored
//!   record and its canonical form (the processor signs, `cowork-ecs verify` checks).
//! - [`error`]: the crate's single [`Error`] type.
//! - [`ffi`]: the C ABI (`cowork_ecs_*`), the only module with `unsafe` code.

pub mod config;
pub mod data_stream;
pub mod ecs;
pub mod error;
pub mod ffi;
pub mod otlp;
pub mod policy;
pub mod seal;
pub mod signature;

pub use config::Config;
pub use ecs::{Outcome, Transformer};
pub use error::{Error, Result};
