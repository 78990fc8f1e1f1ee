//! `oneinit check` against the real binary (SPEC 1, 2): exit 0 for a valid
//! configuration, exit 2 with compiler-style `file:line:col: message` lines
//! on stderr for invalid ones, `--print` output that loads again.

use crate::util;

use std::time::Duration;
use util::{run_oneinit, TestDir};

const TIMEOUT: Duration = Duration::from_secs(20);

fn check(dir: &TestDir, name: &str, text: &str) -> (util::Output, String) {
    let path = dir.write(name, text).display().to_string();
    (
        run_oneinit(&["check", "--config", &path], &[], TIMEOUT),
        path,
    )
}

#[test]
fn bad_yaml_exits_2_with_position() {
    let d = TestDir::new();
    let (out, path) = check(&d, "c.yaml", "services:\n  web:\n    command: [a, b\n");
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr
            .starts_with(&format!("{path}:4:1: YAML syntax error")),
        "{out:?}"
    );
}

#[test]
fn unknown_key_exits_2_with_hint() {
    let d = TestDir::new();
    let (out, path) = check(
        &d,
        "c.yaml",
        "services:\n  web:\n    command: [\"true\"]\n    restart:\n      dealy: 1s\n",
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "{path}:5:7: unknown key \"dealy\" in \"restart\" of service \"web\" (did you mean \"delay\"?)"
        )
    );
}

#[test]
fn dependency_cycle_exits_2_printing_the_cycle() {
    let d = TestDir::new();
    let (out, path) = check(
        &d,
        "c.yaml",
        "services:\n  a:\n    command: x\n    requires: [b]\n  b:\n    command: y\n    wants: [a]\n",
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        format!("{path}:2:3: dependency cycle: a -> b -> a")
    );
}

#[test]
fn unknown_dependency_exits_2_naming_it() {
    let d = TestDir::new();
    let (out, path) = check(
        &d,
        "c.yaml",
        "services:\n  web:\n    command: x\n    requires: [dbb]\n  db:\n    command: y\n",
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "{path}:4:16: service \"web\": unknown dependency \"dbb\" in \"requires\" (did you mean \"db\"?)"
        )
    );
}

#[test]
fn several_errors_one_per_line() {
    let d = TestDir::new();
    let (out, path) = check(
        &d,
        "c.toml",
        "[services.web]\ncomand = \"x\"\n[services.job]\ncommand = \"y\"\ninstances = 0\n",
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(
        lines.iter().all(|l| l.starts_with(&format!("{path}:"))),
        "{out:?}"
    );
}

#[test]
fn valid_file_exits_0_and_print_parses_back() {
    let d = TestDir::new();
    let (out, _) = check(
        &d,
        "c.yaml",
        "defaults:\n  restart: {delay: 2s}\nservices:\n  web:\n    command: [\"sleep\", \"60\"]\n    \
         requires: [init]\n  init:\n    type: oneshot\n    command: \"echo hi\"\n",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");

    let path = d.path().join("c.yaml").display().to_string();
    let printed = run_oneinit(&["check", "--print", "--config", &path], &[], TIMEOUT);
    assert_eq!(printed.code, Some(0), "{printed:?}");
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&printed.stdout).expect("--print gives YAML");
    assert_eq!(
        yaml["services"]["web"]["restart"]["delay"],
        serde_yaml::Value::from("2s")
    );
    // The printed config is itself a valid config with the same content.
    let (again, _) = check(&d, "printed.yaml", &printed.stdout);
    assert_eq!(again.code, Some(0), "{again:?}");
    let printed_again = run_oneinit(
        &[
            "check",
            "--print",
            "--config",
            &d.path().join("printed.yaml").display().to_string(),
        ],
        &[],
        TIMEOUT,
    );
    assert_eq!(printed_again.stdout, printed.stdout);
}

#[test]
fn default_source_comes_from_oneinit_config() {
    let d = TestDir::new();
    let path = d.write("env.yaml", "services:\n  a: {command: x, comand: y}\n");
    let path = path.display().to_string();
    let out = run_oneinit(&["check"], &[("ONEINIT_CONFIG", &path)], TIMEOUT);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr
            .starts_with(&format!("{path}:2:19: unknown key \"comand\"")),
        "{out:?}"
    );
}

#[test]
fn empty_glob_include_is_a_warning() {
    let d = TestDir::new();
    let (out, path) = check(
        &d,
        "c.yaml",
        "include: [conf.d/*.yaml]\nservices:\n  a: {command: x}\n",
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        format!("warning: {path}:1:11: include \"conf.d/*.yaml\" matched no files")
    );
}

#[test]
fn quickstart_example_is_valid() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config-examples/quickstart.yaml"
    );
    let out = run_oneinit(&["check", "--config", path], &[], TIMEOUT);
    assert_eq!(out.code, Some(0), "{out:?}");
}

#[test]
fn include_cycle_exits_2_printing_the_cycle() {
    let d = TestDir::new();
    d.write("b.yaml", "include: [a.yaml]\n");
    let (out, _) = check(&d, "a.yaml", "include: [b.yaml]\nservices: {}\n");
    assert_eq!(out.code, Some(2), "{out:?}");
    let b = d.path().join("b.yaml").display().to_string();
    assert_eq!(
        out.stderr.trim_end(),
        format!("{b}:1:11: include cycle: a.yaml -> b.yaml -> a.yaml")
    );
}

#[test]
fn repeated_config_merges_later_files_as_includes() {
    let d = TestDir::new();
    let first = d.write(
        "first.yaml",
        "services:\n  a: {command: x, requires: [b]}\n",
    );
    let second = d.write("more/second.toml", "[services.b]\ncommand = \"y\"\n");
    let out = run_oneinit(
        &[
            "check",
            "--print",
            "--config",
            &first.display().to_string(),
            "--config",
            &second.display().to_string(),
        ],
        &[],
        TIMEOUT,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&out.stdout).expect("--print gives YAML");
    assert_eq!(
        yaml["services"]["b"]["command"],
        serde_yaml::Value::from("y")
    );
}
