//! Generates the C header with cbindgen.
//!
//! The header is always written to `$OUT_DIR/cowork_ecs.h`. Outside CI it is
//! also written to the committed `include/cowork_ecs.h`; under CI (`CI` set)
//! that file is left alone and `tests/header.rs` fails if it differs from the
//! fresh one. (`make lib` copies it, with the static library, to where cgo
//! looks.)

use std::path::{Path, PathBuf};

fn main() {
    // cbindgen reads the whole crate (a public item anywhere can reach the
    // header), so any change under src/ regenerates it.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=CI");
    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));

    let mut config = match cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => panic!("cbindgen.toml: {e}"),
    };
    let version: Vec<String> = env!("CARGO_PKG_VERSION")
        .split('.')
        .map(str::to_owned)
        .collect();
    if let Some(after) = config.after_includes.as_mut() {
        *after = after
            .replace("@MAJOR@", &version[0])
            .replace("@MINOR@", &version[1])
            .replace("@PATCH@", version[2].split('-').next().unwrap_or("0"));
    }
    let header = match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(b) => b,
        Err(e) => panic!("cbindgen: {e}"),
    };
    let fresh = out_dir.join("cowork_ecs.h");
    header.write_to_file(&fresh);

    if std::env::var_os("CI").is_none() {
        copy_if_changed(&fresh, &crate_dir.join("include/cowork_ecs.h"));
    }
}

fn copy_if_changed(from: &Path, to: &Path) {
    let new = std::fs::read(from).unwrap_or_default();
    if std::fs::read(to).ok().as_deref() == Some(&new[..]) {
        return; // keep the mtime: nothing to rebuild downstream
    }
    if let Some(dir) = to.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(to, &new) {
        println!("cargo:warning=cannot write {}: {e}", to.display());
    }
}
