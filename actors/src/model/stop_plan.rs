//! The order of a stop (SPEC 9): stopping a service — on request (API,
//! onecli) or because something it requires went away — stops its
//! `requires` dependents first, in reverse dependency order, and only then
//! the service itself. Pure: the ServiceManager feeds it which services have
//! settled and performs the stops it answers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What the ServiceManager does next for one plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Services of the current step are still stopping.
    Wait,
    /// Stop these dependents now (they wait for their dependency to return).
    StopDependents(Vec<String>),
    /// Every dependent has stopped: stop the requested service now.
    StopTarget(String),
    /// Nothing is left to stop.
    Done,
}

#[derive(Clone, Debug)]
pub struct StopPlan {
    /// The service whose stop was requested; None for a dependency kill
    /// (the dependency is already down, only its dependents are stopped).
    target: Option<String>,
    /// Dependents still to stop, one layer at a time: a layer holds the
    /// services that nothing left in the plan requires.
    layers: VecDeque<Vec<String>>,
    /// The step being stopped now.
    current: Vec<String>,
    target_sent: bool,
}

impl StopPlan {
    /// `dependents`: the services to stop before `target` (the running ones
    /// among those that transitively require it); `requirers(n)`: the
    /// services that directly `require` `n`.
    pub fn new(
        target: Option<String>,
        dependents: &[String],
        requirers: impl Fn(&str) -> Vec<String>,
    ) -> StopPlan {
        let set: BTreeSet<&str> = dependents.iter().map(String::as_str).collect();
        let mut depth: BTreeMap<&str, usize> = BTreeMap::new();
        for name in &set {
            depth_of(name, &set, &requirers, &mut depth, 0);
        }
        let mut layers: Vec<Vec<String>> = Vec::new();
        for (name, d) in depth {
            if layers.len() <= d {
                layers.resize(d + 1, Vec::new());
            }
            layers[d].push(name.to_string());
        }
        StopPlan {
            target,
            layers: layers.into_iter().filter(|l| !l.is_empty()).collect(),
            current: Vec::new(),
            target_sent: false,
        }
    }

    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// A dependent this plan stops and that must not be started meanwhile.
    pub fn holds(&self, name: &str) -> bool {
        self.current
            .iter()
            .chain(self.layers.iter().flatten())
            .any(|n| n == name)
    }

    /// The next step, given which services have settled (no process left,
    /// none about to start).
    pub fn next(&mut self, settled: impl Fn(&str) -> bool) -> Next {
        if !self.current.iter().all(|n| settled(n)) {
            return Next::Wait;
        }
        if let Some(layer) = self.layers.pop_front() {
            self.current = layer.clone();
            return Next::StopDependents(layer);
        }
        self.current.clear();
        match &self.target {
            Some(t) if !self.target_sent => {
                self.target_sent = true;
                Next::StopTarget(t.clone())
            }
            _ => Next::Done,
        }
    }
}

/// 0 for a service nothing in `set` requires, else one more than the
/// deepest of its requirers in `set`. `guard` bounds the recursion (cycles
/// are refused at load; this only keeps a bad graph from looping).
fn depth_of<'a>(
    name: &'a str,
    set: &BTreeSet<&'a str>,
    requirers: &impl Fn(&str) -> Vec<String>,
    memo: &mut BTreeMap<&'a str, usize>,
    guard: usize,
) -> usize {
    if let Some(d) = memo.get(name) {
        return *d;
    }
    let mut d = 0;
    if guard <= set.len() {
        for r in requirers(name) {
            if let Some(r) = set.get(r.as_str()).copied() {
                d = d.max(1 + depth_of(r, set, requirers, memo, guard + 1));
            }
        }
    }
    memo.insert(name, d);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// worker requires web, web and api require db, cron requires nothing.
    fn requirers(n: &str) -> Vec<String> {
        match n {
            "db" => vec!["web".into(), "api".into()],
            "web" => vec!["worker".into()],
            _ => vec![],
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dependents_first_in_layers_then_the_target() {
        let mut p = StopPlan::new(
            Some("db".into()),
            &names(&["web", "api", "worker"]),
            requirers,
        );
        let none_settled = |_: &str| false;
        let all_settled = |_: &str| true;
        assert_eq!(
            p.next(all_settled),
            Next::StopDependents(names(&["api", "worker"]))
        );
        assert!(p.holds("web") && p.holds("worker") && !p.holds("db"));
        assert_eq!(p.next(none_settled), Next::Wait);
        assert_eq!(p.next(|n| n == "api"), Next::Wait, "worker still stopping");
        assert_eq!(p.next(all_settled), Next::StopDependents(names(&["web"])));
        assert_eq!(p.next(none_settled), Next::Wait);
        assert_eq!(p.next(all_settled), Next::StopTarget("db".into()));
        assert!(!p.holds("web"));
        assert_eq!(p.next(all_settled), Next::Done);
    }

    #[test]
    fn no_dependents_stops_the_target_at_once() {
        let mut p = StopPlan::new(Some("cron".into()), &[], requirers);
        assert_eq!(p.next(|_| false), Next::StopTarget("cron".into()));
        assert_eq!(p.next(|_| false), Next::Done);
    }

    #[test]
    fn dependency_kill_stops_only_dependents() {
        let mut p = StopPlan::new(None, &names(&["web", "worker"]), requirers);
        assert_eq!(p.next(|_| true), Next::StopDependents(names(&["worker"])));
        assert_eq!(p.next(|_| true), Next::StopDependents(names(&["web"])));
        assert_eq!(p.next(|_| true), Next::Done);
    }

    #[test]
    fn a_dependent_not_running_is_skipped_but_order_kept() {
        // web is not running (not passed in): worker and db keep their order.
        let mut p = StopPlan::new(Some("db".into()), &names(&["worker"]), requirers);
        assert_eq!(p.next(|_| true), Next::StopDependents(names(&["worker"])));
        assert_eq!(p.next(|_| true), Next::StopTarget("db".into()));
    }

    #[test]
    fn a_cycle_does_not_loop() {
        let cyc = |n: &str| match n {
            "a" => vec!["b".to_string()],
            "b" => vec!["a".to_string()],
            _ => vec![],
        };
        let mut p = StopPlan::new(None, &names(&["a", "b"]), cyc);
        let mut steps = 0;
        while p.next(|_| true) != Next::Done {
            steps += 1;
            assert!(steps < 10);
        }
    }
}
