//! The crate's modules form no circle (issue 10): a module never uses one
//! that uses it back, directly or through others. Read from the sources,
//! as `use crate::x` and `crate::x::` paths; a module and its own
//! submodules (`session` and `session/*.rs`) count as one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module name -> the modules it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .expect("a name")
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a source file");
        let uses = graph.entry(top.clone()).or_default();
        for (i, _) in text.match_indices("crate::") {
            let name: String = text[i + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let is_module = name.chars().next().is_some_and(|c| c.is_ascii_lowercase());
            if is_module && name != top {
                uses.insert(name);
            }
        }
        // `use crate::{a, b::C}` lists.
        for (i, _) in text.match_indices("use crate::{") {
            let list = &text[i + "use crate::{".len()..];
            let list = &list[..list.find('}').unwrap_or(0)];
            for item in list.split(',') {
                let name = item.trim().split("::").next().unwrap_or_default();
                if !name.is_empty() && name != top {
                    uses.insert(name.to_owned());
                }
            }
        }
    }
    graph
}

#[test]
fn no_module_uses_one_that_uses_it_back() {
    let graph = graph();
    assert!(graph.contains_key("session") && graph.contains_key("server"));
    // Depth-first search for a cycle from every module.
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        module: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == module) {
            let mut cycle = path[start..].to_vec();
            cycle.push(module.to_owned());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        let cycle = visit(&graph, module, &mut Vec::new(), &mut done);
        assert_eq!(cycle, None, "modules in a circle: {cycle:?}");
    }
}
