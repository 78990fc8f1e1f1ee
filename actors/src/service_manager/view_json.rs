//! A service object as JSON without building and serializing a
//! `ServiceView` per request: the parts that change only when the manager
//! publishes (everything but `uptime_seconds`, `memory_bytes` and
//! `cpu_seconds`) are serialized once per publish, by serde from the view
//! itself, and kept as three byte fragments; a request writes the fragments
//! around the three values of the moment. The bytes are exactly those of
//! `serde_json::to_vec(&view)` (tested below), so `GET /v1/services` keeps
//! its shape while a list of 100 services costs a few memory copies.

use crate::model::view::ServiceView;

/// `"uptime_seconds":null` as serde writes it for `None`; never inside a
/// string value, where quotes are escaped.
const UPTIME_NULL: &[u8] = b",\"uptime_seconds\":null";
/// Where `limits` starts when the view has some (it is the last key).
const LIMITS: &[u8] = b",\"limits\":{";

/// One service object, cut where the per-request values go.
pub(crate) struct JsonFragments {
    /// `{"name":...,"restarts":N,"uptime_seconds":`
    head: Box<[u8]>,
    /// `,"last_exit":...` up to `runs_total` (or whatever precedes the
    /// usage keys).
    middle: Box<[u8]>,
    /// `,"limits":{...}}` or `}`.
    tail: Box<[u8]>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl JsonFragments {
    /// Cuts the JSON of `view`, which must have no uptime and no usage
    /// (`None`); None if it cannot be cut (the caller then serializes the
    /// whole view each time).
    pub(crate) fn new(view: &ServiceView) -> Option<JsonFragments> {
        if view.uptime_seconds.is_some() || view.memory_bytes.is_some() {
            return None;
        }
        let bytes = serde_json::to_vec(view).ok()?;
        let at = find(&bytes, UPTIME_NULL)?;
        let value_at = at + UPTIME_NULL.len() - b"null".len();
        let rest = &bytes[at + UPTIME_NULL.len()..];
        let cut = if view.limits.is_empty() {
            rest.len().checked_sub(1)?
        } else {
            find(rest, LIMITS)?
        };
        Some(JsonFragments {
            head: bytes[..value_at].into(),
            middle: rest[..cut].into(),
            tail: rest[cut..].into(),
        })
    }

    /// Writes the object with these values, as serde would.
    pub(crate) fn write(
        &self,
        out: &mut Vec<u8>,
        uptime_seconds: Option<f64>,
        usage: Option<(u64, f64)>,
    ) -> serde_json::Result<()> {
        out.extend_from_slice(&self.head);
        serde_json::to_writer(&mut *out, &uptime_seconds)?;
        out.extend_from_slice(&self.middle);
        if let Some((memory, cpu)) = usage {
            out.extend_from_slice(b",\"memory_bytes\":");
            serde_json::to_writer(&mut *out, &memory)?;
            out.extend_from_slice(b",\"cpu_seconds\":");
            serde_json::to_writer(&mut *out, &cpu)?;
        }
        out.extend_from_slice(&self.tail);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::limits::LimitValue;
    use crate::model::view::{ExitView, Health, InstanceView, LimitView, ServiceState};
    use chrono::Utc;

    fn view() -> ServiceView {
        ServiceView {
            name: "web".into(),
            description: None,
            kind: Default::default(),
            state: ServiceState::Inactive,
            health: Health::Unknown,
            status_text: None,
            instances: vec![],
            restarts: 0,
            uptime_seconds: None,
            last_exit: None,
            requires: vec![],
            wants: vec![],
            after: vec![],
            before: vec![],
            autostart: true,
            critical: false,
            next_run: None,
            listen: vec![],
            runs_total: None,
            memory_bytes: None,
            cpu_seconds: None,
            limits: Default::default(),
        }
    }

    fn tricky() -> ServiceView {
        let mut v = view();
        v.description = Some(r#"a ,"uptime_seconds":null and ,"limits":{ in text"#.into());
        v.status_text = Some("}".into());
        v.state = ServiceState::Running;
        v.instances = vec![InstanceView {
            id: 3,
            pid: Some(42),
            state: ServiceState::Running,
            started_at: Some(Utc::now()),
        }];
        v.restarts = 7;
        v.last_exit = Some(ExitView {
            code: Some(1),
            signal: Some("TERM".into()),
            at: Utc::now(),
            reason: None,
        });
        v.requires = vec!["db".into()];
        v.listen = vec!["127.0.0.1:8080".into()];
        v.runs_total = Some(5);
        v.limits.insert(
            "memory".into(),
            LimitView {
                value: LimitValue::Count(1 << 20),
                mechanism: "cgroup v2 memory.max".into(),
            },
        );
        v
    }

    /// The fragments around given values are serde's bytes for the view
    /// with those values.
    fn same_bytes(base: ServiceView, uptime: Option<f64>, usage: Option<(u64, f64)>) {
        let f = JsonFragments::new(&base).expect("cuttable");
        let mut out = Vec::new();
        f.write(&mut out, uptime, usage).expect("writes");
        let mut full = base;
        full.uptime_seconds = uptime;
        full.memory_bytes = usage.map(|u| u.0);
        full.cpu_seconds = usage.map(|u| u.1);
        let want = serde_json::to_vec(&full).expect("serializes");
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn fragments_write_exactly_what_serde_writes() {
        same_bytes(view(), None, None);
        same_bytes(view(), Some(12.5), Some((4096, 0.25)));
        same_bytes(tricky(), Some(1.0), Some((123_456_789, 3.0)));
        same_bytes(tricky(), Some(0.001), None);
        same_bytes(tricky(), None, None);
    }

    #[test]
    fn a_view_with_values_already_in_is_not_cut() {
        let mut v = view();
        v.uptime_seconds = Some(1.0);
        assert!(JsonFragments::new(&v).is_none());
    }
}
