//! ocb's strict versioning wants the builder, the manifest's collector
//! components and go-shim/go.mod on one collector release: this test fails
//! when one of them is bumped alone (STYLE 3, "Collector API churn").
#![allow(clippy::unwrap_used)]

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn builder_manifest_and_go_mod_share_one_collector_release() {
    let makefile = read("Makefile");
    let ocb = makefile
        .lines()
        .find_map(|l| l.strip_prefix("OCB_VERSION"))
        .and_then(|l| l.split(":=").nth(1))
        .map(|v| format!("v{}", v.trim()))
        .unwrap();
    let manifest = read("collector-config/builder-config.yaml");
    let core: Vec<&str> = manifest
        .lines()
        .filter(|l| l.contains("gomod: go.opentelemetry.io/collector/"))
        .collect();
    assert!(core.len() >= 4, "{core:?}");
    for line in &core {
        assert!(line.trim_end().ends_with(&ocb), "{line} is not on {ocb}");
    }
    let go_mod = read("go-shim/go.mod");
    let helper = go_mod
        .lines()
        .find(|l| l.contains("go.opentelemetry.io/collector/processor/processorhelper "))
        .unwrap();
    assert!(
        helper.trim_end().ends_with(&ocb),
        "go-shim/go.mod: {helper} is not on {ocb}"
    );
    // The v1 modules of that release (component, processor, pdata, ...) share one version.
    let v1: std::collections::BTreeSet<&str> = go_mod
        .lines()
        .filter(|l| {
            [
                "collector/component ",
                "collector/processor ",
                "collector/pdata ",
                "collector/consumer ",
            ]
            .iter()
            .any(|m| l.contains(m))
        })
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(
        v1.len(),
        1,
        "go-shim/go.mod mixes v1 collector versions: {v1:?}"
    );
}
