#!/usr/bin/env python3
"""Benchmark driver: oneinit side by side with supervisord, s6 and runit.

Owns the run plan (which supervisor, which N, how many repetitions, in which
order), the medians, and the two outputs: results/latest.json (every raw run)
and results/latest.md (the tables and the target verdicts). Usually started by
run.sh, which installs the peers and builds oneinit first.

    python3 scripts/bench/bench.py [--quick] [--reps R] [--only NAME,...]
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import drivers  # noqa: E402
import measure  # noqa: E402
import proctree  # noqa: E402
import report  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 1, 10, 100; 10 s idle window; 3 repetitions")
    ap.add_argument("--reps", type=int, help="repetitions per figure (at least 3; default 5, --quick 3)")
    ap.add_argument("--idle-reps", type=int, default=3, help="repetitions that include the idle window")
    ap.add_argument("--only", help="comma-separated supervisors to run (oneinit,supervisord,s6,runit)")
    ap.add_argument("--ns", help="comma-separated service counts (default 1,10,100,1000; --quick 1,10,100)")
    ap.add_argument("--idle", type=float, help="idle window in seconds (default 30, --quick 10)")
    ap.add_argument(
        "--oneinit",
        default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "oneinit"),
        help="path of the oneinit binary",
    )
    ap.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="niceness for the harness and every supervisor it starts (default -10, so builds "
        "sharing the machine disturb the figures less; 0 to leave it)",
    )
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="folder for latest.json/latest.md")
    args = ap.parse_args()
    args.reps = args.reps or (3 if args.quick else 5)
    if args.reps < 3:
        ap.error("--reps must be at least 3: every figure is a median of at least 3 runs")
    args.ns = [int(x) for x in args.ns.split(",")] if args.ns else ([1, 10, 100] if args.quick else [1, 10, 100, 1000])
    args.idle = args.idle if args.idle is not None else (10.0 if args.quick else 30.0)
    return args


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    try:
        with open("/proc/pressure/cpu") as f:
            pressure = f.readline().strip()
    except OSError:
        pressure = "n/a"
    return {
        "cpu_pressure": pressure,
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu": model,
        "python": platform.python_version(),
        "loadavg": load,
    }


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def median_of(runs, key):
    vals = [r[key] for r in runs if key in r and r[key] is not None]
    return statistics.median(vals) if vals else None


def summarize(runs, names, ns):
    out = {"services": {}, "restart": {}}
    for name in names:
        for n in ns:
            rs = [r for r in runs if r["kind"] == "services" and r["supervisor"] == name and r["n"] == n]
            if not rs:
                continue
            ok = [r for r in rs if "error" not in r]
            s = {"runs": len(rs), "ok_runs": len(ok), "clean_runs": sum(1 for r in rs if r.get("clean"))}
            for key in (
                "startup_s",
                "rss_kib",
                "pss_kib",
                "idle_cpu_ms",
                "idle_sched_cpu_ms",
                "idle_ctx_switches",
                "shutdown_s",
                "supervisor_processes",
            ):
                s[key] = median_of(ok, key)
            s["errors"] = sorted({r["error"] for r in rs if "error" in r})
            out["services"].setdefault(name, {})[str(n)] = s
        rs = [r for r in runs if r["kind"] == "restart" and r["supervisor"] == name]
        if rs:
            ok = [r for r in rs if "error" not in r]
            s = {"runs": len(rs), "ok_runs": len(ok)}
            for key in ("respawns", "gap_median_ms", "gap_min_ms", "gap_p90_ms", "logged_exit_to_spawn_median_ms"):
                s[key] = median_of(ok, key)
            s["errors"] = sorted({r["error"] for r in rs if "error" in r})
            out["restart"][name] = s
    return out


README_MARKER = "<!-- latest table: copied from results/latest.md -->"


def update_readme(md):
    """Replace everything after the marker in README.md with the new report."""
    path = os.path.join(HERE, "README.md")
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return
    if README_MARKER not in text:
        return
    # One heading level deeper, so the report nests under "Latest results".
    body = "\n".join("#" + line if line.startswith("#") else line for line in md.splitlines())
    with open(path, "w") as f:
        f.write(text.split(README_MARKER)[0] + README_MARKER + "\n\n" + body + "\n")


def main():
    args = parse_args()
    proctree.become_subreaper()
    if args.nice:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)
        except OSError as e:
            log(f"cannot set niceness {args.nice} ({e}); running at the default")
            args.nice = 0

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    every = drivers.all_drivers(args.oneinit)
    if args.only:
        wanted = set(args.only.split(","))
        every = [d for d in every if d.name in wanted]
    usable, skipped = [], {}
    for d in every:
        why = d.available()
        if why:
            skipped[d.name] = why
            log(f"skipping {d.name}: {why}")
        else:
            usable.append(d)

    tmproot = tempfile.mkdtemp(prefix="oneinit-bench-")
    started = datetime.datetime.now(datetime.timezone.utc)
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "quick": args.quick,
        "nice": args.nice,
        "reps": args.reps,
        "idle_reps": min(args.idle_reps, args.reps),
        "idle_window_s": args.idle,
        "ns": args.ns,
        "restart_window_s": 10.0,
        "skipped": skipped,
        "restart_delay": {d.name: d.restart_delay for d in usable},
        "stop_signal": {d.name: signal.Signals(d.stop_signal).name for d in usable},
    }
    runs = []
    try:
        meta["baseline_gap_ms"] = measure.baseline_gap_ms(tmproot)
        for rep in range(args.reps):
            idle = args.idle if rep < meta["idle_reps"] else 0
            for n in args.ns:
                # Interleave supervisors so a load change on the machine hits all alike.
                for d in usable:
                    r = measure.run_services(d, n, idle, tmproot)
                    r["rep"] = rep
                    runs.append(r)
                    log(f"rep {rep + 1}/{args.reps} {d.name} N={n}: " + report.brief(r))
            for d in usable:
                r = measure.run_restart(d, 10.0, tmproot)
                r["rep"] = rep
                runs.append(r)
                log(f"rep {rep + 1}/{args.reps} {d.name} restart: " + report.brief(r))
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); writing what was measured")
        meta["interrupted"] = True
    finally:
        proctree.kill_descendants_of_self()

    meta["machine"]["loadavg_end"] = machine()["loadavg"]
    meta["duration_s"] = round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds())
    names = [d.name for d in usable]
    summary = summarize(runs, names, args.ns)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump({"meta": meta, "summary": summary, "runs": runs}, f, indent=1)
    md = report.markdown(meta, summary, names)
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(md)
    if os.path.abspath(args.out) == os.path.join(HERE, "results"):
        update_readme(md)
    print(md)
    # Last: removing thousands of small files can take minutes on a busy disk.
    shutil.rmtree(tmproot, ignore_errors=True)
    return 130 if meta.get("interrupted") else 0


if __name__ == "__main__":
    sys.exit(main())
