//! Micro-benchmarks (`cargo bench -p oneinit-actors`): loading a config of
//! 1,000 services, and dependency resolution of 1,000 vs 10,000 services
//! with random DAG edges (must stay sub-quadratic).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use oneinit_actors::config_loader;
use oneinit_actors::model::config::{ServiceConfig, Services};
use oneinit_actors::model::graph::DepGraph;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

/// `n` services, each `after` up to 3 random earlier ones (acyclic).
fn random_dag(n: usize) -> Services {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut services = BTreeMap::new();
    for i in 0..n {
        let mut s = ServiceConfig::default();
        for k in 0..3 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if i > 0 {
                let j = (seed >> 33) as usize % i;
                let name = format!("s{j:05}");
                match k {
                    0 => s.requires.push(name),
                    1 => s.wants.push(name),
                    _ => s.after.push(name),
                }
            }
        }
        services.insert(format!("s{i:05}"), Arc::new(s));
    }
    services
}

fn resolution(c: &mut Criterion) {
    let mut group = c.benchmark_group("dependency_resolution");
    for n in [1_000usize, 10_000] {
        let services = random_dag(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &services, |b, s| {
            b.iter(|| {
                let g = DepGraph::build(black_box(s));
                assert!(g.find_cycle().is_none());
                black_box(g.shutdown_layers());
                black_box(g.requiring_closure("s00000"));
            })
        });
    }
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("oneinit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("big.yaml");
    let mut yaml = String::from("services:\n");
    for i in 0..1000 {
        yaml.push_str(&format!(
            "  svc{i}:\n    command: [\"/usr/bin/sleep\", \"{i}\"]\n    restart: {{policy: always, delay: 250ms}}\n    environment: {{INDEX: \"{i}\"}}\n{}",
            if i > 0 { format!("    after: [svc{}]\n", i - 1) } else { String::new() }
        ));
    }
    std::fs::write(&path, yaml).expect("write config");
    let sources = vec![path.to_string_lossy().into_owned()];
    // Timers as in oneinit's runtime: a local file's read has a timeout.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    c.bench_function("load_1000_services_yaml", |b| {
        b.iter(|| {
            let loaded = rt
                .block_on(config_loader::load(black_box(&sources)))
                .expect("valid");
            assert_eq!(loaded.config.services.len(), 1000);
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, resolution, parsing);
criterion_main!(benches);
