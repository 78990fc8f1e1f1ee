"""One driver per supervisor: how to lay out N services and start/stop it.

Owns the per-supervisor knowledge (config files, argv, which signal shuts it
down, the smallest restart delay it supports). The measurements themselves
live in bench.py and know nothing about any particular supervisor.

Every driver lays out two kinds of workload in a fresh directory:
- "sleep": N services running `sleep 100000`;
- "restart": one service that appends `date +%s.%N` to a stamp file and exits 1
  at once, restarted with the smallest delay the supervisor accepts.
"""

import os
import shutil
import signal
import sys

SLEEP_ARGV = ["sleep", "100000"]
# The same shell line for every supervisor, so spawn-to-spawn gaps compare.
STAMP_LINE = "date +%s.%N >> {stamp}; exit 1"


class Driver:
    """Base: subclasses fill `name`, `layout` and `argv`."""

    name = "?"
    # Signal that makes the supervisor stop every service and exit.
    stop_signal = signal.SIGTERM
    # What the smallest restart delay is, for the report.
    restart_delay = "?"
    # comm values of service processes (everything else in the tree is the supervisor's).
    service_comms = ("sleep",)
    # False for a driver that cannot restart a service (the spawn floor).
    restarts = True

    def available(self):
        """None when usable, else a sentence saying what is missing."""
        return None

    def layout(self, workdir, n, kind, stamp=None):
        raise NotImplementedError

    def argv(self, workdir):
        raise NotImplementedError

    def env(self, workdir):
        return dict(os.environ)


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _yaml_str(s):
    """A double-quoted YAML scalar (JSON string syntax is valid YAML)."""
    import json

    return json.dumps(s)


def _run_dirs(root, n, kind, stamp):
    """The service folders s6-svscan and runsvdir scan: one `run` script per
    service (n `sleep` services, or one `crash` service that stamps)."""
    os.makedirs(root)
    if kind == "sleep":
        scripts = {f"s{i}": "exec " + " ".join(SLEEP_ARGV) for i in range(n)}
    else:
        scripts = {"crash": STAMP_LINE.format(stamp=stamp)}
    for name, line in scripts.items():
        d = os.path.join(root, name)
        os.makedirs(d)
        _write(os.path.join(d, "run"), "#!/bin/sh\n" + line + "\n", 0o755)


class OneInit(Driver):
    name = "oneinit"
    restart_delay = "10ms (restart: {policy: always, delay: 10ms, backoff: 1.0})"

    def __init__(self, binary, name="oneinit"):
        # Absolute: the supervisor runs with its temp dir as working directory.
        self.binary = os.path.abspath(binary)
        # "oneinit-static" for the musl build (--oneinit-static).
        self.name = name

    def available(self):
        if not os.access(self.binary, os.X_OK):
            return f"{self.binary} is missing: run `cargo build --release`"
        return None

    def layout(self, workdir, n, kind, stamp=None):
        lines = ["services:"]
        if kind == "sleep":
            argv = ", ".join(_yaml_str(a) for a in SLEEP_ARGV)
            for i in range(n):
                lines.append(f"  s{i}:")
                lines.append(f"    command: [{argv}]")
        else:
            cmd = STAMP_LINE.format(stamp=stamp)
            lines.append("  crash:")
            lines.append(f"    command: [\"sh\", \"-c\", {_yaml_str(cmd)}]")
            lines.append("    restart: {policy: always, delay: 10ms, backoff: 1.0}")
        _write(os.path.join(workdir, "oneinit.yaml"), "\n".join(lines) + "\n")

    def argv(self, workdir):
        return [
            self.binary,
            "--config",
            os.path.join(workdir, "oneinit.yaml"),
            "--log-format",
            "json",
        ]

    def env(self, workdir):
        env = dict(os.environ)
        # Each run gets its own runtime dir, so parallel runs never share a socket.
        env["ONEINIT_RUNTIME_DIR"] = workdir
        return env


