#!/usr/bin/env python3
"""Benchmark driver: oneinit side by side with supervisord, s6 and runit.

Owns the run plan (which supervisor, which N, how many repetitions, in which
order), the medians, and the two outputs: results/latest.json (every raw run)
and results/latest.md (the tables and the target verdicts). Usually started by
run.sh, which installs the peers and builds oneinit first.

    python3 scripts/bench/bench.py [--quick | --smoke] [--reps R] [--only NAME,...]
                                   [--oneinit-static PATH] [--sections LIST]
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare  # noqa: E402
import drivers  # noqa: E402
import extras  # noqa: E402
import measure  # noqa: E402
import proctree  # noqa: E402
import report  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N = 1, 10, 100; 10 s idle window; 3 repetitions; "
                    "short extras; writes results/quick.* and compares with the committed latest.json")
    ap.add_argument("--smoke", action="store_true", help="harness self-check: N = 10, 1 repetition, 2 s idle, "
                    "tiny extras; writes to a temp dir unless --out is given")
    ap.add_argument("--reps", type=int, help="repetitions per figure (at least 3; default 5, --quick 3)")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated parts to run (default all: {','.join(SECTIONS)})")
    ap.add_argument("--oneinit-static", metavar="PATH",
                    help="a static (musl) oneinit, the binary or the dist/*.tar.gz holding it: "
                    "measured as one more column, oneinit-static")
    ap.add_argument("--baseline", default=os.path.join(HERE, "results", "latest.json"),
                    help="results to compare with (default: results/latest.json as committed)")
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
        "--oneinit-build",
        default="release build",
        help="how that binary was built, for the report (run.sh: the PGO build of "
        "scripts/build-release.sh)",
    )
    ap.add_argument(
        "--nice",
        type=int,
        default=-10,
        help="niceness for the harness and every supervisor it starts (default -10, so builds "
        "sharing the machine disturb the figures less; 0 to leave it)",
    )
    ap.add_argument("--out", help="folder for the results (default: results/, or a temp dir with --smoke)")
    args = ap.parse_args()
    if args.quick and args.smoke:
        ap.error("--quick and --smoke exclude each other")
    args.oneinit = os.path.abspath(args.oneinit)
    args.mode = "smoke" if args.smoke else ("quick" if args.quick else "full")
    args.reps = args.reps or {"smoke": 1, "quick": 3, "full": 5}[args.mode]
    if args.reps < 3 and not args.smoke:
        ap.error("--reps must be at least 3: every figure is a median of at least 3 runs (--smoke for 1)")
    default_ns = {"smoke": [10], "quick": [1, 10, 100], "full": [1, 10, 100, 1000]}[args.mode]
    args.ns = [int(x) for x in args.ns.split(",")] if args.ns else default_ns
    args.idle = args.idle if args.idle is not None else {"smoke": 2.0, "quick": 10.0, "full": 30.0}[args.mode]
    args.sections = [x for x in args.sections.split(",") if x]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {','.join(sorted(unknown))}; known: {','.join(SECTIONS)}")
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="oneinit-bench-smoke-") if args.smoke else os.path.join(HERE, "results")
    # Only a full run replaces the committed latest.*; --quick writes quick.*.
    args.stem = "latest" if args.mode == "full" else args.mode
    return args


SECTIONS = ["services", "restart", "logs", "api", "health"]
# Sizes of the oneinit-only parts: (log lines, API seconds per figure, health window seconds)
EXTRA_SIZES = {"full": (1_000_000, 10, 60.0), "quick": (200_000, 5, 15.0), "smoke": (10_000, 2, 4.0)}


def static_binary(path, tmproot):
    """The static oneinit: PATH itself, or the `oneinit` inside a .tar.gz."""
    if not path.endswith((".tar.gz", ".tgz")):
        return path
    import tarfile

    dest = os.path.join(tmproot, "static")
    with tarfile.open(path) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and os.path.basename(m.name) == "oneinit"]
        if not members:
            raise SystemExit(f"{path} holds no file named oneinit")
        try:
            tar.extract(members[0], dest, filter="data")
        except TypeError:  # Python without extraction filters
            tar.extract(members[0], dest)
    return os.path.join(dest, members[0].name)


def run_extras(args, tmproot, out):
    """The oneinit-only figures of issue 19 (each once, not repeated), into
    `out` as they come (an interrupt keeps the finished ones)."""
    lines, api_s, health_s = EXTRA_SIZES[args.mode]
    plan = [
        ("logs", lambda: extras.log_throughput(args.oneinit, lines, [1, 10])),
        ("api", lambda: extras.api_latency(args.oneinit, tmproot, api_s,
                                           floor=drivers.build_tool(tmproot, "httpfloor"))),
        ("health", lambda: extras.health_cpu(args.oneinit, tmproot, health_s)),
    ]
    for name, fn in plan:
        if name not in args.sections:
            continue
        log(f"{name} ...")
        try:
            out[name] = fn()
        except (extras.ExtraError, OSError, subprocess.SubprocessError) as e:
            out[name] = {"error": str(e)}
        finally:
            proctree.kill_descendants_of_self()
        log(f"{name}: " + json.dumps({k: v for k, v in out[name].items() if k != "raw"})[:400])


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
TOP_README_BEGIN = "<!-- bench:begin (written by scripts/bench/run.sh) -->"
TOP_README_END = "<!-- bench:end -->"


def replace_between(path, begin, end, body):
    """Replace what stands between the markers `begin` and `end` (None: the
    end of the file) in `path` with `body`; a file without them is left alone."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return
    if begin not in text or (end is not None and end not in text):
        return
    head, rest = text.split(begin, 1)
    tail = "" if end is None else end + rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(head + begin + body + tail)


