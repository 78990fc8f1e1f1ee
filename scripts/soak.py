#!/usr/bin/env python3
"""Chaos soak: oneinit as PID 1 under random faults for a given time.

Owns issue 15 item 8. Starts the real oneinit as PID 1 of a new PID
namespace (`unshare --pid --fork --mount-proc`) with:

- `crash0..`: services that exit at once with a random code, or die by a
  random signal 1-64 (not the stop signals, which would stop, not kill);
- `victim0..`: long-running `sleep`s that the soak kills from outside with
  random signals, KILL and real-time signals included;
- `flood`: a service that writes bursts of log lines, over and over;
- `fwd`: a service that receives USR2 through `forward_signals`.

For `--duration` seconds it then does, at random: kill a victim, send
oneinit SIGHUP (a reload that adds or removes the `extra` service), SIGUSR1
(log reopen) or SIGUSR2 (forwarded), restart a service over the API, while
client threads flood the API with GET /v1/services and /metrics.

At the end it stops every service over the API and checks the invariants:

- every exit is counted: per service, `oneinit_service_exits_total` equals
  the number of `exited` records in oneinit's JSON log, and for the crash
  services it also matches the runs the services themselves recorded;
- no zombie is left whose parent is oneinit;
- oneinit's fd count and RSS are back near the baseline taken after a
  warm-up (fd +3, RSS +15%), both taken with only the long-running
  services up (crash loops hold pipes that come and go);
- every API request was answered;
- SIGTERM ends oneinit with exit code 0 and nothing is left in its namespace.

Exit code: 0 every check passed, 1 a check failed, 2 oneinit could not run.

    scripts/soak.py [--duration SECONDS] [--oneinit PATH] [--seed N]
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "bench"))
sys.path.insert(0, HERE)

import proctree  # noqa: E402
import stress  # noqa: E402
from stress import Hammer, UnixHTTPConnection, Watched, request, run_checked, scrape_exits  # noqa: E402

ROOT = os.path.dirname(HERE)
FD_TOLERANCE = 3
RSS_TOLERANCE = 0.15
# Signals that stop a process instead of ending it: a crash service must die.
STOPPING = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
CRASH_SIGNALS = [n for n in range(1, 65) if n not in STOPPING and n not in (32, 33)]


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


stress.log = log  # the shared Checks print as the soak


class Soak(Watched):
    """oneinit as PID 1 of its own namespace, with its config and files."""

    def __init__(self, binary, workdir, args):
        self.binary = binary
        self.workdir = workdir
        self.args = args
        self.config = os.path.join(workdir, "oneinit.yaml")
        self.runtime = os.path.join(workdir, "run")
        os.makedirs(self.runtime, exist_ok=True)
        self.sock = os.path.join(self.runtime, "oneinit.sock")
        self.log = os.path.join(workdir, "oneinit.out")
        self.unshare = None
        self.pid = None  # oneinit, as seen from here
        self.status = None

    def crash_command(self, i):
        runs = os.path.join(self.workdir, f"crash{i}.runs")
        sigs = " ".join(str(s) for s in CRASH_SIGNALS)
        # One byte of /dev/urandom picks the outcome: an exit code 0-3, or a
        # signal from the list, sent by the shell to itself.
        script = (
            f"echo x >> {runs}; n=$(od -An -N1 -tu1 /dev/urandom); n=$((n + 0)); "
            f"if [ $((n % 2)) -eq 0 ]; then exit $((n % 4)); fi; "
            f"set -- {sigs}; shift $((n % $#)); kill -$1 $$; exit 0"
        )
        # oneinit expands ${VAR} and turns `$$` into `$`: escape every `$`.
        return ["sh", "-c", script.replace("$", "$$")]

    def write_config(self, extra):
        services = {
            "keeper": {"command": ["sleep", "100000"]},
            "flood": {
                "command": ["sh", "-c", f"seq 1 {self.args.flood_lines}; sleep 1"],
                "restart": {"policy": "always", "delay": "100ms", "backoff": 1.0},
            },
            "fwd": {
                "command": ["sh", "-c", "trap 'echo got-usr2' USR2; while :; do sleep 1; done"],
                "forward_signals": ["USR2"],
            },
        }
        for i in range(self.args.crash):
            services[f"crash{i}"] = {
                "command": self.crash_command(i),
                "restart": {"policy": "always", "delay": "20ms", "backoff": 1.0},
            }
        for i in range(self.args.victims):
            services[f"victim{i}"] = {
                "command": ["sleep", "100000"],
                "restart": {"policy": "always", "delay": "20ms", "backoff": 1.0},
                "stop": {"timeout": "2s"},
            }
        if extra:
            services["extra"] = {"command": ["sleep", "100000"]}
        doc = {"shutdown": {"timeout": "30s"}, "services": services}
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)  # JSON is YAML: the file keeps its .yaml name
        os.replace(tmp, self.config)

    def start(self):
        env = dict(os.environ, ONEINIT_RUNTIME_DIR=self.runtime)
        with open(self.log, "ab") as out:
            self.unshare = subprocess.Popen(
                ["unshare", "--pid", "--fork", "--mount-proc",
                 self.binary, "--config", self.config, "--log-format", "json"],
                cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.pid is None:
            snap = proctree.snapshot()
            kids = [p for p, st in snap.items() if st[2] == self.unshare.pid and st[1] != "Z"]
            self.pid = kids[0] if kids else None
            time.sleep(0.02)
        return self.pid is not None

    def alive(self):
        if self.status is None and self.unshare.poll() is not None:
            self.status = self.unshare.returncode
        return self.status is None

    def api(self, method, path, timeout=10.0, body=None):
        headers = {"Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn = UnixHTTPConnection(self.sock, timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def ns_pids(self, name):
        """Pids of `name`'s instances as the API gives them: pids in
        oneinit's namespace."""
        try:
            status, body = self.api("GET", f"/v1/services/{name}")
        except (OSError, http.client.HTTPException):
            return []
        if status != 200:
            return []
        return [i["pid"] for i in json.loads(body).get("instances", []) if i.get("pid")]

    def host_pids(self, name):
        """Host pids of `name`'s instances, to signal from out here. The
        API's pids are the namespace's; on the host the same numbers are
        other processes (even threads of oneinit itself), so each is looked
        up among oneinit's children by its NSpid (one /proc pass)."""
        wanted = set(self.ns_pids(name))
        if not wanted:
            return []
        found = []
        for child, st in proctree.snapshot().items():
            if st[2] != self.pid or st[1] == "Z":
                continue
            try:
                with open(f"/proc/{child}/status") as f:
                    ns = next((line.split()[-1] for line in f if line.startswith("NSpid:")), None)
            except OSError:
                continue
            if ns is not None and int(ns) in wanted:
                found.append(child)
        return found

    def wait_api(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            try:
                status, body = request(self.sock, "GET", "/v1/services")
                if status == 200:
                    return True
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        return False


def sample(s):
    return proctree.fd_count(s.pid), proctree.status_rss_kib(s.pid)


def fd_targets(pid):
    """What each open descriptor of `pid` points at (socket:[..] as `socket`)."""
    out = {}
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            kind = target.split(":", 1)[0] if target.startswith(("socket:", "pipe:", "anon_inode:")) else target
            out[kind] = out.get(kind, 0) + 1
    except OSError:
        pass
    return out


def chaos(s, args, rng, seconds, tally):
    """Random faults for `seconds`; counts what it did in `tally`."""
    extra = False
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end and s.alive():
        action = rng.choices(
            ["kill", "hup", "usr1", "usr2", "restart"], weights=[10, 1, 2, 2, 2]
        )[0]
        if action == "kill":
            pids = s.host_pids(f"victim{rng.randrange(args.victims)}")
            if pids:
                sig = rng.choice([signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGSEGV,
                                  signal.SIGRTMIN + rng.randrange(0, 30)])
                try:
                    os.kill(pids[0], sig)
                    tally["kills"] += 1
                except ProcessLookupError:
                    pass
        elif action == "hup":
            extra = not extra
            s.write_config(extra)
            os.kill(s.pid, signal.SIGHUP)
            tally["reloads"] += 1
        elif action == "usr1":
            os.kill(s.pid, signal.SIGUSR1)
            tally["usr1"] += 1
        elif action == "usr2":
            os.kill(s.pid, signal.SIGUSR2)
            tally["usr2"] += 1
        elif action == "restart":
            name = rng.choice([f"victim{rng.randrange(args.victims)}", "keeper", "fwd"])
            try:
                status, _ = s.api("POST", f"/v1/services/{name}/restart", body="{}")
                tally["api_restarts"] += 1 if status == 200 else 0
                if status != 200:
                    tally["api_errors"].append(f"restart {name}: {status}")
            except (OSError, http.client.HTTPException) as e:
                tally["api_errors"].append(f"restart {name}: {e}")
        time.sleep(rng.uniform(0.01, 0.1))
    return extra


def start_services(s, names):
    for name in names:
        try:
            s.api("POST", f"/v1/services/{name}/start", body="{}")
        except (OSError, http.client.HTTPException):
            pass


def stop_everything(s, names):
    """POST .../stop?wait=true to every service; True when all of them ended."""
    bad = []
    deadline = time.monotonic() + 60  # the whole stop is bounded, whatever hangs
    for name in names:
        left = deadline - time.monotonic()
        if left <= 1:
            bad.append(f"{name}: not stopped within 60 s")
            continue
        try:
            status, body = s.api("POST", f"/v1/services/{name}/stop?wait=true&timeout={int(left)}s",
                                 timeout=left + 5, body="{}")
        except (OSError, http.client.HTTPException) as e:
            status, body = str(e), b""
        if status not in (200, 202):
            bad.append(f"{name}: {status} {body[:120]!r}")
    if bad:
        log(f"stop failed for {len(bad)} services, e.g. {bad[0]}")
    # Wait until none of them has a process left.
    deadline = max(deadline, time.monotonic() + 5)
    while time.monotonic() < deadline:
        if not any(s.ns_pids(name) for name in names):
            return not bad
        time.sleep(0.1)
    return False


def exited_records(logfile, event="exited"):
    """{service: how many records of `event`} in oneinit's own log."""
    counts = {}
    with open(logfile, errors="replace") as f:
        for line in f:
            if f'"{event}"' not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") == event and "stream" not in rec:
                counts[rec.get("service")] = counts.get(rec.get("service"), 0) + 1
    return counts


def check_accounting(s, args, checks, names):
    metrics = scrape_exits(s)
    if isinstance(metrics, str):
        checks.check("every exit counted in oneinit_service_exits_total", False, metrics)
        return 0
    logged = exited_records(s.log)
    off = {n: (metrics.get(n, 0), logged.get(n, 0)) for n in names if metrics.get(n, 0) != logged.get(n, 0)}
    total = sum(metrics.get(n, 0) for n in names)
    detail = f"{total:.0f} exits in metrics, {sum(logged.get(n, 0) for n in names)} `exited` records"
    if off:
        detail += "; off: " + ", ".join(f"{n} metrics {m:.0f} log {lg}" for n, (m, lg) in list(off.items())[:4])
    checks.check("every exit counted: metrics == exited records, per service", not off and total > 0, detail)
    runs_off = []
    stops = exited_records(s.log, "stopping")
    for i in range(args.crash):
        try:
            with open(os.path.join(s.workdir, f"crash{i}.runs"), "rb") as f:
                runs = f.read().count(b"\n")
        except OSError:
            runs = 0
        exits = metrics.get(f"crash{i}", 0)
        # A run stopped (by an API restart or the final stop) before its
        # `echo` has an exit but no line: each `stopping` record allows one.
        if not 0 <= exits - runs <= stops.get(f"crash{i}", 0):
            runs_off.append(f"crash{i}: runs {runs} exits {exits:.0f}")
    checks.check("crash services: every run has an exit", not runs_off,
                 "all match" if not runs_off else ", ".join(runs_off[:4]))
    return total


def check_after(s, checks, base):
    persistent = None
    for _ in range(3):
        z = set(proctree.zombies_of(s.pid))
        persistent = z if persistent is None else persistent & z
        time.sleep(0.5)
    checks.check("no zombie left", not persistent, f"{len(persistent)} zombies with ppid {s.pid}")
    time.sleep(1.0)
    fd, rss = sample(s)
    kinds = fd_targets(s.pid)
    grown = {k: n - s.base_fds.get(k, 0) for k, n in kinds.items() if n != s.base_fds.get(k, 0)}
    checks.check("fd count back near its baseline", fd is not None and fd <= base[0] + FD_TOLERANCE,
                 f"{base[0]} before, {fd} after (tolerance +{FD_TOLERANCE})"
                 + (f"; changed by kind: {grown}" if grown else ""))
    checks.check("RSS back near its baseline", rss is not None and rss <= base[1] * (1 + RSS_TOLERANCE),
                 f"{base[1] / 1024:.2f} MiB before, {(rss or 0) / 1024:.2f} MiB after "
                 f"({((rss or 0) / base[1] - 1) * 100:+.1f}%, tolerance +{RSS_TOLERANCE * 100:.0f}%)")


def shutdown(s, checks):
    ns_pids = set()
    me = os.getpid()
    snap = proctree.snapshot()
    ns_pids = proctree.descendants(s.pid, snap) - {s.pid}
    os.kill(s.pid, signal.SIGTERM)
    try:
        s.unshare.wait(timeout=40)
    except subprocess.TimeoutExpired:
        checks.check("clean shutdown on SIGTERM", False, "oneinit still alive 40 s after SIGTERM")
        return
    s.status = s.unshare.returncode
    snap = proctree.snapshot()
    left = [p for p in proctree.descendants(me, snap) - {me} if snap[p][1] != "Z"]
    left += [p for p in ns_pids if p in snap and snap[p][1] != "Z"]
    checks.check("clean shutdown on SIGTERM", s.status == 0 and not left,
                 f"exit code {s.status}, {len(left)} processes left")


def run(args, checks, workdir):
    rng = random.Random(args.seed)
    s = Soak(args.oneinit, workdir, args)
    s.write_config(False)
    if not s.start() or not s.wait_api(20):
        log(f"oneinit did not come up; its output ends: {s.tail()}")
        return 2
    log(f"oneinit is PID 1 of its namespace (pid {s.pid} here); seed {args.seed}")
    tally = {"kills": 0, "reloads": 0, "usr1": 0, "usr2": 0, "api_restarts": 0, "api_errors": []}
    # Warm-up: one short round of the same chaos, so the baseline is taken
    # after the one-time growth (allocator caches, code paged in).
    chaos(s, args, rng, args.warmup, tally)
    s.write_config(False)
    os.kill(s.pid, signal.SIGHUP)
    time.sleep(1.0)
    # fds and RSS are compared in the same steady state before and after:
    # only the long-running services up (crash loops and the flooder hold
    # pipes that come and go every few milliseconds).
    steady = ["keeper", "fwd"] + [f"victim{i}" for i in range(args.victims)]
    churn = ["flood"] + [f"crash{i}" for i in range(args.crash)]
    stop_everything(s, churn)
    time.sleep(2.0)
    base = sample(s)
    s.base_fds = fd_targets(s.pid)
    log(f"baseline after {args.warmup:.0f} s warm-up: {base[0]} fds, RSS {base[1] / 1024:.2f} MiB")
    start_services(s, churn)
    flood = Hammer(s.sock, args.clients, paths=("/v1/services", "/metrics", "/v1/graph", "/readyz"))
    flood.start()
    chaos(s, args, rng, args.duration, tally)
    flood.stop()
    if not s.alive():
        checks.check("oneinit survived the soak", False, f"it ended; its output ends: {s.tail()}")
        return 1
    log(f"chaos done: {tally['kills']} kills, {tally['reloads']} reloads, {tally['usr1']} USR1, "
        f"{tally['usr2']} USR2, {tally['api_restarts']} API restarts")
    answered = len(flood.latencies)
    checks.check("API answered every request", not flood.errors and answered > 0 and not tally["api_errors"],
                 f"{answered} GETs answered, {len(flood.errors)} failed, {len(tally['api_errors'])} restarts failed"
                 + (f"; first: {(flood.errors + tally['api_errors'])[0]}" if flood.errors or tally["api_errors"] else ""))
    s.write_config(False)
    os.kill(s.pid, signal.SIGHUP)
    time.sleep(1.0)
    names = ["keeper", "flood", "fwd"] + [f"crash{i}" for i in range(args.crash)] + \
            [f"victim{i}" for i in range(args.victims)]
    checks.check("every service stopped over the API", stop_everything(s, names),
                 f"{len(names)} services")
    total = check_accounting(s, args, checks, names)
    log(f"soak figures: {total:.0f} exits counted, {tally['kills']} outside kills")
    start_services(s, steady)
    time.sleep(2.0)
    check_after(s, checks, base)
    shutdown(s, checks)
    return 1 if checks.failed() else 0


def main():
    ap = argparse.ArgumentParser(description="oneinit chaos soak as PID 1")
    ap.add_argument("--duration", type=float, default=120.0, help="seconds of chaos after the warm-up")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds of chaos before the baseline")
    ap.add_argument("--crash", type=int, default=10, help="crash-looping services")
    ap.add_argument("--victims", type=int, default=10, help="sleeps killed from outside")
    ap.add_argument("--flood-lines", type=int, default=2000, help="log lines per burst of `flood`")
    ap.add_argument("--clients", type=int, default=3, help="API client threads")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--oneinit",
                    default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")),
                                         "release", "oneinit"))
    args = ap.parse_args()
    args.oneinit = os.path.abspath(args.oneinit)
    if not os.access(args.oneinit, os.X_OK):
        print(f"soak: {args.oneinit} is missing: build it with `cargo build --release` or pass --oneinit",
              file=sys.stderr)
        return 2
    if shutil.which("unshare") is None or os.geteuid() != 0:
        print("soak: needs root and unshare (util-linux) to run oneinit as PID 1", file=sys.stderr)
        return 2
    return run_checked("soak", run, args)


if __name__ == "__main__":
    sys.exit(main())
