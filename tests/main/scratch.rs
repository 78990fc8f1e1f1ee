//! The static build in an empty image, without Docker: a root directory
//! holding only the static `oneinit` and `onecli` from the release tarball,
//! a static busybox, /etc/passwd and /etc/group, and a config. oneinit runs
//! in it as PID 1 (`unshare --pid --mount` + `chroot`), once on a writable
//! root and once on a read-only bind mount of it with a tmpfs on /run (as
//! `docker run --read-only --tmpfs /run`). Checked: services run, `user:
//! nobody` works from the image's /etc/passwd, onecli in the same root
//! answers from the API socket, SIGTERM ends it with 0.
//!
//! aarch64: the aarch64 oneinit and onecli run under `qemu-aarch64-static`,
//! invoked explicitly (no binfmt_misc registration is needed, or changed:
//! this machine has none). The services are the host's static busybox,
//! which the kernel runs natively when the emulated oneinit execs it, so
//! everything between clone and exec (signals, fds, setresuid/setresgid to
//! nobody, rlimits) is the aarch64 code under test.
//!
//! The tarballs come from `scripts/build-static.sh ARCH` (built here when
//! missing: a release build, so these tests are ignored by default and run
//! by scripts/test.sh).

use crate::util;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use util::{secs, wait_until, KillOnDrop};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// `dist/oneinit-VERSION-ARCH-linux-musl.tar.gz`, built when missing, its
/// `.sha256` checked.
fn tarball(arch: &str) -> PathBuf {
    let name = format!("oneinit-{VERSION}-{arch}-linux-musl.tar.gz");
    let path = Path::new(REPO).join("dist").join(&name);
    if !path.exists() {
        let status = Command::new("scripts/build-static.sh")
            .arg(arch)
            .current_dir(REPO)
            .env_clear()
            .envs(crate::docker_build::toolchain_env())
            .status()
            .expect("run scripts/build-static.sh");
        assert!(status.success(), "scripts/build-static.sh {arch} failed");
    }
    let check = Command::new("sha256sum")
        .args(["-c", &format!("{name}.sha256")])
        .current_dir(Path::new(REPO).join("dist"))
        .output()
        .expect("sha256sum");
    assert!(
        check.status.success(),
        "{name}: checksum mismatch: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    path
}

const CONFIG: &str = r#"
services:
  hello:
    type: oneshot
    command: ["/bin/sh", "-c", "echo hello from scratch"]
  worker:
    requires: [hello]
    user: nobody
    command: ["/bin/sh", "-c", "echo running as $(id -un):$(id -gn) $(id -u); touch /tmp/probe 2>/dev/null && echo root writable || echo root read-only; exec sleep 1000"]
"#;

/// Builds the root: the tarball's two binaries, busybox with the applets
/// the config uses, passwd/group, the config, mount points.
fn make_root(arch: &str, dir: &Path) -> PathBuf {
    let root = dir.join("root");
    for sub in ["bin", "etc/oneinit", "proc", "run", "dev", "tmp", "usr/bin"] {
        fs::create_dir_all(root.join(sub)).expect("mkdir");
    }
    let unpack = dir.join("unpack");
    fs::create_dir_all(&unpack).expect("mkdir");
    let status = Command::new("tar")
        .args(["-xzf"])
        .arg(tarball(arch))
        .args(["--strip-components=1", "-C"])
        .arg(&unpack)
        .status()
        .expect("tar");
    assert!(status.success(), "unpacking the tarball failed");
    for bin in ["oneinit", "onecli"] {
        fs::copy(unpack.join(bin), root.join("bin").join(bin)).expect("copy binary");
    }
    let busybox = which("busybox").expect("busybox (apt-get install busybox-static)");
    fs::copy(&busybox, root.join("bin/busybox")).expect("copy busybox");
    for applet in ["sh", "echo", "id", "sleep", "touch", "true"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).expect("symlink");
    }
    if arch != std::env::consts::ARCH {
        let qemu = which(&format!("qemu-{arch}-static")).expect("qemu-user-static");
        fs::copy(qemu, root.join(format!("usr/bin/qemu-{arch}-static"))).expect("copy qemu");
    }
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .expect("passwd");
    fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
    fs::write(root.join("etc/oneinit/oneinit.yaml"), CONFIG).expect("config");
    fs::write(root.join("dev/null"), "").expect("mount point");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).expect("chmod /tmp");
    root
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The command that runs `bin` (in the root) for `arch`.
fn in_root(arch: &str, bin: &str) -> Vec<String> {
    if arch == std::env::consts::ARCH {
        vec![format!("/bin/{bin}")]
    } else {
        vec![
            format!("/usr/bin/qemu-{arch}-static"),
            format!("/bin/{bin}"),
        ]
    }
}