class Supervisord(Driver):
    name = "supervisord"
    restart_delay = "none configurable (autorestart=true, startsecs=0; main loop ticks at 1 s)"
    # Under supervisord `sleep` is a direct child; the supervisor is the python process.

    def available(self):
        try:
            import supervisor  # noqa: F401
        except ImportError:
            return "the supervisor package is missing: run `python3 -m pip install supervisor`"
        return None

    def layout(self, workdir, n, kind, stamp=None):
        logs = os.path.join(workdir, "logs")
        os.makedirs(logs, exist_ok=True)
        conf = [
            "[supervisord]",
            "nodaemon=true",
            f"logfile={workdir}/supervisord.log",
            f"pidfile={workdir}/supervisord.pid",
            f"childlogdir={logs}",
            "minfds=8192",
            "minprocs=200",
            "",
        ]
        if kind == "sleep":
            for i in range(n):
                conf += [
                    f"[program:s{i}]",
                    "command=" + " ".join(SLEEP_ARGV),
                    "autorestart=true",
                    "redirect_stderr=true",
                    f"stdout_logfile={logs}/s{i}.log",
                    "",
                ]
        else:
            cmd = STAMP_LINE.format(stamp=stamp).replace("%", "%%")
            conf += [
                "[program:crash]",
                f"command=sh -c '{cmd}'",
                "autorestart=true",
                "startsecs=0",
                "startretries=1000000",
                "redirect_stderr=true",
                f"stdout_logfile={logs}/crash.log",
                "",
            ]
        _write(os.path.join(workdir, "supervisord.conf"), "\n".join(conf))

    def argv(self, workdir):
        # The interpreter itself, not a pyenv shim: the shim costs ~100 ms per start.
        return [
            sys.executable,
            "-m",
            "supervisor.supervisord",
            "-n",
            "-c",
            os.path.join(workdir, "supervisord.conf"),
        ]


class S6(Driver):
    name = "s6"
    max_services = 500
    restart_delay = "1 s (s6-supervise waits at least 1 s between two ./run spawns)"

    def available(self):
        if not shutil.which("s6-svscan"):
            return "s6-svscan is missing: run `apt-get install -y s6`"
        return None

    def layout(self, workdir, n, kind, stamp=None):
        # s6-svscan supervises at most 500 service dirs unless told more with -c.
        self.max_services = max(500, 2 * n)
        _run_dirs(os.path.join(workdir, "scan"), n, kind, stamp)

    def argv(self, workdir):
        return ["s6-svscan", "-c", str(self.max_services), os.path.join(workdir, "scan")]


class Runit(Driver):
    name = "runit"
    restart_delay = "1 s (runsv waits 1 s before restarting a service that exited)"
    # runsvdir exits on SIGTERM and leaves its runsv children running; SIGHUP
    # makes it send SIGTERM to every runsv (each then stops its service) and exit.
    stop_signal = signal.SIGHUP

    def available(self):
        if not shutil.which("runsvdir"):
            return "runsvdir is missing: run `apt-get install -y runit`"
        return None

    def layout(self, workdir, n, kind, stamp=None):
        sv = os.path.join(workdir, "sv")
        _run_dirs(sv, n, kind, stamp)
        # runsvdir ignores a directory modified within the current second and
        # looks again a second later (its guard against half-written dirs); in a
        # real container the service dirs are old, so age it like one.
        old = os.stat(sv).st_mtime - 60
        os.utime(sv, (old, old))

    def argv(self, workdir):
        return ["runsvdir", os.path.join(workdir, "sv")]


class SpawnFloor(Driver):
    """Not a supervisor: spawnfloor.c posix_spawn()s the N services and waits
    for SIGTERM. Its figures are the floor every supervisor is compared to."""

    name = "floor"
    restart_delay = "n/a (spawns once)"
    restarts = False

    def __init__(self, binary):
        self.binary = binary
        self.n = 0

    def available(self):
        if not self.binary or not os.access(self.binary, os.X_OK):
            return "spawnfloor could not be built: install a C compiler (`apt-get install -y gcc`)"
        return None

    def layout(self, workdir, n, kind, stamp=None):
        self.n = n

    def argv(self, workdir):
        return [self.binary, str(self.n)] + SLEEP_ARGV


def build_tool(outdir, name):
    """Compiles scripts/bench/NAME.c (spawnfloor, httpfloor) into outdir with
    `cc -O2`; answers the binary's path, or None (no compiler, or it failed:
    said on stderr)."""
    import subprocess

    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        return None
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.c")
    out = os.path.join(outdir, name)
    r = subprocess.run([cc, "-O2", "-o", out, src], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print(f"{name}.c did not build: {r.stderr.strip()}", file=sys.stderr)
        return None
    return out


def all_drivers(oneinit_binary, floor_binary=None, oneinit_static=None):
    out = [OneInit(oneinit_binary)]
    if oneinit_static:
        out.append(OneInit(oneinit_static, name="oneinit-static"))
    return out + [SpawnFloor(floor_binary), Supervisord(), S6(), Runit()]
