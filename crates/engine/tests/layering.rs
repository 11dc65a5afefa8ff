//! The engine's layering rule (ARCHITECTURE.md, "Layering"), checked from the source: every
//! module belongs to one layer of [`LAYERS`], and its code names only modules of its own layer
//! or below, with no cycle among them. Test code (`#[cfg(test)]`) is exempt, as a crate's
//! dev-dependencies are: a policy's unit tests may build a whole `SimConfig`.
//!
//! Imports are read with `syn` from `src/lib.rs` down through every `mod` declaration: `use`
//! trees, paths in code and types, and `crate::` paths inside macro calls, resolving `crate::`,
//! `super::` and `self::`. A violation fails with the file, the line and the path.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use syn::spanned::Spanned;
use syn::visit::{self, Visit};

/// The engine's modules by layer, bottom first. An entry is a top-level module, or a
/// sub-module listed on its own (`scheduler::global`), which then counts apart from its parent;
/// a file belongs to the longest entry its module path starts with.
const LAYERS: &[(&str, &[&str])] = &[
    // Vocabulary: time, randomness, requests, statistics, catalogues, trace files, input files
    // and the flag vocabulary. Knows no policy.
    (
        "vocabulary",
        &[
            "time", "limits", "rng", "stats", "decimal", "request", "catalog", "trace", "inputs", "config",
            "slo",
        ],
    ),
    // Models and policies: each family's trait, impls and table, and the models they share.
    (
        "models and policies",
        &[
            "memory",
            "kv",
            "batch",
            "exec",
            "hf_config",
            "custom_device",
            "disagg",
            "scheduler",
            "scheduler::global",
            "scheduler::replica",
            "serving_engine",
            "workload",
        ],
    ),
    // The composition root: the one flag table, and a Config read into a SimConfig.
    ("composition", &["flag_table", "sim_config"]),
    // The simulation: events, the loop, metrics and the report.
    ("simulation", &["event", "sim", "metrics", "report"]),
    // Planning: searches that compose configurations and run many simulations.
    ("planning", &["search"]),
];

/// A module path inside the crate, e.g. `["scheduler", "global", "sticky"]`.
type ModPath = Vec<String>;

/// One path a module's code names, and where.
#[derive(Clone, Debug)]
struct Reference {
    file: PathBuf,
    line: usize,
    /// Resolved from the crate root.
    target: ModPath,
}

#[derive(Debug, PartialEq)]
enum Violation {
    /// A module no entry of [`LAYERS`] covers.
    Unlayered { module: String },
    /// `crate::Item` names a re-export of the crate root, hiding the layer it comes from.
    RootReexport { at: String, path: String },
    /// A module names one of a higher layer.
    Upward { at: String, from: String, from_layer: &'static str, to: String, to_layer: &'static str },
    /// Modules of one layer name each other in a circle.
    Cycle { modules: Vec<String> },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Unlayered { module } => {
                write!(f, "module `{module}` is in no layer: add it to LAYERS (and to ARCHITECTURE.md)")
            }
            Violation::RootReexport { at, path } => write!(
                f,
                "{at}: `{path}` names a re-export of the crate root; import it from its module so the layer shows"
            ),
            Violation::Upward { at, from, from_layer, to, to_layer } => {
                write!(f, "{at}: `{from}` ({from_layer}) imports `{to}` ({to_layer}), a higher layer")
            }
            Violation::Cycle { modules } => write!(f, "import cycle: {}", modules.join(" → ")),
        }
    }
}

