//! `oneinit import-supervisord` (SPEC 8) against realistic supervisord.conf
//! files written into a temp dir: exact mapped values (the YAML parsed with
//! serde_yaml), warnings on stderr, and `oneinit check` accepting the output.

use crate::util;

use serde_yaml::Value;
use std::path::Path;
use tempfile::TempDir;
use util::{check_config, run_oneinit, secs, write_file};

/// `oneinit import-supervisord CONF`.
fn import_run(conf: &Path) -> util::Output {
    run_oneinit(
        &["import-supervisord", &conf.to_string_lossy()],
        &[],
        secs(30),
    )
}

/// Imports `conf`, asserts exit 0, returns (yaml text, parsed, stderr).
fn import(conf: &Path) -> (String, Value, String) {
    let out = import_run(conf);
    let (stdout, stderr) = (out.stdout, out.stderr);
    assert_eq!(out.code, Some(0), "import failed: {stderr}");
    let parsed: Value =
        serde_yaml::from_str(&stdout).unwrap_or_else(|e| panic!("bad YAML ({e}):\n{stdout}"));
    (stdout, parsed, stderr)
}

/// Writes the converted YAML next to the input and runs `oneinit check` on it.
fn assert_checks(dir: &Path, yaml: &str) {
    let out = write_file(dir, "out.yaml", yaml);
    let (code, stderr) = check_config(&out);
    assert_eq!(
        code,
        Some(0),
        "oneinit check rejected the output: {stderr}\n{yaml}"
    );
}

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, key| &v[key])
}

fn s(v: &Value, path: &str) -> String {
    match at(v, path) {
        Value::String(s) => s.clone(),
        other => panic!("{path} is not a string: {other:?}"),
    }
}

fn strings(v: &Value, path: &str) -> Vec<String> {
    match at(v, path) {
        Value::Sequence(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| panic!("{path}: {i:?}"))
            })
            .collect(),
        other => panic!("{path} is not a list: {other:?}"),
    }
}

const MAIN: &str = r#"; supervisord.conf of a typical web container
[supervisord]
nodaemon=true                 ; run in the foreground
environment=APP_ENV="production",SHARED="from-supervisord"

