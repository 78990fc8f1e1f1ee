//! The graceful shutdown as a pure state machine (SPEC 1): every service
//! stops in the dependency graph's shutdown layers, dependents first; a
//! layer starts once every service of the previous one has settled; after
//! the last layer oneinit finishes (sweep as PID 1, drain logs, exit). The
//! ServiceManager feeds it which services have settled and performs the
//! steps; `exit_code` is oneinit's status.

use crate::model::signal::Signal;
use std::collections::VecDeque;

/// What the ServiceManager does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The current layer is still stopping (or the shutdown is finishing).
    Wait,
    /// Stop every service of this layer now.
    StopLayer(Vec<String>),
    /// Every layer has stopped: finish (answered once).
    Finish,
}

#[derive(Clone, Debug)]
pub struct Shutdown {
    /// Layers still to stop, dependents first.
    layers: VecDeque<Vec<String>>,
    /// The layer being stopped now.
    current: Vec<String>,
    /// Set when a critical service ended: oneinit's exit code.
    pub critical_code: Option<i32>,
    /// The signal that asked for the shutdown (tini mode passes it on).
    pub signal: Option<Signal>,
    finishing: bool,
}

impl Shutdown {
    pub fn new(
        layers: Vec<Vec<String>>,
        critical_code: Option<i32>,
        signal: Option<Signal>,
    ) -> Shutdown {
        Shutdown {
            layers: layers.into(),
            current: Vec::new(),
            critical_code,
            signal,
            finishing: false,
        }
    }

    /// The last layer has stopped (or the timeout forced it): oneinit is
    /// sweeping and draining.
    pub fn finishing(&self) -> bool {
        self.finishing
    }

    /// The next step, given which services have settled.
    pub fn next(&mut self, settled: impl Fn(&str) -> bool) -> Step {
        if self.finishing || !self.current.iter().all(|n| settled(n)) {
            return Step::Wait;
        }
        match self.layers.pop_front() {
            Some(layer) => {
                self.current = layer.clone();
                Step::StopLayer(layer)
            }
            None => {
                self.current.clear();
                self.finishing = true;
                Step::Finish
            }
        }
    }
}

/// oneinit's exit code (SPEC 1): in tini mode `main`'s status; else a
/// critical service's code; else 1 if something had to be SIGKILLed or
/// failed, else 0.
pub fn exit_code(tini_main: Option<Option<i32>>, critical_code: Option<i32>, bad: bool) -> i32 {
    if let Some(main) = tini_main {
        return main.unwrap_or(0);
    }
    if let Some(code) = critical_code {
        return code;
    }
    i32::from(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers() -> Vec<Vec<String>> {
        vec![
            vec!["web".into(), "worker".into()],
            vec!["api".into()],
            vec!["db".into()],
        ]
    }

    #[test]
    fn layers_in_order_each_after_the_previous_settled() {
        let mut s = Shutdown::new(layers(), None, None);
        let all = |_: &str| true;
        assert_eq!(
            s.next(all),
            Step::StopLayer(vec!["web".into(), "worker".into()])
        );
        assert_eq!(s.next(|_| false), Step::Wait);
        assert_eq!(s.next(|n| n == "web"), Step::Wait, "worker still stopping");
        assert_eq!(s.next(all), Step::StopLayer(vec!["api".into()]));
        assert_eq!(s.next(all), Step::StopLayer(vec!["db".into()]));
        assert!(!s.finishing());
        assert_eq!(s.next(all), Step::Finish);
        assert!(s.finishing());
        assert_eq!(s.next(all), Step::Wait, "finish is answered once");
    }

    #[test]
    fn nothing_to_stop_finishes_at_once() {
        let mut s = Shutdown::new(Vec::new(), None, Some(Signal::SIGTERM));
        assert_eq!(s.next(|_| false), Step::Finish);
        assert_eq!(s.signal, Some(Signal::SIGTERM));
    }

    #[test]
    fn exit_codes() {
        let table = [
            // (tini main, critical, bad) -> code
            ((Some(Some(7)), Some(3), true), 7),
            ((Some(None), None, true), 0),
            ((None, Some(3), true), 3),
            ((None, None, true), 1),
            ((None, None, false), 0),
        ];
        for ((main, critical, bad), want) in table {
            assert_eq!(
                exit_code(main, critical, bad),
                want,
                "{main:?} {critical:?} {bad}"
            );
        }
    }
}
