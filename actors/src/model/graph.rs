//! The dependency graph (SPEC 2.3 `requires`, `wants`, `after`, `before`):
//! built from the service table, checked for unknown names and cycles, and
//! asked which services gate a start and which must stop first. Pure; the
//! DependencyResolver (`dependency_resolver::decide`) reads it.
//!
//! Edges point from the service that declares the dependency to the one it
//! names. For ordering, a `before: [x]` on `a` is stored as `x after a`, so
//! every stored edge reads "from waits for to"; the graph shown to users
//! (`edges`) keeps what was declared: `{"from": "a", "to": "x", "kind":
//! "before"}` (SPEC 4).

use super::view::GraphEdge;
use std::collections::HashMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    /// Start after `to` is ready; stop when it stops or fails for good.
    Requires,
    /// Start after `to` is ready or failed; no stop propagation.
    Wants,
    /// Ordering only, when both are being started.
    After,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Requires => "requires",
            EdgeKind::Wants => "wants",
            EdgeKind::After => "after",
        }
    }
}

/// A dependency named in the config that no service defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownDep {
    pub service: String,
    pub key: &'static str,
    pub missing: String,
}

#[derive(Clone, Debug, Default)]
pub struct DepGraph {
    names: Vec<String>,
    index: HashMap<String, usize>,
    /// Per node: (node it waits for, kind).
    prereqs: Vec<Vec<(usize, EdgeKind)>>,
    /// Per node: the prerequisites that were declared on that node
    /// (`requires`/`wants`/`after`), not derived from another's `before`.
    declared: Vec<Vec<(usize, EdgeKind)>>,
    /// Per node: (node that waits for it, kind).
    dependents: Vec<Vec<(usize, EdgeKind)>>,
    /// Per declaring node: the nodes its `before` names (for `edges`).
    before: Vec<Vec<usize>>,
    unknown: Vec<UnknownDep>,
}