/// The entry of [`LAYERS`] a module path belongs to, with its layer's index.
fn unit_of(path: &[String]) -> Option<(&'static str, usize)> {
    let mut best: Option<(&'static str, usize, usize)> = None;
    for (layer, (_, entries)) in LAYERS.iter().enumerate() {
        for entry in *entries {
            let segments: Vec<&str> = entry.split("::").collect();
            let matches = segments.len() <= path.len() && segments.iter().zip(path).all(|(a, b)| *a == b);
            if matches && best.is_none_or(|(_, _, len)| segments.len() > len) {
                best = Some((entry, layer, segments.len()));
            }
        }
    }
    best.map(|(entry, layer, _)| (entry, layer))
}

/// Whether one unit contains the other (`scheduler` and `scheduler::global`): a parent module
/// and its own children may name each other.
fn nested(a: &str, b: &str) -> bool {
    let inside =
        |inner: &str, outer: &str| inner.strip_prefix(outer).is_some_and(|rest| rest.starts_with("::"));
    inside(a, b) || inside(b, a)
}

/// Checks references grouped by the module (path) whose code makes them; `modules` are the
/// crate's top-level module names.
fn check(modules: &BTreeSet<String>, references: &[(ModPath, Reference)]) -> Vec<Violation> {
    let mut violations = Vec::new();
    for module in modules {
        if unit_of(std::slice::from_ref(module)).is_none() {
            violations.push(Violation::Unlayered { module: module.clone() });
        }
    }
    let mut graph: BTreeMap<&'static str, BTreeMap<&'static str, String>> = BTreeMap::new();
    for (from_path, reference) in references {
        let at = format!("{}:{}", reference.file.display(), reference.line);
        let Some(first) = reference.target.first() else { continue };
        if !modules.contains(first) {
            violations.push(Violation::RootReexport {
                at,
                path: format!("crate::{}", reference.target.join("::")),
            });
            continue;
        }
        let (Some((from, from_layer)), Some((to, to_layer))) =
            (unit_of(from_path), unit_of(&reference.target))
        else {
            continue; // reported as unlayered
        };
        if from == to || nested(from, to) {
            continue;
        }
        if to_layer > from_layer {
            violations.push(Violation::Upward {
                at: at.clone(),
                from: from.to_string(),
                from_layer: LAYERS[from_layer].0,
                to: to.to_string(),
                to_layer: LAYERS[to_layer].0,
            });
        }
        graph.entry(from).or_default().entry(to).or_insert(at);
    }
    violations.extend(cycles(&graph));
    violations
}

/// One cycle through each strongly connected group of `graph`, if any.
fn cycles(graph: &BTreeMap<&'static str, BTreeMap<&'static str, String>>) -> Vec<Violation> {
    // Depth-first search; a grey node met again closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Grey,
        Black,
    }
    fn visit(
        node: &'static str,
        graph: &BTreeMap<&'static str, BTreeMap<&'static str, String>>,
        marks: &mut BTreeMap<&'static str, Mark>,
        stack: &mut Vec<&'static str>,
        found: &mut Vec<Violation>,
    ) {
        marks.insert(node, Mark::Grey);
        stack.push(node);
        for next in graph.get(node).into_iter().flat_map(|edges| edges.keys()) {
            match marks.get(next) {
                Some(Mark::Grey) => {
                    let start = stack.iter().position(|n| n == next).expect("grey nodes are on the stack");
                    let mut modules: Vec<String> = stack[start..].iter().map(|n| n.to_string()).collect();
                    modules.push(next.to_string());
                    found.push(Violation::Cycle { modules });
                }
                Some(Mark::Black) => {}
                None => visit(next, graph, marks, stack, found),
            }
        }
        stack.pop();
        marks.insert(node, Mark::Black);
    }
    let mut marks = BTreeMap::new();
    let mut found = Vec::new();
    for node in graph.keys() {
        if !marks.contains_key(node) {
            visit(node, graph, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

/// Whether `attrs` hold `#[cfg(test)]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test"))
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item;
    match item {
        Item::Const(i) => &i.attrs,
        Item::Enum(i) => &i.attrs,
        Item::ExternCrate(i) => &i.attrs,
        Item::Fn(i) => &i.attrs,
        Item::ForeignMod(i) => &i.attrs,
        Item::Impl(i) => &i.attrs,
        Item::Macro(i) => &i.attrs,
        Item::Mod(i) => &i.attrs,
        Item::Static(i) => &i.attrs,
        Item::Struct(i) => &i.attrs,
        Item::Trait(i) => &i.attrs,
        Item::TraitAlias(i) => &i.attrs,
        Item::Type(i) => &i.attrs,
        Item::Union(i) => &i.attrs,
        Item::Use(i) => &i.attrs,
        _ => &[],
    }
}

/// Collects the references of one file's non-test code, and the files of its `mod x;`
/// declarations.
struct Collector<'a> {
    file: &'a Path,
    /// The module the code being read belongs to (the file's, plus inline `mod` blocks).
    module: ModPath,
    references: Vec<(ModPath, Reference)>,
    /// `mod x;` declarations: the child module's path.
    children: Vec<ModPath>,
}

impl Collector<'_> {
    /// Records `segments` (as written) at `line` if they start at `crate`, `super` or `self`.
    fn record(&mut self, segments: &[String], line: usize) {
        let mut target = match segments.first().map(String::as_str) {
            Some("crate") => Vec::new(),
            Some("self") => self.module.clone(),
            Some("super") => self.module.clone(),
            _ => return,
        };
        let mut rest = &segments[1..];
        if segments[0] == "super" {
            target.pop();
            while rest.first().is_some_and(|s| s == "super") {
                target.pop();
                rest = &rest[1..];
            }
        }
        target.extend(rest.iter().cloned());
        let reference = Reference { file: self.file.to_path_buf(), line, target };
        self.references.push((self.module.clone(), reference));
    }

    /// Every path a `use` tree names, each as its segments.
    fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                Self::use_paths(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) => out.push([prefix.as_slice(), &[n.ident.to_string()]].concat()),
            syn::UseTree::Rename(r) => out.push([prefix.as_slice(), &[r.ident.to_string()]].concat()),
            syn::UseTree::Glob(_) => out.push(prefix.clone()),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    Self::use_paths(tree, prefix, out);
                }
            }
        }
    }

    /// `crate::a::b` sequences in a macro call's tokens (format arguments, `vec!`, ...).
    fn macro_paths(&mut self, tokens: proc_macro2::TokenStream) {
        use proc_macro2::TokenTree;
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(g) => self.macro_paths(g.stream()),
                TokenTree::Ident(id) if id == "crate" => {
                    let mut segments = vec!["crate".to_string()];
                    let mut j = i + 1;
                    while let (
                        Some(TokenTree::Punct(a)),
                        Some(TokenTree::Punct(b)),
                        Some(TokenTree::Ident(next)),
                    ) = (tokens.get(j), tokens.get(j + 1), tokens.get(j + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        segments.push(next.to_string());
                        j += 3;
                    }
                    if segments.len() > 1 {
                        self.record(&segments, id.span().start().line);
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        if !is_test(item_attrs(item)) {
            visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast syn::ImplItem) {
        let attrs = match item {
            syn::ImplItem::Const(i) => &i.attrs,
            syn::ImplItem::Fn(i) => &i.attrs,
            syn::ImplItem::Type(i) => &i.attrs,
            syn::ImplItem::Macro(i) => &i.attrs,
            _ => return visit::visit_impl_item(self, item),
        };
        if !is_test(attrs) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let name = item.ident.to_string();
        match &item.content {
            Some((_, items)) => {
                self.module.push(name);
                for it in items {
                    self.visit_item(it);
                }
                self.module.pop();
            }
            None => self.children.push([self.module.as_slice(), &[name]].concat()),
        }
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        Self::use_paths(&item.tree, &mut Vec::new(), &mut paths);
        let line = item.span().start().line;
        for path in paths {
            self.record(&path, line);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.record(&segments, path.span().start().line);
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.macro_paths(mac.tokens.clone());
        visit::visit_macro(self, mac);
    }

    fn visit_vis_restricted(&mut self, _: &'ast syn::VisRestricted) {
        // `pub(in crate::x)` limits visibility; it imports nothing.
    }
}

/// The file that holds module `path` under `src`.
fn module_file(src: &Path, path: &[String]) -> PathBuf {
    let dir: PathBuf = path.iter().collect();
    let flat = src.join(&dir).with_extension("rs");
    if flat.is_file() { flat } else { src.join(dir).join("mod.rs") }
}

/// Reads the crate from `src/lib.rs`: its top-level module names and every reference its
/// non-test code makes, by the module making it.
fn read_crate(src: &Path) -> (BTreeSet<String>, Vec<(ModPath, Reference)>) {
    let parse = |file: &Path| -> syn::File {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    };
    let lib = parse(&src.join("lib.rs"));
    let mut modules = BTreeSet::new();
    let mut pending = Vec::new();
    for item in &lib.items {
        if let syn::Item::Mod(m) = item
            && !is_test(&m.attrs)
        {
            modules.insert(m.ident.to_string());
            pending.push(vec![m.ident.to_string()]);
        }
    }
    let mut references = Vec::new();
    while let Some(module) = pending.pop() {
        let file = module_file(src, &module);
        let shown = file.strip_prefix(src.parent().unwrap_or(src)).unwrap_or(&file).to_path_buf();
        let mut collector =
            Collector { file: &shown, module: module.clone(), references: Vec::new(), children: Vec::new() };
        collector.visit_file(&parse(&file));
        references.extend(collector.references);
        pending.extend(collector.children);
    }
    (modules, references)
}

/// The check on source text given as `(module path, text)` pairs, for the tests of the checker.
fn check_sources(sources: &[(&str, &str)]) -> Vec<Violation> {
    let modules: BTreeSet<String> = LAYERS
        .iter()
        .flat_map(|(_, entries)| entries.iter().map(|e| e.split("::").next().unwrap_or(e).to_string()))
        .collect();
    let mut references = Vec::new();
    for (module, text) in sources {
        let path: ModPath = module.split("::").map(String::from).collect();
        let file = PathBuf::from(format!("{}.rs", module.replace("::", "/")));
        let mut collector =
            Collector { file: &file, module: path, references: Vec::new(), children: Vec::new() };
        collector.visit_file(&syn::parse_file(text).expect("test source parses"));
        references.extend(collector.references);
    }
    check(&modules, &references)
}

#[test]
fn the_engine_imports_only_downward_and_without_cycles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (modules, references) = read_crate(&src);
    assert!(modules.len() >= 20 && references.len() > 100, "the crate was read: {modules:?}");
    let violations = check(&modules, &references);
    let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        violations.is_empty(),
        "the layering rule is broken (ARCHITECTURE.md, Layering):\n{}",
        listed.join("\n")
    );
}

#[test]
fn every_layer_entry_is_a_module_of_the_crate() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (_, entries) in LAYERS {
        for entry in *entries {
            let path: ModPath = entry.split("::").map(String::from).collect();
            let file = module_file(&src, &path);
            assert!(file.is_file(), "LAYERS names `{entry}`, but {} does not exist", file.display());
        }
    }
}

#[test]
fn an_upward_import_is_caught_with_its_place() {
    let violations = check_sources(&[
        ("catalog", "use crate::sim::Simulation;\npub fn f() {}\n"),
        ("sim", "use crate::catalog::f;\n"),
    ]);
    assert_eq!(
        violations[0],
        Violation::Upward {
            at: "catalog.rs:1".into(),
            from: "catalog".into(),
            from_layer: "vocabulary",
            to: "sim".into(),
            to_layer: "simulation",
        }
    );
    // So is every other way of naming a module: a path in code, `super::`, a macro's tokens,
    // a grouped `use`; test code is exempt.
    let violations = check_sources(&[
        ("config::params", "fn f() { let _ = crate::flag_table::all_flags(); }"),
        ("trace::vidur", "use super::super::sim_config::SimConfig;"),
        ("request", "fn f() -> String { format!(\"{}\", crate::report::X) }"),
        ("time", "use crate::{rng::A, memory::B};"),
        ("kv", "#[cfg(test)]\nmod tests { use crate::sim::Simulation; }"),
        ("flag_table", "use crate::Config;"),
    ]);
    let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        [
            "config/params.rs:1: `config` (vocabulary) imports `flag_table` (composition), a higher layer",
            "trace/vidur.rs:1: `trace` (vocabulary) imports `sim_config` (composition), a higher layer",
            "request.rs:1: `request` (vocabulary) imports `report` (simulation), a higher layer",
            "time.rs:1: `time` (vocabulary) imports `memory` (models and policies), a higher layer",
            "flag_table.rs:1: `crate::Config` names a re-export of the crate root; import it from its module so the layer shows",
        ]
    );
}

#[test]
fn a_cycle_within_a_layer_is_caught() {
    let violations = check_sources(&[
        ("kv", "use crate::batch::Batch;"),
        ("batch", "use crate::exec::Op;"),
        ("exec", "use crate::kv::Pool;"),
        ("memory", "use crate::kv::Pool;"),
    ]);
    let listed: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert_eq!(listed, ["import cycle: batch → exec → kv → batch"]);
}
