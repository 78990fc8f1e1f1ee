//! Tests for the dependency graph: edges, unknown names, cycles, closures, shutdown layers and a large random DAG.

use super::*;
use crate::model::config::{ServiceConfig, Services};
use std::collections::BTreeMap;

fn svc(requires: &[&str], wants: &[&str], after: &[&str], before: &[&str]) -> ServiceConfig {
    let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
    ServiceConfig {
        requires: v(requires),
        wants: v(wants),
        after: v(after),
        before: v(before),
        ..ServiceConfig::default()
    }
}

fn table(entries: Vec<(&str, ServiceConfig)>) -> Services {
    entries
        .into_iter()
        .map(|(n, s)| (n.to_string(), std::sync::Arc::new(s)))
        .collect()
}

#[test]
fn edges_and_before_normalised() {
    let g = DepGraph::build(&table(vec![
        ("web", svc(&["db"], &["cache"], &[], &[])),
        ("db", svc(&[], &[], &[], &["web"])),
        ("cache", svc(&[], &[], &[], &[])),
    ]));
    let mut p = g.prerequisites("web");
    p.sort();
    assert_eq!(
        p,
        vec![("cache", EdgeKind::Wants), ("db", EdgeKind::Requires)]
    );
    assert!(g.find_cycle().is_none());
    assert!(g.unknown_deps().is_empty());
}

#[test]
fn edges_point_from_the_declaring_service_for_every_kind() {
    let g = DepGraph::build(&table(vec![
        ("a", svc(&[], &[], &[], &[])),
        ("e", svc(&[], &[], &[], &["a"])),
        ("w", svc(&["a"], &["e"], &["e", "a"], &[])),
    ]));
    let shown: Vec<(String, String, String)> = g
        .edges()
        .into_iter()
        .map(|e| (e.from, e.to, e.kind))
        .collect();
    let t = |f: &str, to: &str, k: &str| (f.to_string(), to.to_string(), k.to_string());
    assert_eq!(
        shown,
        vec![
            t("e", "a", "before"),
            // `after: [a]` beside `requires: [a]`: the stronger one shows.
            t("w", "a", "requires"),
            t("w", "e", "wants"),
        ]
    );
    // For ordering, `e before a` still means a waits for e.
    assert_eq!(g.prerequisites("a"), vec![("e", EdgeKind::After)]);
}

#[test]
fn unknown_and_cycle() {
    let g = DepGraph::build(&table(vec![
        ("a", svc(&["b"], &[], &[], &[])),
        ("b", svc(&[], &[], &["c"], &[])),
        ("c", svc(&["a", "ghost"], &[], &[], &[])),
    ]));
    assert_eq!(g.unknown_deps().len(), 1);
    assert_eq!(g.unknown_deps()[0].missing, "ghost");
    let cycle = g.find_cycle().unwrap();
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
}

#[test]
fn requiring_closure_dependents_first() {
    let g = DepGraph::build(&table(vec![
        ("db", svc(&[], &[], &[], &[])),
        ("api", svc(&["db"], &[], &[], &[])),
        ("web", svc(&["api"], &[], &[], &[])),
        ("cron", svc(&[], &["db"], &[], &[])),
    ]));
    assert_eq!(g.requiring_closure("db"), vec!["web", "api"]);
    assert!(g.requiring_closure("web").is_empty());
}

#[test]
fn shutdown_layers_reverse_dependency_order() {
    let g = DepGraph::build(&table(vec![
        ("db", svc(&[], &[], &[], &[])),
        ("api", svc(&["db"], &[], &[], &[])),
        ("web", svc(&["api"], &[], &[], &[])),
        ("other", svc(&[], &[], &[], &[])),
    ]));
    assert_eq!(
        g.shutdown_layers(),
        vec![
            vec!["other".to_string(), "web".into()],
            vec!["api".into()],
            vec!["db".into()]
        ]
    );
}

#[test]
fn large_random_dag_is_fast() {
    // 10,000 services, each depending on up to 3 earlier ones: acyclic.
    let mut services = BTreeMap::new();
    let mut seed: u64 = 42;
    for i in 0..10_000u32 {
        let mut s = ServiceConfig::default();
        for _ in 0..3 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i > 0 {
                let j = (seed >> 33) as u32 % i;
                s.after.push(format!("s{j:05}"));
            }
        }
        services.insert(format!("s{i:05}"), std::sync::Arc::new(s));
    }
    let g = DepGraph::build(&services);
    assert!(g.find_cycle().is_none());
    let total: usize = g.shutdown_layers().iter().map(Vec::len).sum();
    assert_eq!(total, 10_000);
}
