#!/usr/bin/env python3
"""Stress test: crash-looping services, a hammered API and periodic reloads.

Owns issue 9 item 4. Starts the real oneinit with one idle `keeper` service,
runs a short warm-up storm (other service names; see `warm_up`), takes a
baseline (fd count, RSS), then reloads into a config that adds N
services crash-looping (`exit 1`, restart always, delay 10ms) for T seconds
while client threads hammer `GET /v1/services` over the unix socket and a
SIGHUP reload happens every 5 s. Then it stops the storm and checks:

- no zombie whose parent is oneinit;
- oneinit's fd count back to its baseline (± a small tolerance);
- oneinit's RSS back within 10% of its baseline;
- every run of every crash service accounted for in oneinit_service_exits_total
  and by an `exited` record in oneinit's JSON log;
- every API request answered 200 with a service list;
- oneinit exits 0 on SIGTERM, leaving no process behind.

Features that have not landed (API, metrics, reload) are detected at run time
(no socket, 404, SIGHUP ignored or fatal) and their checks are skipped with a
printed note, never faked. Exit code: 0 all checks passed, 1 a check failed,
2 oneinit could not be run at all.

    scripts/stress.py [--small] [--services N] [--duration T] [--oneinit PATH]
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))

import proctree  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FD_TOLERANCE = 3
RSS_TOLERANCE = 0.10


def log(msg):
    print(f"[stress {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket."""

    def __init__(self, path, timeout=5.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


def request(sock_path, method, path, timeout=5.0):
    """(status, body bytes); raises OSError / HTTPException when unreachable."""
    conn = UnixHTTPConnection(sock_path, timeout)
    try:
        conn.request(method, path, headers={"Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Checks:
    """Collects check results and skip notes for the summary."""

    def __init__(self):
        self.results = []  # (name, ok, detail)
        self.notes = []

    def check(self, name, ok, detail):
        self.results.append((name, ok, detail))
        log(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")

    def skip(self, note):
        self.notes.append(note)
        log(f"SKIP {note}")

    def failed(self):
        return any(not ok for _, ok, _ in self.results)


class Watched:
    """What stress.py and soak.py read of the oneinit under test: the end of
    its output (`self.log`) and its live children (`self.pid`)."""

    def tail(self, n=5):
        try:
            with open(self.log, "rb") as f:
                data = f.read()[-3000:].decode("utf-8", "replace")
        except OSError:
            return ""
        return " | ".join(data.strip().splitlines()[-n:])

    def children(self):
        snap = proctree.snapshot()
        return {p: st for p, st in snap.items() if st[2] == self.pid and st[1] != "Z"}


class OneInit(Watched):
    """The oneinit process under test, with its config file and runtime dir."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.config = os.path.join(workdir, "oneinit.yaml")
        self.runtime = os.path.join(workdir, "run")
        os.makedirs(self.runtime, exist_ok=True)
        self.sock = os.path.join(self.runtime, "oneinit.sock")
        self.log = os.path.join(workdir, "oneinit.out")
        self.proc = None
        self.status = None

    def write_config(self, n_crash, prefix="c"):
        lines = ["services:", "  keeper:", '    command: ["sleep", "100000"]']
        for i in range(n_crash):
            runs = os.path.join(self.workdir, f"{prefix}{i}.runs")
            lines += [
                f"  {prefix}{i}:",
                f'    command: ["sh", "-c", "echo x >> {runs}; exit 1"]',
                "    restart: {policy: always, delay: 10ms, backoff: 1.0}",
            ]
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(tmp, self.config)  # a reload never sees a half-written file

    def start(self):
        env = dict(os.environ, ONEINIT_RUNTIME_DIR=self.runtime)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [self.binary, "--config", self.config, "--log-format", "json"],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.status = None
        return self.proc.pid

    @property
    def pid(self):
        return self.proc.pid

    def reap(self):
        for pid, status in proctree.reap_all().items():
            if self.proc and pid == self.proc.pid:
                self.status = status
                self.proc.returncode = status

    def alive(self):
        self.reap()
        return self.status is None


    def wait_keeper(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                return False
            if any(st[0] == "sleep" for st in self.children().values()):
                return True
            time.sleep(0.05)
        return False


def count_runs(workdir, n):
    per = {}
    for i in range(n):
        try:
            with open(os.path.join(workdir, f"c{i}.runs"), "rb") as f:
                per[f"c{i}"] = f.read().count(b"\n")
        except OSError:
            per[f"c{i}"] = 0
    return per


def probe_api(oi, timeout=5.0):
    """'ok', or a note saying why the API cannot be used."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, body = request(oi.sock, "GET", "/v1/services")
            if status == 200 and "services" in json.loads(body):
                return "ok"
            last = f"GET /v1/services answered {status}"
            if status == 404:
                return last + " (API not built yet)"
        except (OSError, http.client.HTTPException, ValueError) as e:
            last = f"{oi.sock}: {e}"
        time.sleep(0.1)
    return f"API unreachable ({last})"


def scrape_exits(oi):
    """{service: exits summed over outcomes}, or a note string when unavailable."""
    try:
        status, body = request(oi.sock, "GET", "/metrics")
    except (OSError, http.client.HTTPException) as e:
        return f"GET /metrics failed: {e}"
    if status != 200:
        return f"GET /metrics answered {status} (metrics not built yet)"
    text = body.decode("utf-8", "replace")
    if "oneinit_" not in text:
        return "GET /metrics has no oneinit_ metric yet"
    out = {}
    pat = re.compile(r'^oneinit_service_exits_total\{([^}]*)\}\s+([0-9.eE+]+)', re.M)
    for labels, value in pat.findall(text):
        m = re.search(r'service="([^"]*)"', labels)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + float(value)
    return out


class Hammer:
    """Client threads that GET `paths` in turn (default /v1/services) as fast
    as they can until stopped. /v1/services must answer its list; /readyz
    may answer 503; anything else must answer 200."""

    def __init__(self, sock, clients, paths=("/v1/services",)):
        self.sock = sock
        self.clients = clients
        self.paths = paths
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.latencies = []
        self.errors = []
        self.threads = []

    def _run(self, n):
        conn = None
        done = 0
        while not self.stop_ev.is_set():
            path = self.paths[(n + done) % len(self.paths)]
            if conn is None or done % 10 == 0:
                # A fresh connection every 10 requests exercises accept/close too.
                if conn:
                    conn.close()
                conn = UnixHTTPConnection(self.sock, 5.0)
            t0 = time.monotonic()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                if path == "/v1/services":
                    ok = resp.status == 200 and "services" in json.loads(body)
                else:
                    ok = resp.status == 200 or (path == "/readyz" and resp.status == 503)
                err = None if ok else f"{path}: status {resp.status}"
            except (OSError, http.client.HTTPException, ValueError) as e:
                err = f"{type(e).__name__}: {e}"
                conn.close()
                conn = None
            with self.lock:
                if err:
                    self.errors.append(err)
                else:
                    self.latencies.append(time.monotonic() - t0)
            done += 1
        if conn:
            conn.close()

    def start(self):
        for n in range(self.clients):
            t = threading.Thread(target=self._run, args=(n,), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=10)


def sample(oi):
    return proctree.fd_count(oi.pid), proctree.status_rss_kib(oi.pid)


def wait_storm_over(oi, timeout):
    """True once oneinit has no `sh` child for 1 s (the crash loops are gone)."""
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        busy = any(st[0] in ("sh", "echo") for st in oi.children().values())
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= 1.0:
            return True
        time.sleep(0.05)
    return False


def storm(oi, args, checks, reload_ok, api_ok):
    """Runs the storm for args.duration seconds; returns peak (fd, rss) seen."""
    hammer = Hammer(oi.sock, args.clients) if api_ok else None
    if hammer:
        hammer.start()
    t_end = time.monotonic() + args.duration
    next_reload = time.monotonic() + args.reload_every
    reloads = 0
    peak_fd = peak_rss = 0
    zombie_samples = []
    while time.monotonic() < t_end:
        if not oi.alive():
            break
        if reload_ok and time.monotonic() >= next_reload:
            os.kill(oi.pid, signal.SIGHUP)
            reloads += 1
            next_reload += args.reload_every
        fd, rss = sample(oi)
        peak_fd, peak_rss = max(peak_fd, fd or 0), max(peak_rss, rss or 0)
        zombie_samples.append(len(proctree.zombies_of(oi.pid)))
        time.sleep(0.5)
    if hammer:
        hammer.stop()
        lat = sorted(hammer.latencies)
        if lat:
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
            detail = (
                f"{len(lat)} requests ({len(lat) / args.duration:.0f}/s), {len(hammer.errors)} errors; "
                f"latency p50 {statistics.median(lat) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max {lat[-1] * 1000:.1f} ms"
            )
        else:
            detail = f"no successful request, {len(hammer.errors)} errors"
        if hammer.errors:
            detail += f"; first error: {hammer.errors[0]}"
        checks.check("API answered every request during the storm", bool(lat) and not hammer.errors, detail)
    log(
        f"storm done: {reloads} reloads, peak fd {peak_fd}, peak RSS {peak_rss / 1024:.1f} MiB, "
        f"transient zombies max {max(zombie_samples, default=0)}"
    )
    return peak_fd, peak_rss


def stop_by_api(oi, args):
    """POST .../stop to every crash service; True when all were accepted and the loops ended."""
    codes = []
    for i in range(args.services):
        try:
            status, _ = request(oi.sock, "POST", f"/v1/services/c{i}/stop", timeout=10)
        except (OSError, http.client.HTTPException) as e:
            status = str(e)
        codes.append(status)
    bad = [c for c in codes if c not in (200, 202)]
    if bad:
        log(f"POST .../stop did not work for {len(bad)} services (e.g. {bad[0]})")
        return False
    return wait_storm_over(oi, 30)


def stop_by_reload(oi):
    """Reload back to the keeper-only config; True once the crash loops are gone."""
    oi.write_config(0)
    os.kill(oi.pid, signal.SIGHUP)
    return wait_storm_over(oi, 30)


def check_exits(oi, args, checks, how):
    exits = scrape_exits(oi)
    if isinstance(exits, str):
        checks.skip(f"exit accounting: {exits}")
        return
    runs = count_runs(oi.workdir, args.services)
    total_runs = sum(runs.values())
    total_exits = sum(exits.get(s, 0) for s in runs)
    # When the storm was stopped by API every run has exited: exits may exceed
    # runs only by a run killed before its `echo`. Otherwise one run per
    # service may still be in flight at the scrape.
    lo, hi = (0, 1) if how == "api" else (-1, 1)
    bad = {s: (r, exits.get(s, 0)) for s, r in runs.items() if not (lo <= exits.get(s, 0) - r <= hi)}
    detail = f"{total_runs} runs seen by the services, {total_exits:.0f} exits in oneinit_service_exits_total"
    if bad:
        detail += f"; {len(bad)} services off, e.g. " + ", ".join(
            f"{s}: runs {r} exits {e:.0f}" for s, (r, e) in list(bad.items())[:3]
        )
    checks.check("every exit accounted for in oneinit_service_exits_total", not bad and total_runs > 0, detail)


def check_log_exits(oi, args, checks):
    """Every run of every crash service has an `exited` record in oneinit's JSON log."""
    runs = count_runs(oi.workdir, args.services)
    exited = {}
    try:
        with open(oi.log, errors="replace") as f:
            for line in f:
                if '"exited"' not in line:
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if rec.get("event") == "exited" and rec.get("service") in runs:
                    exited[rec["service"]] = exited.get(rec["service"], 0) + 1
    except OSError as e:
        checks.skip(f"log accounting: cannot read {oi.log}: {e}")
        return
    # After the storm is stopped every run has ended; a run stopped before its
    # `echo` has an exit but no line in its file.
    bad = {s: (r, exited.get(s, 0)) for s, r in runs.items() if not 0 <= exited.get(s, 0) - r <= 1}
    detail = f"{sum(runs.values())} runs seen by the services, {sum(exited.values())} `exited` log records"
    if bad:
        detail += f"; {len(bad)} services off, e.g. " + ", ".join(
            f"{s}: runs {r} exited {e}" for s, (r, e) in list(bad.items())[:3]
        )
    checks.check("every exit logged (event=exited in the JSON log)", not bad and sum(runs.values()) > 0, detail)


def check_after(oi, args, checks, base, how):
    persistent = None
    for _ in range(3):
        z = set(proctree.zombies_of(oi.pid))
        persistent = z if persistent is None else persistent & z
        time.sleep(0.5)
    checks.check("no zombie left", not persistent, f"{len(persistent)} zombies with ppid {oi.pid}")
    if base is None:
        checks.skip("fd/RSS comparison: no baseline before the storm (reload not available)")
        return
    time.sleep(1.0)
    fd, rss = sample(oi)
    grown = growth_by_mapping(getattr(oi, "base_maps", {}), proctree.rss_by_mapping(oi.pid))
    if grown:
        log("RSS growth by mapping: " + ", ".join(f"{name} {kib:+d} KiB" for name, kib in grown))
    checks.check(
        "fd count back to its baseline",
        fd is not None and fd <= base[0] + FD_TOLERANCE,
        f"{base[0]} before, {fd} after (tolerance +{FD_TOLERANCE})",
    )
    checks.check(
        "RSS back within 10% of its baseline",
        rss is not None and rss <= base[1] * (1 + RSS_TOLERANCE),
        f"{base[1] / 1024:.2f} MiB before, {rss / 1024:.2f} MiB after ({(rss / base[1] - 1) * 100:+.1f}%; "
        f"cold start before the warm-up: {getattr(oi, 'cold_rss', 0) / 1024:.2f} MiB)"
        if rss
        else "oneinit gone",
    )


def growth_by_mapping(before, after):
    """The mappings whose RSS changed, largest growth first (KiB)."""
    names = set(before) | set(after)
    deltas = [(n, after.get(n, 0) - before.get(n, 0)) for n in names]
    return sorted((d for d in deltas if d[1]), key=lambda d: -d[1])[:8]


def shutdown(oi, checks):
    os.kill(oi.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while oi.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if oi.status is None:
        checks.check("clean shutdown on SIGTERM", False, "oneinit still alive 30 s after SIGTERM")
        return
    me = os.getpid()
    snap = proctree.snapshot()
    left = [p for p in proctree.descendants(me, snap) - {me} if snap[p][1] != "Z"]
    code = os.WEXITSTATUS(oi.status) if os.WIFEXITED(oi.status) else 128 + os.WTERMSIG(oi.status)
    checks.check("clean shutdown on SIGTERM", code == 0 and not left, f"exit code {code}, {len(left)} processes left")


def run(args, checks, workdir):
    oi = OneInit(args.oneinit, workdir)
    oi.write_config(0)
    oi.start()
    if not oi.wait_keeper(30):
        log(f"oneinit does not run services yet ({'exited' if not oi.alive() else 'no keeper after 30 s'}); "
            f"its output ends: {oi.tail()}")
        return 2
    api = probe_api(oi)
    api_ok = api == "ok"
    if not api_ok:
        checks.skip(f"API hammering and API stop: {api}")
    time.sleep(1.0)
    cold = sample(oi)
    oi.cold_rss = cold[1]
    log(f"cold: pid {oi.pid}, {cold[0]} fds, RSS {cold[1] / 1024:.2f} MiB")
    if args.warmup > 0:
        warm_up(oi, args, api_ok)
    base = sample(oi)
    oi.base_maps = proctree.rss_by_mapping(oi.pid)
    log(f"baseline: pid {oi.pid}, {base[0]} fds, RSS {base[1] / 1024:.2f} MiB")

    oi.write_config(args.services)
    os.kill(oi.pid, signal.SIGHUP)
    reload_ok = wait_first_runs(oi, 5.0)
    if not reload_ok:
        why = "SIGHUP killed oneinit" if not oi.alive() else "SIGHUP did not add the services within 5 s"
        checks.skip(f"reloads: {why} (reload not built yet); the storm starts at boot instead")
        base = None
        if oi.alive():
            os.kill(oi.pid, signal.SIGKILL)
        proctree.kill_descendants_of_self()
        oi.reap()
        oi.start()
        if not wait_first_runs(oi, 10.0):
            log(f"the crash services never ran; oneinit output ends: {oi.tail()}")
            return 2
        api_ok = api_ok and probe_api(oi) == "ok"
    log(f"storm: {args.services} services crash-looping for {args.duration:.0f} s, "
        f"{args.clients if api_ok else 0} API clients, reload every {args.reload_every:.0f} s"
        f"{'' if reload_ok else ' (reload skipped)'}")
    storm(oi, args, checks, reload_ok, api_ok)
    if not oi.alive():
        checks.check("oneinit survived the storm", False, f"it ended; its output ends: {oi.tail()}")
        return 1
    # Stop the storm: by API first, so the services (and their metric series)
    # still exist for the exit accounting; else by a reload that removes them,
    # scraping the metrics just before it.
    how = "api" if api_ok and stop_by_api(oi, args) else None
    if api_ok:
        check_exits(oi, args, checks, how)
    else:
        checks.skip("exit accounting: no API, so no /metrics")
    if reload_ok:
        if stop_by_reload(oi):
            how = how or "reload"
    if how is None:
        checks.skip("stopping the storm: neither API stop nor reload worked; checks run with the storm going")
    else:
        check_log_exits(oi, args, checks)
    check_after(oi, args, checks, base if how else None, how)
    shutdown(oi, checks)
    return 1 if checks.failed() else 0


def warm_up(oi, args, api_ok):
    """A short storm of the same kind before the baseline, with services of
    other names (w0, w1, ...: the exit accounting is about the c services).

    The first storm sizes things once and for all: malloc's per-thread
    caches and free lists, actix-web's buffers, the code of reloads and
    crash loops paged in. That one-time growth is not what the RSS check is
    about (memory the storm leaves behind: a leak grows again in every
    storm), so the baseline is taken after it; the cold RSS is printed too.
    """
    log(f"warm-up: {args.services} services crash-looping for {args.warmup:.0f} s")
    oi.write_config(args.services, prefix="w")
    os.kill(oi.pid, signal.SIGHUP)
    if not wait_first_runs(oi, 5.0, prefix="w"):
        log("warm-up: the services did not start (reload not working?); baseline taken cold")
        oi.write_config(0)
        return
    hammer = Hammer(oi.sock, args.clients) if api_ok else None
    if hammer:
        hammer.start()
    time.sleep(args.warmup / 2)
    os.kill(oi.pid, signal.SIGHUP)
    time.sleep(args.warmup / 2)
    if hammer:
        hammer.stop()
    if api_ok:
        scrape_exits(oi)
    stop_by_reload(oi)
    time.sleep(2.0)


def wait_first_runs(oi, timeout, prefix="c"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not oi.alive():
            return False
        if os.path.exists(os.path.join(oi.workdir, f"{prefix}0.runs")):
            return True
        time.sleep(0.05)
    return False


def main():
    ap = argparse.ArgumentParser(description="oneinit stress test: crash loops + API hammering + reloads")
    ap.add_argument("--small", action="store_true", help="CI size: 20 services for 10 s")
    ap.add_argument("--services", type=int, help="crash-looping services (default 200, --small 20)")
    ap.add_argument("--duration", type=float, help="storm length in seconds (default 60, --small 10)")
    ap.add_argument("--reload-every", type=float, default=5.0, help="seconds between SIGHUP reloads")
    ap.add_argument("--clients", type=int, default=4, help="API client threads")
    ap.add_argument("--warmup", type=float, default=3.0,
                    help="seconds of the same storm before the baseline is taken (0: baseline taken cold)")
    ap.add_argument(
        "--oneinit",
        default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "oneinit"),
    )
    args = ap.parse_args()
    args.services = args.services or (20 if args.small else 200)
    args.duration = args.duration or (10.0 if args.small else 60.0)
    args.oneinit = os.path.abspath(args.oneinit)
    if not os.access(args.oneinit, os.X_OK):
        print(f"stress: {args.oneinit} is missing: build it with `cargo build --release` or pass --oneinit", file=sys.stderr)
        return 2

    return run_checked("stress", run, args)


def run_checked(title, run_fn, args):
    """Runs `run_fn(args, checks, workdir)` as oneinit's reaper in a fresh
    workdir, ends every process it left on the way out (SIGTERM included),
    prints the summary and returns the exit code. Shared by stress.py and
    soak.py."""
    proctree.become_subreaper()

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    checks = Checks()
    workdir = tempfile.mkdtemp(prefix=f"oneinit-{title}-")
    code = 2
    try:
        code = run_fn(args, checks, workdir)
    except KeyboardInterrupt as e:
        log(f"interrupted ({e})")
        code = 130
    finally:
        proctree.kill_descendants_of_self()
    print(f"\n== {title} summary ==")
    for name, ok, detail in checks.results:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    for note in checks.notes:
        print(f"SKIP  {note}")
    if checks.results:
        print(f"{sum(ok for _, ok, _ in checks.results)} passed, {sum(not ok for _, ok, _ in checks.results)} failed")
    else:
        print(f"{title}: no check could run")
    if code != 0:
        print(f"workdir kept for inspection: {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
