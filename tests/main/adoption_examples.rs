//! The container and Kubernetes examples in `config-examples/docker/` and
//! `config-examples/kubernetes/` stay valid: every oneinit configuration in
//! them passes `oneinit check`, and the Kubernetes manifest agrees with the
//! configuration it carries (probe port and paths, scrape annotations,
//! grace period vs `shutdown.timeout`).

use crate::util;

use oneinit_actors::model::units::parse_duration;
use serde::Deserialize;
use serde_yaml::Value;
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use util::{check_config, write_file};

fn example(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config-examples")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(example(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).expect("valid YAML document"))
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} in the manifest"))
}

fn seconds(text: &str) -> f64 {
    parse_duration(text).expect("a duration").as_secs_f64()
}

#[test]
fn kubernetes_configmap_config_passes_check_and_matches_the_deployment() {
    let docs = documents(&read("kubernetes/deployment.yaml"));
    let config_text = kind(&docs, "ConfigMap")["data"]["oneinit.yaml"]
        .as_str()
        .expect("ConfigMap data has oneinit.yaml");
    let dir = TempDir::new().expect("temp dir");
    let path = write_file(dir.path(), "oneinit.yaml", config_text);
    let (code, stderr) = check_config(&path);
    assert_eq!(
        code,
        Some(0),
        "oneinit check rejected the ConfigMap's config: {stderr}"
    );

    let config: Value = serde_yaml::from_str(config_text).expect("YAML");
    let listen: Vec<&str> = config["api"]["listen"]
        .as_sequence()
        .expect("api.listen")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let tcp = listen
        .iter()
        .find(|l| !l.starts_with("unix://"))
        .expect("a TCP listener for the probes");
    let api_port: u64 = tcp
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    // A public listener is refused without TLS and auth unless insecure.
    let secured = !config["api"]["tls"].is_null() && !config["api"]["auth"].is_null();
    assert!(secured || config["api"]["insecure"] == Value::Bool(true));

    let deployment = kind(&docs, "Deployment");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    let port_named = |name: &Value| -> u64 {
        match name {
            Value::Number(n) => n.as_u64().expect("port number"),
            other => container["ports"]
                .as_sequence()
                .expect("ports")
                .iter()
                .find(|p| &p["name"] == other)
                .and_then(|p| p["containerPort"].as_u64())
                .expect("named port exists"),
        }
    };
    let scheme = if config["api"]["tls"].is_null() {
        "HTTP"
    } else {
        "HTTPS"
    };
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], Value::from(path), "{probe}");
        assert_eq!(
            port_named(&get["port"]),
            api_port,
            "{probe} must hit the API port"
        );
        assert_eq!(get["scheme"], Value::from(scheme), "{probe} scheme");
    }

    let ann = &pod["metadata"]["annotations"];
    assert_eq!(ann["prometheus.io/scrape"], Value::from("true"));
    assert_eq!(ann["prometheus.io/port"], Value::from(api_port.to_string()));
    let metrics_path = config["metrics"]["path"].as_str().unwrap_or("/metrics");
    assert_eq!(ann["prometheus.io/path"], Value::from(metrics_path));
    assert_eq!(
        config["metrics"]["auth"],
        Value::Bool(false),
        "Prometheus scrapes without a token"
    );

    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_f64()
        .expect("grace period");
    let timeout = seconds(config["shutdown"]["timeout"].as_str().unwrap_or("30s"));
    let sweep = seconds(config["shutdown"]["sweep_grace"].as_str().unwrap_or("2s"));
    assert!(
        grace >= timeout + sweep && grace <= timeout + sweep + 10.0,
        "terminationGracePeriodSeconds {grace} should just cover shutdown.timeout {timeout}s + sweep_grace {sweep}s"
    );

    // The config reaches the path oneinit is told to read.
    let cm_name = kind(&docs, "ConfigMap")["metadata"]["name"].clone();
    let volume = pod["spec"]["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["configMap"]["name"] == cm_name)
        .expect("a volume from the ConfigMap");
    let mount = container["volumeMounts"]
        .as_sequence()
        .expect("mounts")
        .iter()
        .find(|m| m["name"] == volume["name"])
        .expect("the ConfigMap volume is mounted");
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        args,
        ["--config", mount["mountPath"].as_str().expect("mountPath")]
    );
}

