//! Loader tests for includes, merge rules across files, repeated
//! `--config` and the shipped `config-examples/` (the ConfigLoader actor:
//! `actor.rs`).

#![allow(clippy::cloned_ref_to_slice_refs)] // `&[path.clone()]` reads best in tests

use super::tests::{load_err, load_ok, Dir};
use std::path::{Path, PathBuf};

#[actix_rt::test]
async fn includes_globs_relative_paths_and_nesting() {
    let d = Dir::new();
    let top = d.write(
        "etc/main.yaml",
        "include: [conf.d/*.yaml, extra/more.toml, none.d/*.yaml]\nservices:\n  main: {command: m}\n",
    );
    d.write("etc/conf.d/b.yaml", "services:\n  b: {command: b}\n");
    d.write("etc/conf.d/a.yaml", "services:\n  a: {command: a}\n");
    d.write(
        "etc/extra/more.toml",
        "include = [\"../deep/x.json\"]\n[services.t]\ncommand = \"t\"\n",
    );
    d.write(
        "etc/deep/x.json",
        "{\"services\": {\"x\": {\"command\": \"x\"}}}",
    );
    let loaded = load_ok(&[top.clone()]).await;
    let names: Vec<&String> = loaded.config.services.keys().collect();
    assert_eq!(names, ["a", "b", "main", "t", "x"]);
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].ends_with("include \"none.d/*.yaml\" matched no files"));
    let read: Vec<String> = loaded
        .sources
        .iter()
        .map(|s| {
            Path::new(s)
                .strip_prefix(d.0.path())
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        read,
        [
            "etc/main.yaml",
            "etc/conf.d/a.yaml",
            "etc/conf.d/b.yaml",
            "etc/extra/more.toml",
            "etc/deep/x.json"
        ]
    );
}

#[actix_rt::test]
async fn include_cycle_prints_the_whole_cycle() {
    let d = Dir::new();
    let a = d.write("a.yaml", "include: [b.yaml]\n");
    d.write("b.yaml", "include: [c.yaml]\n");
    d.write("c.yaml", "include: [a.yaml]\n");
    let base = d.0.path().display().to_string();
    let e = load_err(&[a]).await;
    assert_eq!(
        e,
        vec![format!(
            "{base}/c.yaml:1:11: include cycle: a.yaml -> b.yaml -> c.yaml -> a.yaml"
        )]
    );
}

#[actix_rt::test]
async fn include_depth_is_limited_to_16() {
    let d = Dir::new();
    // f0 includes f1 ... : f16 is at depth 16 (fine), f17 at depth 17 (error).
    for i in 0..16 {
        d.write(
            &format!("f{i}.yaml"),
            &format!("include: [f{}.yaml]\n", i + 1),
        );
    }
    d.write("f16.yaml", "services:\n  deep: {command: x}\n");
    let top = d.0.path().join("f0.yaml").display().to_string();
    assert!(load_ok(&[top.clone()])
        .await
        .config
        .services
        .contains_key("deep"));
    d.write("f16.yaml", "include: [f17.yaml]\n");
    d.write("f17.yaml", "services: {}\n");
    let e = load_err(&[top]).await;
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("f16.yaml:1:11: f0.yaml -> f1.yaml -> ")
            && e[0].contains("f16.yaml -> f17.yaml: include depth limit exceeded")
            && e[0].contains("depth 17"),
        "{e:?}"
    );
}

#[actix_rt::test]
async fn duplicate_service_across_files_and_override() {
    let d = Dir::new();
    let top = d.write("top.yaml", "include: [a.yaml, b.yaml]\n");
    let a = d.write("a.yaml", "services:\n  web: {command: a, instances: 3}\n");
    let b = d.write("b.yaml", "services:\n  web: {command: b}\n");
    let e = load_err(&[top.clone()]).await;
    assert_eq!(
        e,
        vec![format!(
            "{b}:2:3: service \"web\" is already defined at {a}:2:3; rename one of them, or add \
             \"override: true\" to this definition to replace the earlier one"
        )]
    );
    d.write("b.yaml", "services:\n  web: {command: b, override: true}\n");
    let web = &load_ok(&[top]).await.config.services["web"];
    // Replaced whole: `instances` from a.yaml is gone.
    assert_eq!(web.instances, 1);
    assert_eq!(web.command, crate::model::config::Command::Line("b".into()));
}