[include]
files = conf.d/*.conf extra/web.ini

[program:nginx]
command=/usr/sbin/nginx -g "daemon off;"
priority=10
autorestart=true
startsecs=0
stopsignal=QUIT
stopwaitsecs=15
stopasgroup=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
redirect_stderr=true

[program:app]
command=%(here)s/bin/app --name %(program_name)s
    --workers 4
directory=%(here)s
user=nobody
umask=022
priority=20
environment=DATABASE_URL="postgres://db/app?x=1,y=2",
    PRICE='$5 each', HOME_DIR=%(ENV_IMPORT_TEST_HOME)s, SHARED=app
autorestart=unexpected
exitcodes=0,3
startsecs=5
startretries=4
stdout_logfile=/var/log/app/%(program_name)s.log
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=7
stdout_events_enabled=true
"#;

const INCLUDED: &str = r#"# conf.d/cron.conf
[program:cron-runner]
command=/usr/local/bin/runner --every 60
autostart=false
autorestart=false
killasgroup=true
priority=30
"#;

const WEB_INI: &str = r#"[program:static]
command = /usr/bin/static-server --root "%(here)s/public"
"#;

#[test]
fn realistic_config_with_includes_expansions_and_quoted_environment() {
    let dir = TempDir::new().expect("temp dir");
    let here = std::fs::canonicalize(dir.path()).expect("canonical");
    let here = here.to_string_lossy().to_string();
    let conf = write_file(dir.path(), "supervisord.conf", MAIN);
    write_file(dir.path(), "conf.d/cron.conf", INCLUDED);
    write_file(dir.path(), "extra/web.ini", WEB_INI);
    let run = |home: Option<&str>| {
        let mut cmd = std::process::Command::new(util::BIN);
        cmd.args(["import-supervisord", &conf.to_string_lossy()]);
        match home {
            Some(h) => cmd.env("IMPORT_TEST_HOME", h),
            None => cmd.env_remove("IMPORT_TEST_HOME"),
        };
        let out = util::run_bounded(&mut cmd, secs(30));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        out
    };
    // %(ENV_X)s of a variable unset at import time is left for oneinit: ${X}.
    let unset = run(None);
    let unset_yaml: Value = serde_yaml::from_str(&unset.stdout).expect("YAML");
    assert_eq!(
        s(&unset_yaml, "services.app.environment.HOME_DIR"),
        "${IMPORT_TEST_HOME}"
    );
    assert!(unset.stderr.contains("IMPORT_TEST_HOME is not set here"));
    // ... which the loader expands at start: set there, the config is valid.
    let unset_path = write_file(dir.path(), "unset.yaml", &unset.stdout);
    let unset_path = unset_path.to_string_lossy();
    let checked = util::run_oneinit(
        &["check", "--config", &unset_path],
        &[("IMPORT_TEST_HOME", "/srv/home")],
        secs(30),
    );
    assert_eq!(checked.code, Some(0), "{}", checked.stderr);
    // Set, it is expanded at import time like supervisord does at its start.
    let out = run(Some("/home/$app"));
    let yaml = out.stdout;
    let v: Value = serde_yaml::from_str(&yaml).expect("YAML");

    let nginx = "services.nginx";
    assert_eq!(
        strings(&v, &format!("{nginx}.command")),
        ["/usr/sbin/nginx", "-g", "daemon off;"]
    );
    assert_eq!(s(&v, &format!("{nginx}.restart.policy")), "always");
    assert_eq!(s(&v, &format!("{nginx}.readiness.min_uptime")), "0s");
    assert_eq!(s(&v, &format!("{nginx}.stop.signal")), "QUIT");
    assert_eq!(s(&v, &format!("{nginx}.stop.timeout")), "15s");
    assert_eq!(at(&v, &format!("{nginx}.stop.group")), &Value::Bool(true));
    // /dev/stdout means capture only: no file.
    assert_eq!(at(&v, &format!("{nginx}.logs.capture")), &Value::Bool(true));
    assert!(at(&v, &format!("{nginx}.logs.file")).is_null());
    assert!(
        at(&v, &format!("{nginx}.after")).is_null(),
        "lowest priority starts first"
    );

    let app = "services.app";
    assert_eq!(
        strings(&v, &format!("{app}.command")),
        [
            format!("{here}/bin/app"),
            "--name".into(),
            "app".into(),
            "--workers".into(),
            "4".into()
        ]
    );
    assert_eq!(s(&v, &format!("{app}.workdir")), here);
    assert_eq!(s(&v, &format!("{app}.user")), "nobody");
    assert_eq!(s(&v, &format!("{app}.umask")), "0022");
    let env = at(&v, &format!("{app}.environment"));
    assert_eq!(
        env["APP_ENV"],
        Value::from("production"),
        "[supervisord] environment is inherited"
    );
    assert_eq!(
        env["SHARED"],
        Value::from("app"),
        "the program's own value wins"
    );
    assert_eq!(
        env["DATABASE_URL"],
        Value::from("postgres://db/app?x=1,y=2")
    );
    assert_eq!(
        env["PRICE"],
        Value::from("$$5 each"),
        "every $ is written as $$"
    );
    assert_eq!(env["HOME_DIR"], Value::from("/home/$$app"));
    assert_eq!(s(&v, &format!("{app}.restart.policy")), "on-failure");
    assert_eq!(
        at(&v, &format!("{app}.restart.success_codes")),
        &serde_yaml::from_str::<Value>("[0, 3]").expect("yaml")
    );
    assert_eq!(
        at(&v, &format!("{app}.restart.max_retries")),
        &Value::from(4)
    );
    assert_eq!(s(&v, &format!("{app}.readiness.min_uptime")), "5s");
    assert_eq!(s(&v, &format!("{app}.logs.file")), "/var/log/app/app.log");
    assert_eq!(s(&v, &format!("{app}.logs.max_size")), "50MB");
    assert_eq!(at(&v, &format!("{app}.logs.max_files")), &Value::from(7));
    assert_eq!(strings(&v, &format!("{app}.after")), ["nginx"]);
    assert!(
        yaml.contains("# not converted: stdout_events_enabled = true ("),
        "{yaml}"
    );

    let cron = "services.cron-runner";
    assert_eq!(at(&v, &format!("{cron}.autostart")), &Value::Bool(false));
    assert_eq!(s(&v, &format!("{cron}.restart.policy")), "never");
    assert_eq!(at(&v, &format!("{cron}.stop.group")), &Value::Bool(true));
    assert_eq!(strings(&v, &format!("{cron}.after")), ["nginx", "app"]);

    // The second include entry, with %(here)s of the included file's folder.
    assert_eq!(
        strings(&v, "services.static.command"),
        [
            "/usr/bin/static-server".to_string(),
            "--root".into(),
            format!("{here}/extra/public")
        ]
    );
    // priority defaults to 999: after every program with an explicit lower one.
    assert_eq!(
        strings(&v, "services.static.after"),
        ["nginx", "app", "cron-runner"]
    );

    let stderr = &out.stderr;
    let conf_text = conf.to_string_lossy();
    assert!(
        stderr.contains(&format!(
            "{conf_text}: warning: [supervisord] not converted: nodaemon = true ("
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: [program:app] not converted: stdout_events_enabled = true ("),
        "{stderr}"
    );
    assert_checks(dir.path(), &yaml);
}

#[test]
fn numprocs_become_instances_when_only_the_name_differs() {
    let dir = TempDir::new().expect("temp dir");
    let conf = write_file(
        dir.path(),
        "supervisord.conf",
        "[program:worker]\n\
         command=/usr/bin/worker --queue jobs\n\
         process_name=%(program_name)s_%(process_num)02d\n\
         numprocs=4\n\
         stdout_logfile=/var/log/worker-%(process_num)d.log\n\
         \n\
         [program:shard]\n\
         command=/usr/bin/shard --port 80%(process_num)02d\n\
         process_name=shard-%(process_num)d\n\
         numprocs=2\n\
         numprocs_start=1\n",
    );
    let (yaml, v, _) = import(&conf);
    assert_eq!(at(&v, "services.worker.instances"), &Value::from(4));
    assert_eq!(
        strings(&v, "services.worker.command"),
        ["/usr/bin/worker", "--queue", "jobs"]
    );
    assert!(at(&v, "services.worker_00").is_null());
    // Per-process log names alone do not split the program: one shared file.
    assert_eq!(s(&v, "services.worker.logs.file"), "/var/log/worker-0.log");
    assert!(yaml.contains("all instances share the first one"), "{yaml}");
    // The port differs per process: one service per process, named by process_name.
    assert!(at(&v, "services.shard").is_null(), "{yaml}");
    assert_eq!(
        strings(&v, "services.shard-1.command"),
        ["/usr/bin/shard", "--port", "8001"]
    );
    assert_eq!(
        strings(&v, "services.shard-2.command"),
        ["/usr/bin/shard", "--port", "8002"]
    );
    assert!(at(&v, "services.shard-1.instances").is_null());
    assert_checks(dir.path(), &yaml);
}

#[test]
fn unsupported_keys_and_sections_become_comments_and_warnings() {
    let dir = TempDir::new().expect("temp dir");
    let conf = write_file(
        dir.path(),
        "supervisord.conf",
        "[supervisorctl]\n\
         serverurl=unix:///tmp/supervisor.sock\n\
         \n\
         [eventlistener:memmon]\n\
         command=memmon -a 200MB\n\
         events=TICK_60\n\
         \n\
         [group:web]\n\
         programs=api\n\
         priority=5\n\
         \n\
         [program:api]\n\
         command=/usr/bin/api\n\
         stderr_logfile=/var/log/api.err\n\
         stdout_syslog=true\n\
         stdout_logfile=NONE\n",
    );
    let (yaml, v, stderr) = import(&conf);
    let c = conf.to_string_lossy();
    for (comment, warning) in [
        (
            "# not converted: serverurl = unix:///tmp/supervisor.sock (",
            "[supervisorctl] not converted: serverurl",
        ),
        (
            "# not converted: events = TICK_60 (",
            "[eventlistener:memmon] not converted: events = TICK_60",
        ),
        (
            "# not converted: priority = 5 (",
            "[group:web] not converted: priority = 5",
        ),
        (
            "    # not converted: stderr_logfile = /var/log/api.err (",
            "[program:api] not converted: stderr_logfile",
        ),
        (
            "    # not converted: stdout_syslog = true (",
            "[program:api] not converted: stdout_syslog = true",
        ),
        (
            "    # not converted: stdout_logfile = NONE (",
            "[program:api] not converted: stdout_logfile = NONE",
        ),
    ] {
        assert!(yaml.contains(comment), "missing {comment:?} in\n{yaml}");
        assert!(
            stderr.contains(&format!("{c}: warning: {warning}")),
            "missing {warning:?} in\n{stderr}"
        );
    }
    assert!(
        yaml.contains("member of supervisord group \"web\""),
        "{yaml}"
    );
    assert_eq!(strings(&v, "services.api.command"), ["/usr/bin/api"]);
    assert!(
        at(&v, "services.memmon").is_null(),
        "event listeners are not services"
    );
    assert_checks(dir.path(), &yaml);
}

#[test]
fn http_servers_become_api_listen_without_credentials() {
    let dir = TempDir::new().expect("temp dir");
    let sock = dir.path().join("supervisor.sock");
    let conf = write_file(
        dir.path(),
        "supervisord.conf",
        &format!(
            "[unix_http_server]\nfile={}\nchmod=0700\nusername=admin\npassword=Sup3rSecret\n\n\
             [inet_http_server]\nport=127.0.0.1:9001\nusername=admin\npassword={{SHA}}e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4\n\n\
             [program:a]\ncommand=/bin/sleep 1000\n",
            sock.display()
        ),
    );
    let (yaml, v, stderr) = import(&conf);
    assert_eq!(
        strings(&v, "api.listen"),
        [
            format!("unix://{}", sock.display()),
            "127.0.0.1:9001".into()
        ]
    );
    for secret in ["Sup3rSecret", "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4"] {
        assert!(
            !yaml.contains(secret) && !stderr.contains(secret),
            "a credential was copied"
        );
    }
    assert!(
        yaml.contains("sha256sum"),
        "the output tells how to create a token:\n{yaml}"
    );
    assert!(
        stderr.contains("username/password are not copied"),
        "{stderr}"
    );
    assert_checks(dir.path(), &yaml);

    // A wildcard address is narrowed to loopback, with the reason.
    let conf = write_file(
        dir.path(),
        "wide.conf",
        "[inet_http_server]\nport=*:9001\n[program:a]\ncommand=/bin/true\n",
    );
    let (yaml, v, stderr) = import(&conf);
    assert_eq!(strings(&v, "api.listen"), ["127.0.0.1:9001"]);
    assert!(
        stderr.contains("warning: [inet_http_server] port = *:9001"),
        "{stderr}"
    );
    assert_checks(dir.path(), &yaml);
}

#[test]
fn broken_input_exits_2_with_the_position() {
    let dir = TempDir::new().expect("temp dir");
    for (text, want) in [
        (
            "[program:a]\ncommand=/bin/a\nnumprocs=2\n",
            ":1: [program:a] has numprocs = 2",
        ),
        (
            "[program:a]\ncommand=/bin/a --x %(nope)s\n",
            ":2: unknown expansion `%(nope)`",
        ),
        (
            "[program:a]\nautostart=maybe\ncommand=/bin/a\n",
            ":2: [program:a] autostart = \"maybe\" is not a boolean",
        ),
        (
            "[program:a]\ndirectory=/tmp\n",
            ":1: [program:a] has no command",
        ),
        ("command=/bin/a\n", ":1: a key outside any section"),
        (
            "[include]\nfiles = %(ENV_IMPORT_TEST_SURELY_UNSET)s/*.conf\n",
            ":2: [include] files uses %(ENV_IMPORT_TEST_SURELY_UNSET)s",
        ),
        (
            "[program:a]\ncommand=/bin/a\n[program:a]\ncommand=/bin/b\n",
            ":3: section [program:a] is already defined",
        ),
    ] {
        let conf = write_file(dir.path(), "bad.conf", text);
        let out = import_run(&conf);
        let stderr = &out.stderr;
        assert_eq!(out.code, Some(2), "{text}");
        assert!(
            stderr.starts_with(&format!("{}{want}", conf.display())),
            "want {want:?}, got {stderr}"
        );
        assert!(out.stdout.is_empty(), "no YAML on error");
    }
    let out = import_run(Path::new("/nonexistent/supervisord.conf"));
    assert_eq!(out.code, Some(2));
    assert!(out
        .stderr
        .starts_with("/nonexistent/supervisord.conf: cannot read the file"));
}

/// The whole migration path: convert, start oneinit on the result, see the
/// programs run (files they write), then SIGTERM and a clean, bounded exit.
#[test]
fn converted_config_runs_under_oneinit() {
    let dir = TempDir::new().expect("temp dir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    std::fs::create_dir_all(root.join("out")).expect("out dir");
    std::fs::create_dir_all(root.join("rt")).expect("runtime dir");
    let conf = write_file(
        &root,
        "supervisord.conf",
        "[supervisord]\nnodaemon=true\n\n\
         [include]\nfiles = conf.d/*.conf\n\n\
         [program:web]\n\
         command=/bin/sh -c \"env > %(here)s/out/web.env; exec sleep 1000\"\n\
         environment=GREETING=\"hello, world\",PRICE=\"$5 each\"\n\
         priority=1\nstopwaitsecs=5\n\n\
         [program:worker]\n\
         command=/bin/sh -c \"mktemp %(here)s/out/worker.XXXXXX; exec sleep 1000\"\n\
         process_name=%(program_name)s_%(process_num)d\n\
         numprocs=3\n\n\
         [program:manual]\n\
         command=/bin/sh -c \"touch %(here)s/out/manual\"\n\
         autostart=false\n",
    );
    write_file(
        &root,
        "conf.d/tick.conf",
        "[program:tick]\ncommand=/bin/sh -c \"touch %(here)s/../out/tick; exec sleep 1000\"\n",
    );
    let (yaml, v, _) = import(&conf);
    assert_eq!(at(&v, "services.worker.instances"), &Value::from(3));
    assert_eq!(strings(&v, "services.tick.after"), ["web"]);
    let config = write_file(&root, "oneinit.yaml", &yaml);
    let config = config.to_string_lossy();
    let mut daemon = util::Daemon::start_args(
        &["--config", &config, "--log-format", "json"],
        util::Opts::default(),
    );
    let out = root.join("out");
    let workers = || {
        std::fs::read_dir(&out)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with("worker."))
                    .count()
            })
            .unwrap_or(0)
    };
    let running = util::wait_until(util::secs(20), || {
        // web.env is complete once its last variable is there (the shell
        // creates the file before `env` writes to it).
        let env = std::fs::read_to_string(out.join("web.env")).unwrap_or_default();
        env.contains("GREETING=")
            && env.contains("ONEINIT_SERVICE=")
            && out.join("tick").exists()
            && workers() == 3
    });
    assert!(
        running,
        "programs did not all start; oneinit log:\n{}{}",
        daemon.stdout(),
        daemon.stderr()
    );
    let env = std::fs::read_to_string(out.join("web.env")).expect("web.env");
    assert!(env.lines().any(|l| l == "GREETING=hello, world"), "{env}");
    assert!(env.lines().any(|l| l == "ONEINIT_SERVICE=web"), "{env}");
    // `$` was written as `$$` and reaches the process as one `$`.
    assert!(env.lines().any(|l| l == "PRICE=$5 each"), "{env}");
    assert!(
        !out.join("manual").exists(),
        "autostart=false must not start"
    );

    daemon.signal(nix::sys::signal::Signal::SIGTERM);
    let code = daemon.wait_exit(util::secs(20));
    assert_eq!(
        code,
        Some(0),
        "clean shutdown exits 0; log:\n{}",
        daemon.stdout()
    );
    // priority became `after`: the shutdown stops web (priority 1) last.
    let stopped = |svc: &str| {
        daemon
            .records()
            .iter()
            .position(|r| r["event"] == "stopped" && r["service"] == svc)
            .unwrap_or_else(|| panic!("no stopped event for {svc}:\n{}", daemon.stdout()))
    };
    assert!(stopped("web") > stopped("tick") && stopped("web") > stopped("worker"));
    assert!(
        daemon.tagged_pids().is_empty(),
        "no service outlives oneinit"
    );
}

#[test]
fn syslog_logfiles_are_a_comment_not_a_file_named_syslog() {
    let dir = TempDir::new().expect("temp dir");
    let conf = write_file(
        dir.path(),
        "supervisord.conf",
        "[program:web]\ncommand=/bin/web\nstdout_logfile=syslog\nstderr_logfile=syslog\n",
    );
    let (yaml, v, _) = import(&conf);
    let web = at(&v, "services.web");
    assert!(
        at(web, "logs.file").is_null(),
        "no log file for syslog:\n{yaml}"
    );
    assert!(!yaml.contains("file: syslog"), "{yaml}");
    for key in ["stdout_logfile", "stderr_logfile"] {
        assert!(
            yaml.contains(&format!(
                "# {key} = syslog: supervisord sent this output to syslog; oneinit captures it into its own log"
            )),
            "{key} comment missing:\n{yaml}"
        );
    }
    assert!(
        !yaml.contains("not converted: stderr_logfile"),
        "stderr_logfile=syslog is understood, not left out:\n{yaml}"
    );
    assert_checks(dir.path(), &yaml);
}

#[test]
fn an_include_that_matches_nothing_becomes_a_comment_and_a_warning() {
    let dir = TempDir::new().expect("temp dir");
    let conf = write_file(
        dir.path(),
        "supervisord.conf",
        "[include]\nfiles = conf.d/*.conf\n\n[program:web]\ncommand=/bin/web\n",
    );
    let (yaml, v, stderr) = import(&conf);
    assert_eq!(strings(&v, "services.web.command"), ["/bin/web"], "{yaml}");
    let at_line = format!("{}:2", conf.display());
    assert!(
        yaml.contains(&format!("# {at_line}: \"conf.d/*.conf\" matches no file")),
        "no comment for the empty include:\n{yaml}"
    );
    assert!(
        stderr.contains(&format!(
            "{at_line}: warning: [include] files pattern \"conf.d/*.conf\" matches no file"
        )),
        "no warning: {stderr}"
    );
    assert_checks(dir.path(), &yaml);
}
