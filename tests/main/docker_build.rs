//! The Dockerfiles in config-examples/docker/ build as documented: their
//! build stage's commands are run here, outside Docker (no daemon on CI),
//! the way `docker build` would run them (WORKDIR = the repository, which
//! `COPY . .` copies; `ENV`/`ARG` values; `/out` mapped to a temp dir), and
//! every file the final stage copies `--from=build` must then exist and be a
//! static executable that runs. The `apk add` line is Alpine's and is only
//! checked for the packages scripts/build-static.sh needs on a musl host.
//!
//! Runs a release build (the one scripts/build-static.sh makes and caches),
//! so it is ignored by default and run by scripts/test.sh.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// One Dockerfile instruction: keyword and its text (continuations joined).
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (kw, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((kw.to_ascii_uppercase(), rest.trim().to_string()));
        current.clear();
    }
    out
}

/// PATH and where the Rust toolchain and the build cache live.
pub(crate) fn toolchain_env() -> Vec<(String, String)> {
    [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "CARGO_TARGET_DIR",
    ]
    .iter()
    .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
    .collect()
}

fn git_commit() -> String {
    let o = Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .current_dir(REPO)
        .output()
        .expect("git");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn check_dockerfile(name: &str) {
    let path = Path::new(REPO).join("config-examples/docker").join(name);
    let text = std::fs::read_to_string(&path).expect("read the Dockerfile");
    let out_dir = tempfile::tempdir().expect("tempdir");
    let out = out_dir.path().to_str().expect("utf-8 path").to_string();
    let mut stage = String::new();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut ran = 0;
    let mut copied = 0;
    for (kw, rest) in instructions(&text) {
        match kw.as_str() {
            "FROM" => {
                stage = rest
                    .split_whitespace()
                    .last()
                    .unwrap_or_default()
                    .to_string();
            }
            "ARG" | "ENV" if stage == "build" => {
                let (k, v) = rest.split_once('=').unwrap_or((&rest, ""));
                // The documented build passes the real commit; /out is a temp dir.
                let v = match k {
                    "ONEINIT_GIT_COMMIT" => git_commit(),
                    _ if v == "/out" => out.clone(),
                    _ => v.to_string(),
                };
                env.insert(k.to_string(), v);
            }
            "RUN" if stage == "build" && rest.starts_with("apk add") => {
                for pkg in ["bash", "file", "gzip", "musl-dev", "tar"] {
                    assert!(
                        rest.split_whitespace().any(|w| w == pkg),
                        "{name}: `{rest}` lacks {pkg}, which scripts/build-static.sh needs on Alpine"
                    );
                }
            }
            "RUN" if stage == "build" => {
                // A clean environment, as in `docker build` (also keeps
                // `cargo test`'s own variables from invalidating the cached
                // release build): only the toolchain's and the stage's.
                let status = Command::new("sh")
                    .args(["-ec", &rest])
                    .current_dir(REPO)
                    .env_clear()
                    .envs(toolchain_env())
                    .envs(&env)
                    .status()
                    .expect("run sh");
                assert!(status.success(), "{name}: `RUN {rest}` failed");
                ran += 1;
            }
            "COPY" if rest.starts_with("--from=build") => {
                let words: Vec<&str> = rest.split_whitespace().skip(1).collect();
                let (_dest, sources) = words.split_last().expect("COPY has a destination");
                for src in sources {
                    let local = src.replacen("/out", &out, 1);
                    assert!(
                        src.starts_with("/out/"),
                        "{name}: COPY from outside /out: {src}"
                    );
                    let desc = Command::new("file")
                        .args(["-b", &local])
                        .output()
                        .expect("file");
                    let desc = String::from_utf8_lossy(&desc.stdout).into_owned();
                    assert!(
                        desc.contains("statically linked"),
                        "{name}: {src} is not static: {desc}"
                    );
                    let v = Command::new(&local)
                        .arg("--version")
                        .output()
                        .expect("run the binary");
                    assert!(v.status.success(), "{name}: {src} --version failed");
                    copied += 1;
                }
            }
            _ => {}
        }
    }
    assert!(ran >= 1, "{name}: no build command found");
    assert_eq!(
        copied, 2,
        "{name}: expected oneinit and onecli copied from the build stage"
    );
}

#[test]
#[ignore = "needs the static build (scripts/build-static.sh; a release build); run by scripts/test.sh"]
fn dockerfile_build_stage_runs_and_yields_static_binaries() {
    check_dockerfile("Dockerfile");
}

#[test]
#[ignore = "needs the static build (scripts/build-static.sh; a release build); run by scripts/test.sh"]
fn monolith_dockerfile_build_stage_runs_and_yields_static_binaries() {
    check_dockerfile("Dockerfile.monolith");
}

#[test]
fn dockerfile_parser_joins_continuations_and_skips_comments() {
    let text = "# c\nFROM a AS build\nRUN one \\\n && two\n\n# x\nCOPY --from=build /out/x /y/\n";
    assert_eq!(
        instructions(text),
        [
            ("FROM".to_string(), "a AS build".to_string()),
            ("RUN".to_string(), "one  && two".to_string()),
            ("COPY".to_string(), "--from=build /out/x /y/".to_string()),
        ]
    );
}