def update_readmes(md, block):
    """scripts/bench/README.md gets the whole report after its marker (one
    heading level deeper, under "Latest results"); the project's README.md
    gets `block` between its benchmark markers."""
    body = "\n".join("#" + line if line.startswith("#") else line for line in md.splitlines())
    replace_between(os.path.join(HERE, "README.md"), README_MARKER, None, "\n\n" + body + "\n")
    replace_between(os.path.join(ROOT, "README.md"), TOP_README_BEGIN, TOP_README_END, "\n" + block)


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

    tmproot = tempfile.mkdtemp(prefix="oneinit-bench-")
    floor = drivers.build_tool(tmproot, "spawnfloor")
    static = static_binary(args.oneinit_static, tmproot) if args.oneinit_static else None
    every = drivers.all_drivers(args.oneinit, floor, static)
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

    started = datetime.datetime.now(datetime.timezone.utc)
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "quick": args.quick,
        "mode": args.mode,
        "sections": args.sections,
        "oneinit_static": args.oneinit_static,
        "oneinit_build": args.oneinit_build,
        "nice": args.nice,
        "reps": args.reps,
        "idle_reps": min(args.idle_reps, args.reps),
        "idle_window_s": args.idle,
        "ns": args.ns,
        "restart_window_s": 10.0,
        "skipped": skipped,
        "restart_delay": {d.name: d.restart_delay for d in usable if d.restarts},
        "stop_signal": {d.name: signal.Signals(d.stop_signal).name for d in usable},
    }
    runs = []
    extra = {}
    try:
        if "restart" in args.sections:
            meta["baseline_gap_ms"] = measure.baseline_gap_ms(tmproot)
        for rep in range(args.reps):
            idle = args.idle if rep < meta["idle_reps"] else 0
            for n in args.ns if "services" in args.sections else []:
                # Interleave supervisors so a load change on the machine hits all alike.
                for d in usable:
                    r = measure.run_services(d, n, idle, tmproot)
                    r["rep"] = rep
                    runs.append(r)
                    log(f"rep {rep + 1}/{args.reps} {d.name} N={n}: " + report.brief(r))
            for d in usable if "restart" in args.sections else []:
                if not d.restarts:
                    continue
                r = measure.run_restart(d, 10.0, tmproot)
                r["rep"] = rep
                runs.append(r)
                log(f"rep {rep + 1}/{args.reps} {d.name} restart: " + report.brief(r))
        run_extras(args, tmproot, extra)
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); writing what was measured")
        meta["interrupted"] = True
    finally:
        proctree.kill_descendants_of_self()

    meta["machine"]["loadavg_end"] = machine()["loadavg"]
    meta["duration_s"] = round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds())
    names = [d.name for d in usable]
    summary = summarize(runs, names, args.ns)
    doc = {"meta": meta, "summary": summary, "extras": extra, "runs": runs}
    # Read the baseline before writing: with --out results/ a full run replaces it.
    baseline, source = compare.load_baseline(args.baseline, ROOT)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{args.stem}.json"), "w") as f:
        json.dump(doc, f, indent=1)
    md = report.markdown(meta, summary, names, extra)
    if args.stem == "latest" and os.path.abspath(args.out) == os.path.join(HERE, "results"):
        update_readmes(md, report.readme_block(meta, summary, names, extra))
    lines, flagged = compare.table(doc, baseline, source)
    verdict = f"{flagged} figure(s) more than {compare.WORSE_BY * 100:.0f}% worse than {source or 'no baseline'}"
    lines.append(f"\n{verdict}")
    if args.stem != "latest":
        md += "\n".join(lines) + "\n"
    with open(os.path.join(args.out, f"{args.stem}.md"), "w") as f:
        f.write(md)
    print(md)
    if args.stem == "latest":
        print("\n".join(lines))
    log(f"results: {os.path.join(args.out, args.stem)}.json and .md")
    # Last: removing thousands of small files can take minutes on a busy disk.
    shutil.rmtree(tmproot, ignore_errors=True)
    return 130 if meta.get("interrupted") else 0


if __name__ == "__main__":
    sys.exit(main())
