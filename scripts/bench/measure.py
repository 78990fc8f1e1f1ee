"""The measurements: one supervisor run per call, returning plain dicts.

Owns the timing and sampling logic (startup, memory, idle cost, shutdown,
restart gaps). Supervisor specifics come from a driver (drivers.py); /proc
parsing from proctree.py. Every wait is bounded; every process started here
is killed in `finally`, whatever happens.
"""

import os
import statistics
import subprocess
import tempfile
import time

import proctree

POLL = 0.005  # 5 ms, as the brief asks
SETTLE = 2.0  # after the last service appeared, before sampling memory/idle


class RunError(Exception):
    """A run that could not be measured; the message says why."""


def _tail(path, lines=5):
    try:
        with open(path, "rb") as f:
            data = f.read()[-4000:]
    except OSError:
        return ""
    return " | ".join(data.decode("utf-8", "replace").strip().splitlines()[-lines:])


def _describe_status(status):
    if os.WIFEXITED(status):
        return f"exit code {os.WEXITSTATUS(status)}"
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"raw status {status}"


class Supervisor:
    """One running supervisor: spawn, watch, stop, always clean up."""

    def __init__(self, driver, workdir):
        self.driver = driver
        self.workdir = workdir
        self.log = os.path.join(workdir, "supervisor.out")
        self.proc = None
        self.status = None
        self.t_spawn = None

    def start(self):
        out = open(self.log, "wb")
        try:
            self.t_spawn = time.monotonic()
            self.proc = subprocess.Popen(
                self.driver.argv(self.workdir),
                cwd=self.workdir,
                env=self.driver.env(self.workdir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as e:
            raise RunError(f"{self.driver.name} could not be started: {e}") from e
        finally:
            out.close()
        return self.proc.pid

    def reap(self):
        """Reap exited children; remember the supervisor's own status."""
        for pid, status in proctree.reap_all().items():
            if self.proc and pid == self.proc.pid:
                self.status = status
                # We reaped it ourselves: tell Popen so it does not try again.
                self.proc.returncode = (
                    os.WEXITSTATUS(status) if os.WIFEXITED(status) else -os.WTERMSIG(status)
                )

    def check_alive(self, what):
        self.reap()
        if self.status is not None:
            raise RunError(
                f"{self.driver.name} {_describe_status(self.status)} while {what}; "
                f"its output ends: {_tail(self.log)}"
            )

    def wait_services(self, n, timeout):
        """Seconds from spawn until n service processes exist in its tree."""
        watcher = proctree.TreeWatcher(self.proc.pid, final_comms=self.driver.service_comms)
        deadline = self.t_spawn + timeout
        while True:
            tree = watcher.poll()
            _sup, svc = proctree.split_tree(tree, self.driver.service_comms)
            if len(svc) >= n:
                return time.monotonic() - self.t_spawn
            self.check_alive(f"starting {n} services ({len(svc)} up)")
            if time.monotonic() > deadline:
                raise RunError(f"{self.driver.name}: only {len(svc)}/{n} services after {timeout}s")
            time.sleep(POLL)

    def split(self):
        tree = proctree.descendants(self.proc.pid)
        snap = {pid: proctree.read_stat(pid) for pid in tree}
        comms = {pid: st[0] for pid, st in snap.items() if st and st[1] != "Z"}
        return proctree.split_tree(comms, self.driver.service_comms)

    def stop(self, timeout):
        """Seconds from the stop signal until the supervisor and every service are gone."""
        sup, svc = self.split()
        everyone = sup | svc
        t0 = time.monotonic()
        os.kill(self.proc.pid, self.driver.stop_signal)
        deadline = t0 + timeout
        while True:
            self.reap()
            left = [p for p in everyone if proctree.alive(p)]
            if not left:
                return time.monotonic() - t0
            if time.monotonic() > deadline:
                raise RunError(
                    f"{self.driver.name}: {len(left)} processes still alive {timeout}s after "
                    f"signal {self.driver.stop_signal}"
                )
            time.sleep(POLL)

    def leftovers(self):
        """Live processes still below the harness after the supervisor exited."""
        me = os.getpid()
        snap = proctree.snapshot()
        return sorted(
            f"{p}:{snap[p][0]}" for p in proctree.descendants(me, snap) - {me} if snap[p][1] != "Z"
        )

    def cleanup(self):
        proctree.kill_descendants_of_self()
        self.reap()


def _sample(pids):
    ticks = sum(proctree.cpu_ticks(p) for p in pids)
    threads = {}
    for p in pids:
        threads.update(proctree.thread_counters(p))
    return ticks, threads


def run_services(driver, n, idle_secs, tmproot, startup_timeout=180, stop_timeout=90):
    """One run with n `sleep` services: startup, memory, idle (if idle_secs), shutdown."""
    workdir = tempfile.mkdtemp(prefix=f"{driver.name}-n{n}-", dir=tmproot)
    driver.layout(workdir, n, "sleep")
    sup = Supervisor(driver, workdir)
    res = {"supervisor": driver.name, "n": n, "kind": "services", "workdir": workdir}
    try:
        sup.start()
        res["startup_s"] = sup.wait_services(n, startup_timeout)
        time.sleep(SETTLE)
        sup.check_alive("settling")
        sup_pids, svc_pids = sup.split()
        res["supervisor_processes"] = len(sup_pids)
        res["service_processes"] = len(svc_pids)
        if idle_secs:
            a = _sample(sup_pids)
            time.sleep(idle_secs)
            sup.check_alive("idle")
            sup_after, _ = sup.split()
            b = _sample(sup_after)
            res["idle_window_s"] = idle_secs
            ctx, ns, gone = proctree.thread_deltas(a[1], b[1])
            res["idle_cpu_ms"] = (b[0] - a[0]) * 1000.0 / proctree.CLK_TCK
            res["idle_ctx_switches"] = ctx
            res["idle_sched_cpu_ms"] = ns / 1e6
            res["idle_threads_exited"] = gone
            res["idle_pids_changed"] = sup_after != sup_pids
            sup_pids = sup_after
        rss = pss = 0
        for pid in sup_pids:
            m = proctree.smaps_rollup(pid)
            if m:
                rss += m[0]
                pss += m[1]
        res["rss_kib"] = rss
        res["pss_kib"] = pss
        res["shutdown_s"] = sup.stop(stop_timeout)
        res["exit_status"] = _describe_status(sup.status) if sup.status is not None else None
        left = sup.leftovers()
        res["leftovers"] = left
        res["clean"] = not left
    except RunError as e:
        res["error"] = str(e)
        res["clean"] = False
    finally:
        sup.cleanup()
    return res


def _read_stamps(path):
    try:
        with open(path) as f:
            out = []
            for line in f:
                try:
                    out.append(float(line.strip()))
                except ValueError:
                    continue
            return out
    except OSError:
        return []


def gap_stats(stamps, window):
    """Respawns within `window` seconds after the first spawn, and the gaps in ms."""
    if not stamps:
        return {"respawns": 0, "gaps_ms": []}
    first = stamps[0]
    inside = [t for t in stamps if t <= first + window]
    gaps = [(b - a) * 1000.0 for a, b in zip(inside, inside[1:])]
    return {"respawns": len(inside) - 1, "gaps_ms": gaps}


def summarize_gaps(gaps):
    if not gaps:
        return {}
    s = sorted(gaps)
    return {
        "gap_median_ms": statistics.median(s),
        "gap_min_ms": s[0],
        "gap_p90_ms": s[min(len(s) - 1, int(len(s) * 0.9))],
        "gap_max_ms": s[-1],
    }


def oneinit_exit_to_spawn_ms(log_path):
    """exited -> next spawned delays (ms) from oneinit's JSON log, if it logs both events."""
    import json
    from datetime import datetime

    delays, last_exit = [], None
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                    ev = rec.get("event")
                    ts = datetime.fromisoformat(rec["ts"].replace("Z", "+00:00")).timestamp()
                except (ValueError, KeyError, AttributeError, TypeError):
                    continue
                if ev == "exited":
                    last_exit = ts
                elif ev == "spawned" and last_exit is not None:
                    delays.append((ts - last_exit) * 1000.0)
                    last_exit = None
    except OSError:
        return []
    return delays


def run_restart(driver, window, tmproot, first_timeout=30, stop_timeout=30):
    """One service that exits at once: respawns in `window` seconds and the gaps."""
    workdir = tempfile.mkdtemp(prefix=f"{driver.name}-restart-", dir=tmproot)
    stamp = os.path.join(workdir, "stamps")
    driver.layout(workdir, 1, "restart", stamp=stamp)
    sup = Supervisor(driver, workdir)
    res = {"supervisor": driver.name, "kind": "restart", "window_s": window, "workdir": workdir}
    try:
        sup.start()
        deadline = time.monotonic() + first_timeout
        while not _read_stamps(stamp):
            sup.check_alive("waiting for the first spawn")
            if time.monotonic() > deadline:
                raise RunError(f"{driver.name}: the crashing service never ran in {first_timeout}s")
            time.sleep(POLL)
        time.sleep(window + 0.5)
        sup.check_alive("restarting the service")
        stats = gap_stats(_read_stamps(stamp), window)
        res["respawns"] = stats["respawns"]
        res.update(summarize_gaps(stats["gaps_ms"]))
        if driver.name == "oneinit":
            delays = oneinit_exit_to_spawn_ms(sup.log)
            if delays:
                res["logged_exit_to_spawn_median_ms"] = statistics.median(delays)
        sup.stop(stop_timeout)
    except RunError as e:
        res["error"] = str(e)
    finally:
        sup.cleanup()
    return res


def baseline_gap_ms(tmproot, runs=50):
    """Spawn-to-spawn gap of the same shell line run back to back with no supervisor.

    The restart figures include this cost (fork, exec sh, exec date); subtracting
    it estimates the delay the supervisor itself adds.
    """
    workdir = tempfile.mkdtemp(prefix="baseline-", dir=tmproot)
    stamp = os.path.join(workdir, "stamps")
    line = f"date +%s.%N >> {stamp}; exit 1"
    subprocess.run(
        ["sh", "-c", f'i=0; while [ $i -lt {runs} ]; do sh -c "{line}"; i=$((i+1)); done'],
        timeout=60,
        check=False,
    )
    stamps = _read_stamps(stamp)
    gaps = [(b - a) * 1000.0 for a, b in zip(stamps, stamps[1:])]
    return statistics.median(gaps) if gaps else None
