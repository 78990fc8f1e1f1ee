//! onecli's terminal output: aligned tables, the dependency tree of
//! `list --tree`, and human durations. Pure functions over the API DTOs.

use oneinit_actors::model::view::{GraphView, ServiceView};
use std::collections::{BTreeMap, BTreeSet};

/// Columns padded to their widest cell, two spaces apart; no trailing blanks.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&head).chain(rows.iter()) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i].saturating_sub(cell.chars().count()) + 2;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `45s`, `3m12s`, `2h05m`, `3d04h`.
pub fn human_duration(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// The `status` table: name, type, state, health, pid, uptime, restarts.
pub fn status_table(services: &[ServiceView]) -> String {
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            let pids: Vec<String> = s
                .instances
                .iter()
                .filter_map(|i| i.pid.map(|p| p.to_string()))
                .collect();
            vec![
                s.name.clone(),
                s.kind.clone(),
                s.state.as_str().to_string(),
                serde_json::to_value(s.health)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                if pids.is_empty() {
                    "-".into()
                } else {
                    pids.join(",")
                },
                s.uptime_seconds
                    .map(human_duration)
                    .unwrap_or_else(|| "-".into()),
                s.restarts.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "NAME", "TYPE", "STATE", "HEALTH", "PID", "UPTIME", "RESTARTS",
        ],
        &rows,
    )
}

/// The dependency tree: roots are services nothing depends on; each
/// service's children are what it requires/wants/comes after (or what
/// declared `before` it). A service
/// reached twice is shown again with `(see above)` instead of its subtree.
pub fn tree(graph: &GraphView) -> String {
    let mut deps: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    let mut depended: BTreeSet<&str> = BTreeSet::new();
    for e in &graph.edges {
        // `a before: [x]` means x comes after a: a is shown under x.
        let (waits, waited_for) = if e.kind == "before" {
            (e.to.as_str(), e.from.as_str())
        } else {
            (e.from.as_str(), e.to.as_str())
        };
        deps.entry(waits)
            .or_default()
            .push((waited_for, e.kind.as_str()));
        depended.insert(waited_for);
    }
    let state: BTreeMap<&str, &str> = graph
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.state.as_str()))
        .collect();
    let mut names: Vec<&str> = graph.nodes.iter().map(|n| n.name.as_str()).collect();
    names.sort();
    let mut roots: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !depended.contains(n))
        .collect();
    if roots.is_empty() {
        // Only possible with a cycle, which the loader refuses; show all.
        roots = names.clone();
    }
    let mut out = String::new();
    let mut shown = BTreeSet::new();
    for root in roots {
        out.push_str(&format!("{root} ({})\n", state.get(root).unwrap_or(&"?")));
        shown.insert(root);
        draw(root, "", &deps, &state, &mut shown, &mut out, 0);
    }
    out
}

fn draw<'a>(
    name: &'a str,
    prefix: &str,
    deps: &BTreeMap<&'a str, Vec<(&'a str, &'a str)>>,
    state: &BTreeMap<&str, &str>,
    shown: &mut BTreeSet<&'a str>,
    out: &mut String,
    depth: usize,
) {
    let Some(children) = deps.get(name) else {
        return;
    };
    if depth > 64 {
        return;
    }
    for (i, (child, kind)) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (branch, next) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let st = state.get(child).unwrap_or(&"?");
        let again = !shown.insert(child);
        let tail = if again && deps.contains_key(child) {
            " (see above)"
        } else {
            ""
        };
        out.push_str(&format!("{prefix}{branch}{child} ({st}) [{kind}]{tail}\n"));
        if !again {
            draw(
                child,
                &format!("{prefix}{next}"),
                deps,
                state,
                shown,
                out,
                depth + 1,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oneinit_actors::model::view::{GraphEdge, GraphNode, ServiceState};

    #[test]
    fn table_aligns() {
        let t = table(
            &["A", "BB"],
            &[
                vec!["long-name".into(), "x".into()],
                vec!["s".into(), "yy".into()],
            ],
        );
        assert_eq!(t, "A          BB\nlong-name  x\ns          yy\n");
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(5.4), "5s");
        assert_eq!(human_duration(192.0), "3m12s");
        assert_eq!(human_duration(7500.0), "2h05m");
        assert_eq!(human_duration(3.0 * 86400.0 + 4.0 * 3600.0), "3d04h");
    }

    #[test]
    fn tree_draws_dependencies() {
        let node = |n: &str| GraphNode {
            name: n.into(),
            kind: "ongoing".into(),
            state: ServiceState::Ready,
        };
        let edge = |f: &str, t: &str, k: &str| GraphEdge {
            from: f.into(),
            to: t.into(),
            kind: k.into(),
        };
        let g = GraphView {
            nodes: vec![node("web"), node("db"), node("cache"), node("worker")],
            edges: vec![
                edge("web", "db", "requires"),
                edge("web", "cache", "wants"),
                edge("worker", "db", "requires"),
            ],
        };
        let t = tree(&g);
        assert_eq!(
            t,
            "web (ready)\n├── db (ready) [requires]\n└── cache (ready) [wants]\n\
             worker (ready)\n└── db (ready) [requires]\n"
        );
    }

    #[test]
    fn tree_shows_a_before_edge_under_the_later_service() {
        let node = |n: &str| GraphNode {
            name: n.into(),
            kind: "ongoing".into(),
            state: ServiceState::Ready,
        };
        let g = GraphView {
            nodes: vec![node("a"), node("e")],
            edges: vec![GraphEdge {
                from: "e".into(),
                to: "a".into(),
                kind: "before".into(),
            }],
        };
        assert_eq!(tree(&g), "a (ready)\n└── e (ready) [before]\n");
    }
}
