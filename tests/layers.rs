//! The layers of `src/ecs` import only downward, and no module imports
//! another that imports it back (issue 17): `model` < `policy` < `rules` <
//! `map` < `stream` < the public front (`mod.rs`, `reference.rs`). Read from
//! the source, comments and test modules left out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: &[&str] = &["model", "policy", "rules", "map", "stream"];

fn layer(module: &str) -> usize {
    let top = module.split("::").next().unwrap_or_default();
    LAYERS
        .iter()
        .position(|l| *l == top)
        .unwrap_or(LAYERS.len())
}

/// `model::value`, `policy::routing`, ... or a top-level module.
fn unit(path: &str) -> String {
    let parts: Vec<&str> = path.split("::").collect();
    if parts.len() > 1 && LAYERS[..4].contains(&parts[0]) {
        format!("{}::{}", parts[0], parts[1])
    } else {
        parts[0].to_owned()
    }
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// What each module names of the others in its code.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ecs");
    let mut all = Vec::new();
    files(&root, &mut all);
    let mut graph = BTreeMap::new();
    for file in all {
        let rel = file.strip_prefix(&root).unwrap().with_extension("");
        let module = rel.to_string_lossy().replace("/mod", "").replace('/', "::");
        let module = if module == "mod" {
            "front".to_owned()
        } else {
            module
        };
        let source = std::fs::read_to_string(&file).unwrap();
        let code: String = (source.split("#[cfg(test)]").next().unwrap().lines())
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let parent = module.rsplit_once("::").map(|(p, _)| p.to_owned());
        let mut named = BTreeSet::new();
        for (marker, base) in [("crate::ecs::", None), ("super::", parent.as_deref())] {
            for (at, _) in code.match_indices(marker) {
                let rest = &code[at + marker.len()..];
                let path: String = (rest.chars())
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_' || *c == ':')
                    .collect();
                let path = path.trim_end_matches(':');
                if path.is_empty() {
                    continue;
                }
                let full = match base {
                    Some(b) => format!("{b}::{path}"),
                    None => path.to_owned(),
                };
                named.insert(unit(&full));
            }
        }
        named.remove(&unit(&module));
        graph.insert(unit(&module), named);
    }
    graph
}

#[test]
fn ecs_layers_import_only_downward_and_without_circles() {
    let graph = imports();
    assert!(
        graph.contains_key("stream") && graph.contains_key("map::span"),
        "{graph:?}"
    );
    for (module, named) in &graph {
        for other in named {
            assert!(
                layer(other) <= layer(module) || module == "front" || module == "reference",
                "{module} imports {other}, a layer above it"
            );
        }
    }
    // No circle: a depth-first walk never meets a module on its own path.
    fn walk(graph: &BTreeMap<String, BTreeSet<String>>, at: &str, path: &mut Vec<String>) {
        assert!(
            !path.iter().any(|p| p == at),
            "import circle: {path:?} -> {at}"
        );
        path.push(at.to_owned());
        for next in graph.get(at).into_iter().flatten() {
            walk(graph, next, path);
        }
        path.pop();
    }
    for module in graph.keys() {
        walk(&graph, module, &mut Vec::new());
    }
}