#[test]
fn monolith_config_passes_check_and_has_app_nginx_and_a_scheduled_job() {
    let (code, stderr) = check_config(&example("docker/oneinit.yaml"));
    assert_eq!(
        code,
        Some(0),
        "oneinit check rejected docker/oneinit.yaml: {stderr}"
    );
    let config: Value = serde_yaml::from_str(&read("docker/oneinit.yaml")).expect("YAML");
    let services = &config["services"];
    assert_eq!(services["nginx"]["requires"][0], Value::from("app"));
    let scheduled: Vec<&Value> = services
        .as_mapping()
        .expect("services")
        .values()
        .filter(|s| s["type"].as_str() == Some("oneshot") && !s["schedule"]["cron"].is_null())
        .collect();
    assert_eq!(scheduled.len(), 1, "one cron-like oneshot");

    let dockerfile = read("docker/Dockerfile.monolith");
    assert!(
        dockerfile.contains("COPY config-examples/docker/oneinit.yaml /etc/oneinit/oneinit.yaml")
    );
    assert!(dockerfile.contains("COPY config-examples/docker/nginx.conf"));
    assert!(example("docker/nginx.conf").is_file());
}

#[test]
fn dockerfiles_are_multi_stage_with_oneinit_as_entrypoint() {
    for file in ["docker/Dockerfile", "docker/Dockerfile.monolith"] {
        let text = read(file);
        let stages = text.lines().filter(|l| l.starts_with("FROM ")).count();
        assert!(stages >= 2, "{file}: a multi-stage build");
        let entry = text
            .lines()
            .rev()
            .find(|l| l.starts_with("ENTRYPOINT "))
            .unwrap_or_else(|| panic!("{file}: no ENTRYPOINT"));
        let argv: Vec<String> =
            serde_json::from_str(entry.trim_start_matches("ENTRYPOINT ")).expect("exec form");
        assert!(argv[0].ends_with("/oneinit"), "{file}: {entry}");
        // Every COPY source outside the build context's stage copies exists.
        for line in text
            .lines()
            .filter(|l| l.starts_with("COPY config-examples/"))
        {
            let src = line.split_whitespace().nth(1).expect("COPY source");
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
            assert!(path.exists(), "{file}: {src} does not exist");
        }
    }
}

/// The README quick start works as written:
/// its config passes `check`, and oneinit runs it (the oneshot, then the web
/// server) and stops cleanly on SIGTERM.
#[test]
fn readme_quick_start_config_runs() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let yaml: String = doc
        .lines()
        .skip_while(|l| !l.ends_with("<<'YAML'"))
        .skip(1)
        .take_while(|l| *l != "YAML")
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(yaml.contains("services:"), "no quick-start config found");
    // Same config on a free port, so parallel tests cannot collide.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let yaml = yaml.replace("8080", &port.to_string());
    let dir = TempDir::new().expect("temp dir");
    let path = write_file(dir.path(), "oneinit.yaml", &yaml);
    let (code, stderr) = check_config(&path);
    assert_eq!(code, Some(0), "{stderr}");

    let config = path.to_string_lossy();
    let mut d = util::Daemon::start_args(&["--config", &config], util::Opts::default());
    let serving = util::wait_until(util::secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(serving, "web never served:\n{}", d.stdout());
    assert!(d
        .records()
        .iter()
        .any(|r| r["service"] == "hello" && r["msg"] == "hello from oneinit"));
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(d.wait_exit(util::secs(20)), Some(0), "{}", d.stdout());
}