impl DepGraph {
    pub fn build(services: &crate::model::config::Services) -> DepGraph {
        let names: Vec<String> = services.keys().cloned().collect();
        let index: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let mut g = DepGraph {
            prereqs: vec![Vec::new(); names.len()],
            declared: vec![Vec::new(); names.len()],
            dependents: vec![Vec::new(); names.len()],
            before: vec![Vec::new(); names.len()],
            names,
            index,
            unknown: Vec::new(),
        };
        for (name, svc) in services {
            let from = g.index[name];
            let lists: [(&'static str, &Vec<String>, EdgeKind); 3] = [
                ("requires", &svc.requires, EdgeKind::Requires),
                ("wants", &svc.wants, EdgeKind::Wants),
                ("after", &svc.after, EdgeKind::After),
            ];
            for (key, list, kind) in lists {
                for dep in list {
                    match g.index.get(dep) {
                        Some(&to) => {
                            g.add_edge(from, to, kind);
                            merge_edge(&mut g.declared[from], to, kind);
                        }
                        None => g.unknown.push(UnknownDep {
                            service: name.clone(),
                            key,
                            missing: dep.clone(),
                        }),
                    }
                }
            }
            for other in &svc.before {
                match g.index.get(other) {
                    Some(&to) => {
                        g.add_edge(to, from, EdgeKind::After);
                        if !g.before[from].contains(&to) {
                            g.before[from].push(to);
                        }
                    }
                    None => g.unknown.push(UnknownDep {
                        service: name.clone(),
                        key: "before",
                        missing: other.clone(),
                    }),
                }
            }
        }
        g
    }

    fn add_edge(&mut self, from: usize, to: usize, kind: EdgeKind) {
        merge_edge(&mut self.prereqs[from], to, kind);
        if let Some(d) = self.dependents[to].iter_mut().find(|(f, _)| *f == from) {
            d.1 = d.1.min(kind);
        } else {
            self.dependents[to].push((from, kind));
        }
    }

    pub fn unknown_deps(&self) -> &[UnknownDep] {
        &self.unknown
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// One dependency cycle, as `[a, b, c, a]`, if there is any.
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        // Iterative DFS with colours: 0 white, 1 on stack, 2 done.
        let n = self.names.len();
        let mut colour = vec![0u8; n];
        let mut parent = vec![usize::MAX; n];
        for root in 0..n {
            if colour[root] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            colour[root] = 1;
            while let Some(&mut (node, ref mut next)) = stack.last_mut() {
                if let Some(&(to, _)) = self.prereqs[node].get(*next) {
                    *next += 1;
                    match colour[to] {
                        0 => {
                            colour[to] = 1;
                            parent[to] = node;
                            stack.push((to, 0));
                        }
                        1 => {
                            let mut cycle = vec![self.names[to].clone()];
                            let mut cur = node;
                            while cur != to {
                                cycle.push(self.names[cur].clone());
                                cur = parent[cur];
                            }
                            cycle.push(self.names[to].clone());
                            cycle.reverse();
                            return Some(cycle);
                        }
                        _ => {}
                    }
                } else {
                    colour[node] = 2;
                    stack.pop();
                }
            }
        }
        None
    }

    /// What `name` waits for before it starts: (service, kind).
    pub fn prerequisites(&self, name: &str) -> Vec<(&str, EdgeKind)> {
        self.index
            .get(name)
            .map(|&i| {
                self.prereqs[i]
                    .iter()
                    .map(|&(t, k)| (self.names[t].as_str(), k))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Who waits for `name`: (service, kind).
    pub fn dependents(&self, name: &str) -> Vec<(&str, EdgeKind)> {
        self.index
            .get(name)
            .map(|&i| {
                self.dependents[i]
                    .iter()
                    .map(|&(f, k)| (self.names[f].as_str(), k))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every service that transitively `requires` `name`, farthest dependents
    /// first (the order to stop them in). Does not include `name`.
    pub fn requiring_closure(&self, name: &str) -> Vec<String> {
        let Some(&start) = self.index.get(name) else {
            return Vec::new();
        };
        let mut seen = vec![false; self.names.len()];
        let mut order = Vec::new();
        // Post-order DFS over `requires` dependents: a node is emitted after
        // everything that requires it, so reversing gives dependents first.
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        seen[start] = true;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let deps = &self.dependents[node];
            if let Some(&(from, kind)) = deps.get(*next) {
                *next += 1;
                if kind == EdgeKind::Requires && !seen[from] {
                    seen[from] = true;
                    stack.push((from, 0));
                }
            } else {
                stack.pop();
                if node != start {
                    order.push(node);
                }
            }
        }
        order.into_iter().map(|i| self.names[i].clone()).collect()
    }

    /// Stop layers: the first holds services nothing waits for; each later
    /// layer only services whose dependents are all in earlier layers.
    /// Services in a cycle (rejected at load anyway) come last together.
    pub fn shutdown_layers(&self) -> Vec<Vec<String>> {
        let n = self.names.len();
        let mut remaining: Vec<usize> = self.dependents.iter().map(Vec::len).collect();
        let mut layer: Vec<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
        let mut done = vec![false; n];
        let mut layers = Vec::new();
        while !layer.is_empty() {
            let mut next = Vec::new();
            for &i in &layer {
                done[i] = true;
                for &(to, _) in &self.prereqs[i] {
                    remaining[to] -= 1;
                    if remaining[to] == 0 {
                        next.push(to);
                    }
                }
            }
            layers.push(layer.iter().map(|&i| self.names[i].clone()).collect());
            layer = next;
        }
        let rest: Vec<String> = (0..n)
            .filter(|&i| !done[i])
            .map(|i| self.names[i].clone())
            .collect();
        if !rest.is_empty() {
            layers.push(rest);
        }
        layers
    }

    /// Every edge, for `/v1/graph`.
    /// The graph as declared, for users: each edge from the service that
    /// names the other, with the key that names it (`before` included).
    pub fn edges(&self) -> Vec<GraphEdge> {
        let edge = |from: usize, to: usize, kind: &str| GraphEdge {
            from: self.names[from].clone(),
            to: self.names[to].clone(),
            kind: kind.into(),
        };
        let mut edges = Vec::new();
        for from in 0..self.names.len() {
            for &(to, kind) in &self.declared[from] {
                edges.push(edge(from, to, kind.as_str()));
            }
            for &to in &self.before[from] {
                edges.push(edge(from, to, "before"));
            }
        }
        edges
    }
}

/// Adds `to` to a list of prerequisites; the same one named twice keeps
/// the strongest kind.
fn merge_edge(list: &mut Vec<(usize, EdgeKind)>, to: usize, kind: EdgeKind) {
    match list.iter_mut().find(|(t, _)| *t == to) {
        Some(e) => e.1 = e.1.min(kind),
        None => list.push((to, kind)),
    }
}

#[cfg(test)]
mod tests;
