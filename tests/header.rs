//! The committed C header is exactly what cbindgen generates from the
//! current Rust API (build.rs writes the fresh one to OUT_DIR), and the
//! version macros match Cargo.toml.
#![allow(clippy::unwrap_used)]

use std::path::Path;

fn fresh() -> String {
    std::fs::read_to_string(Path::new(env!("OUT_DIR")).join("cowork_ecs.h")).unwrap()
}

#[test]
fn committed_header_matches_cbindgen_output() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/cowork_ecs.h");
    let text = std::fs::read_to_string(&committed).unwrap();
    assert!(
        text == fresh(),
        "include/cowork_ecs.h differs from the cbindgen output: run `cargo build` outside CI and commit it"
    );
}

#[test]
fn version_macros_match_the_crate() {
    let h = fresh();
    let mut parts = env!("CARGO_PKG_VERSION").split('.');
    for name in ["MAJOR", "MINOR", "PATCH"] {
        let want = format!(
            "#define COWORK_ECS_VERSION_{name} {}",
            parts.next().unwrap()
        );
        assert!(h.contains(&want), "missing {want}");
    }
}

#[test]
fn every_export_is_declared() {
    let h = fresh();
    for f in [
        "cowork_ecs_version(void)",
        "cowork_ecs_config_validate(",
        "cowork_ecs_transformer_new(",
        "cowork_ecs_transform_logs(",
        "cowork_ecs_buf_free(",
        "cowork_ecs_transformer_free(",
    ] {
        assert!(h.contains(f), "{f} missing from the header");
    }
}