#[actix_rt::test]
async fn merge_precedence_and_repeated_config() {
    let d = Dir::new();
    let top = d.write(
        "top.yaml",
        "include: [one.yaml, two.yaml]\nshutdown: {timeout: 5s}\n",
    );
    d.write(
        "one.yaml",
        "shutdown: {timeout: 1s, sweep_grace: 7s}\nlogging: {level: debug}\napi: {ui: false}\n",
    );
    d.write("two.yaml", "logging: {level: warn}\n");
    let later = d.write(
        "later.yaml",
        "api: {ui: true, insecure: true}\nlogging: {level: error}\n",
    );
    let c = load_ok(&[top.clone()]).await.config;
    assert_eq!(c.shutdown.timeout.get().as_secs(), 5); // including file wins
    assert_eq!(c.shutdown.sweep_grace.get().as_secs(), 7); // key-by-key merge
    assert_eq!(c.logging.level, Some(crate::model::config::LogLevel::Warn)); // later entry wins
                                                                             // A second --config acts as if appended to the first file's include list.
    let loaded = load_ok(&[top, later.clone()]).await;
    assert_eq!(
        loaded.config.logging.level,
        Some(crate::model::config::LogLevel::Error)
    );
    assert!(loaded.config.api.ui && loaded.config.api.insecure);
    assert_eq!(loaded.sources.last(), Some(&later));
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config-examples")
}

#[actix_rt::test]
async fn every_example_is_valid() {
    let mut checked = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("config-examples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "toml" | "json")
            )
        })
        .collect();
    entries.sort();
    for path in entries {
        load_ok(&[path.display().to_string()]).await;
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} examples found");
}

#[actix_rt::test]
async fn web_worker_example_is_the_same_in_three_formats() {
    let dir = examples_dir();
    let load_one = |name: &str| dir.join(name).display().to_string();
    let y = load_ok(&[load_one("web-worker.yaml")]).await.config;
    let t = load_ok(&[load_one("web-worker.toml")]).await.config;
    let j = load_ok(&[load_one("web-worker.json")]).await.config;
    assert_eq!(y, t);
    assert_eq!(y, j);
    assert!(y.services.len() >= 3);
}

#[actix_rt::test]
async fn unreadable_include_does_not_cause_follow_up_errors() {
    let d = Dir::new();
    let top = d.write(
        "top.yaml",
        "include: [db.yaml]\nservices:\n  web: {command: w, requires: [db], comand: x}\n",
    );
    d.write("db.yaml", "services:\n  db: {command: [unclosed\n");
    let e = load_err(&[top.clone()]).await;
    assert_eq!(e.len(), 2, "{e:?}");
    // Sorted by file in reading order (the top file first), then by line.
    assert!(e[1].contains("db.yaml:3:1: YAML syntax error"), "{e:?}");
    assert!(
        e[0].starts_with(&format!("{top}:3:37: unknown key \"comand\"")),
        "{e:?}"
    );
}

#[actix_rt::test]
async fn diamond_include_is_read_once() {
    let d = Dir::new();
    let top = d.write("top.yaml", "include: [b.yaml, c.yaml]\n");
    d.write(
        "b.yaml",
        "include: [common.yaml]\nservices:\n  b: {command: b}\n",
    );
    d.write(
        "c.yaml",
        "include: [common.yaml]\nservices:\n  c: {command: c}\n",
    );
    d.write("common.yaml", "services:\n  common: {command: x}\n");
    let loaded = load_ok(&[top]).await;
    assert_eq!(loaded.config.services.len(), 3);
    assert_eq!(loaded.sources.len(), 4);
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].contains("is already included; skipped"));
}

#[actix_rt::test]
async fn glob_in_a_folder_with_special_characters() {
    let d = Dir::new();
    let top = d.write("we[ir]d/top.yaml", "include: [\"conf.d/*.yaml\"]\n");
    d.write("we[ir]d/conf.d/a.yaml", "services:\n  a: {command: a}\n");
    let loaded = load_ok(&[top]).await;
    assert!(loaded.config.services.contains_key("a"));
}

#[actix_rt::test]
async fn a_cycle_below_the_top_names_how_it_was_reached() {
    let d = Dir::new();
    d.write("top.yaml", "include: [a.yaml]\n");
    d.write("a.yaml", "include: [b.yaml]\n");
    d.write("b.yaml", "include: [a.yaml]\n");
    let top = d.0.path().join("top.yaml").display().to_string();
    let e = load_err(&[top]).await;
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].ends_with(
            "b.yaml:1:11: include cycle: a.yaml -> b.yaml -> a.yaml (included from top.yaml)"
        ),
        "{e:?}"
    );
}
