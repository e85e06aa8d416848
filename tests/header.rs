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
        "cowork_ecs_config_defaults(",
        "cowork_ecs_transformer_new(",
        "cowork_ecs_transform(",
        "cowork_ecs_buf_free(",
        "cowork_ecs_transformer_free(",
    ] {
        assert!(h.contains(f), "{f} missing from the header");
    }
}

#[test]
fn nothing_unprefixed_is_declared() {
    // Every macro, type, enumerator and function the header declares is the
    // ABI's own: named cowork_ecs_ / COWORK_ECS_ (STYLE: no name a C
    // program could already use).
    let h = fresh();
    let mut declared = Vec::new();
    for line in (h.lines()).filter(|l| !l.trim_start().starts_with("//") && !l.starts_with("/*")) {
        let words: Vec<&str> = line
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .collect();
        match words.as_slice() {
            ["define", name, ..] => declared.push(name.to_string()),
            ["typedef", .., name] if line.trim_end().ends_with(';') => {
                declared.push(name.to_string())
            }
            [name, ..] if line.starts_with("  ") && line.contains(" = ") => {
                declared.push(name.to_string())
            }
            _ => {}
        }
        // A function: `<type> name(` at the start of a line.
        if let (false, Some((head, _))) = (line.starts_with([' ', '#']), line.split_once('(')) {
            if let Some(name) = head.split_whitespace().last() {
                declared.push(name.trim_start_matches('*').to_string());
            }
        }
    }
    assert!(
        declared.len() > 15,
        "the scan found the declarations: {declared:?}"
    );
    let foreign: Vec<_> = declared
        .iter()
        .filter(|n| !n.to_lowercase().starts_with("cowork_ecs"))
        .filter(|n| !["defined"].contains(&n.as_str()))
        .collect();
    assert!(
        foreign.is_empty(),
        "unprefixed names in the header: {foreign:?}"
    );
}
