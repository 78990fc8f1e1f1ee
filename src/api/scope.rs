//! What a scoped caller (a token or client certificate with `services`
//! globs) may see beyond the services themselves (SPEC 9): dependency names
//! in service objects, and the series of the Prometheus exposition.

use super::auth::Principal;
use oneinit_actors::model::view::ServiceView;

/// Hides dependency names outside the caller's scope.
pub fn view(who: &Principal, mut v: ServiceView) -> ServiceView {
    if who.services.is_empty() {
        return v;
    }
    for names in [&mut v.requires, &mut v.wants, &mut v.after, &mut v.before] {
        names.retain(|n| who.can_see(n));
    }
    v
}

/// The value of label `name` in one sample line, if it has one.
fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let open = line.find('{')?;
    let close = line.rfind('}')?;
    let mut rest = line.get(open + 1..close)?;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        // Values are escaped (\\, \", \n); find the closing quote.
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let end = end?;
        if key.trim_start_matches(',').trim() == name {
            return Some(&after[..end]);
        }
        rest = after.get(end + 1..)?.trim_start_matches(',');
    }
    None
}

/// Keeps only the samples a scoped caller may see: a sample with a
/// `service` label is kept when that service is in scope; samples without
/// one (oneinit's own figures) and comment lines are kept.
pub fn metrics(who: &Principal, text: &str) -> String {
    if who.services.is_empty() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let keep = line.starts_with('#') || label(line, "service").is_none_or(|s| who.can_see(s));
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oneinit_actors::model::config::Role;

    fn scoped() -> Principal {
        Principal {
            name: "ci".into(),
            role: Role::Viewer,
            services: vec!["web*".into()],
        }
    }

    #[test]
    fn labels() {
        let line = r#"m{service="web",check="a\"b"} 1"#;
        assert_eq!(label(line, "service"), Some("web"));
        assert_eq!(label(line, "check"), Some(r#"a\"b"#));
        assert_eq!(label("m 1", "service"), None);
        assert_eq!(label(r#"m{x="service=\"db\""} 1"#, "service"), None);
    }

    #[test]
    fn metrics_filtered() {
        let text = "# HELP a x\n# TYPE a counter\na{service=\"web\"} 1\na{service=\"db\"} 2\nb 3\n";
        let out = metrics(&scoped(), text);
        assert!(out.contains("a{service=\"web\"} 1"));
        assert!(!out.contains("db"));
        assert!(out.contains("b 3") && out.contains("# HELP a x"));
    }
}