/// Mounts in the new mount namespace, then oneinit as PID 1 in the root.
const HARNESS: &str = r#"
set -e
root=$1; readonly_root=$2; shift 2
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount --bind /dev/null "$root/dev/null"
if [ "$readonly_root" = ro ]; then
  mount -t tmpfs -o mode=0755 tmpfs "$root/run"
  mount -o remount,bind,ro "$root"
fi
exec chroot "$root" "$@"
"#;

fn run_scratch(arch: &str, readonly: bool) {
    let dir = tempfile::Builder::new()
        .prefix("oneinit-scratch")
        .tempdir()
        .expect("tempdir");
    let root = make_root(arch, dir.path());
    let out = dir.path().join("stdout.log");
    let err = dir.path().join("stderr.log");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--pid",
        "--fork",
        "--kill-child",
        "sh",
        "-c",
        HARNESS,
        "sh",
    ])
    .arg(&root)
    .arg(if readonly { "ro" } else { "rw" })
    .args(in_root(arch, "oneinit"))
    .args(["--config", "/etc/oneinit/oneinit.yaml"])
    .env_clear()
    .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    .stdin(Stdio::null())
    .stdout(fs::File::create(&out).expect("stdout"))
    .stderr(fs::File::create(&err).expect("stderr"));
    let mut guard = KillOnDrop(cmd.spawn().expect("start unshare"));
    let outer = guard.0.id() as i32;
    let log = || {
        fs::read_to_string(&out).unwrap_or_default() + &fs::read_to_string(&err).unwrap_or_default()
    };
    let limit = if arch == std::env::consts::ARCH {
        secs(20)
    } else {
        secs(90)
    };

    let expected_probe = if readonly {
        "root read-only"
    } else {
        "root writable"
    };
    let seen = wait_until(limit, || {
        let text = log();
        text.contains("hello from scratch")
            && text.contains("running as nobody:nogroup 65534")
            && text.contains(expected_probe)
    });
    assert!(
        seen,
        "services did not run as expected in the {arch} root:\n{}",
        log()
    );

    // onecli from the same root, in the same namespaces, over the socket.
    let mut pid = None;
    wait_until(secs(5), || {
        pid = util::children_of(outer).into_iter().next();
        pid.is_some()
    });
    let pid = pid.expect("oneinit's pid");
    let mut status = String::new();
    let answered = wait_until(limit, || {
        let o = Command::new("nsenter")
            .args([
                "--target",
                &pid.to_string(),
                "--mount",
                "--pid",
                "--root",
                "--wd",
            ])
            .args(in_root(arch, "onecli"))
            .args(["--output", "json", "status"])
            .env_clear()
            .output()
            .expect("nsenter");
        status =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        o.status.success() && status.contains("\"worker\"") && status.contains("\"ready\"")
    });
    assert!(
        answered,
        "onecli status in the root: {status}\noneinit:\n{}",
        log()
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let mut code = None;
    wait_until(limit, || {
        code = guard.0.try_wait().ok().flatten().map(|s| s.code());
        code.is_some()
    });
    assert_eq!(
        code,
        Some(Some(0)),
        "oneinit's exit in the {arch} root:\n{}",
        log()
    );
}

#[test]
#[ignore = "needs root and the static build (scripts/build-static.sh); run by scripts/test.sh"]
fn x86_64_static_oneinit_runs_as_pid1_in_an_empty_root() {
    run_scratch("x86_64", false);
}

#[test]
#[ignore = "needs root and the static build (scripts/build-static.sh); run by scripts/test.sh"]
fn x86_64_static_oneinit_runs_on_a_read_only_root() {
    run_scratch("x86_64", true);
}

#[test]
#[ignore = "needs root, the static aarch64 build and qemu-user-static; run by scripts/test.sh"]
fn aarch64_static_oneinit_runs_as_pid1_under_qemu() {
    run_scratch("aarch64", false);
}

#[test]
#[ignore = "needs root, the static aarch64 build and qemu-user-static; run by scripts/test.sh"]
fn aarch64_static_oneinit_runs_on_a_read_only_root_under_qemu() {
    run_scratch("aarch64", true);
}
