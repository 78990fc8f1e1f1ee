"""Turning medians into the markdown report and the target verdicts.

Owns the presentation only: units, the oneinit/peer ratios and the check of
each target from issue 9 against the measured medians. It reads the summary
built by bench.py and never measures anything itself.
"""

PEERS_ORDER = ["floor", "supervisord", "s6", "runit"]

# (summary key, row label, scale to display unit, format)
ROWS = [
    ("startup_s", "startup (ms)", 1000.0, "{:.1f}"),
    ("rss_kib", "RSS (MiB)", 1 / 1024.0, "{:.2f}"),
    ("pss_kib", "PSS (MiB)", 1 / 1024.0, "{:.2f}"),
    ("idle_cpu_ms", "idle CPU, utime+stime (ms)", 1.0, "{:.0f}"),
    ("idle_sched_cpu_ms", "idle CPU, schedstat (ms)", 1.0, "{:.2f}"),
    ("idle_ctx_switches", "idle context switches", 1.0, "{:.0f}"),
    ("shutdown_s", "shutdown (ms)", 1000.0, "{:.1f}"),
    ("supervisor_processes", "supervisor processes", 1.0, "{:.0f}"),
]


def brief(r):
    """One progress line for a run."""
    if "error" in r:
        return "ERROR " + r["error"]
    if r["kind"] == "restart":
        gap = r.get("gap_median_ms")
        return f"respawns={r.get('respawns')} gap_median={gap:.1f}ms" if gap is not None else f"respawns={r.get('respawns')}"
    parts = [f"startup={r['startup_s'] * 1000:.1f}ms", f"rss={r['rss_kib'] / 1024:.2f}MiB", f"pss={r['pss_kib'] / 1024:.2f}MiB"]
    if "idle_ctx_switches" in r:
        parts.append(f"idle ctx={r['idle_ctx_switches']} cpu={r['idle_cpu_ms']:.0f}ms/{r['idle_sched_cpu_ms']:.2f}ms")
    parts.append(f"shutdown={r['shutdown_s'] * 1000:.1f}ms")
    if r.get("leftovers"):
        parts.append(f"LEFTOVERS={len(r['leftovers'])}")
    return " ".join(parts)


def _fmt(v, scale, fmt):
    return "n/a" if v is None else fmt.format(v * scale)


def ratio(a, b):
    """oneinit/peer as text; n/a when either side is missing."""
    if a is None or b is None:
        return "n/a"
    if b == 0:
        return "= (both 0)" if a == 0 else "∞ (peer 0)"
    return f"{a / b:.2f}"


def _services_tables(meta, summary, names):
    out = []
    peers = [p for p in PEERS_ORDER if p in names]
    for n in meta["ns"]:
        out.append(f"\n### N = {n} services\n")
        static = "oneinit" in names and "oneinit-static" in names
        head = ["figure"] + names + [f"oneinit/{p}" for p in peers if "oneinit" in names]
        head += ["static/glibc"] if static else []
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "---|" * len(head))
        for key, label, scale, fmt in ROWS:
            if key.startswith("idle"):
                label = f"{label} over {meta['idle_window_s']:.0f} s"
            row = [label]
            vals = {}
            for name in names:
                s = summary["services"].get(name, {}).get(str(n), {})
                vals[name] = s.get(key)
                row.append(_fmt(vals[name], scale, fmt))
            if "oneinit" in names:
                row += [ratio(vals["oneinit"], vals[p]) for p in peers]
            if static:
                row.append(ratio(vals["oneinit-static"], vals["oneinit"]))
            out.append("| " + " | ".join(row) + " |")
        row = ["clean runs (all gone, no leftovers)"]
        for name in names:
            s = summary["services"].get(name, {}).get(str(n), {})
            row.append(f"{s.get('clean_runs', 0)}/{s.get('runs', 0)}")
        if "oneinit" in names:
            row += [""] * (len(peers) + (1 if static else 0))
        out.append("| " + " | ".join(row) + " |")
    return out


def _restart_table(meta, summary, names):
    out = [
        "\n## Restart of a service that exits at once (10 s window)\n",
        f"Each spawn appends `date +%s.%N` to a file. The same shell line run back to back "
        f"with no supervisor has a spawn-to-spawn gap of "
        f"{_fmt(meta.get('baseline_gap_ms'), 1, '{:.2f}')} ms (baseline); "
        f"`gap - baseline` estimates the delay the supervisor adds.\n",
        "| supervisor | smallest delay | respawns / 10 s | median gap (ms) | min gap | p90 gap | gap - baseline (ms) | oneinit log: exited→spawned (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    base = meta.get("baseline_gap_ms")
    for name in names:
        s = summary["restart"].get(name, {})
        g = s.get("gap_median_ms")
        extra = None if g is None or base is None else g - base
        out.append(
            "| "
            + " | ".join(
                [
                    name,
                    meta["restart_delay"].get(name, "?"),
                    _fmt(s.get("respawns"), 1, "{:.0f}"),
                    _fmt(g, 1, "{:.1f}"),
                    _fmt(s.get("gap_min_ms"), 1, "{:.1f}"),
                    _fmt(s.get("gap_p90_ms"), 1, "{:.1f}"),
                    _fmt(extra, 1, "{:.1f}"),
                    _fmt(s.get("logged_exit_to_spawn_median_ms"), 1, "{:.1f}"),
                ]
            )
            + " |"
        )
    return out


def verdicts(meta, summary):
    """[(target, measured, verdict)] for the issue 9 targets at N = 100 (and 1000)."""
    sv = summary["services"]
    o = sv.get("oneinit", {}).get("100", {})
    s6 = sv.get("s6", {}).get("100", {})
    win = meta["idle_window_s"]
    out = []

    def add(target, a, b, ok, text):
        verdict = "n/a" if a is None or (b is None and ok is None) else ("PASS" if ok else "MISS")
        out.append((target, text if a is not None else "not measured", verdict))

    a, b = o.get("startup_s"), s6.get("startup_s")
    add("startup ≤ s6-svscan's", a, b, None if a is None or b is None else a <= b,
        f"{_fmt(a, 1000, '{:.1f}')} ms vs {_fmt(b, 1000, '{:.1f}')} ms, ratio {ratio(a, b)}")
    a = o.get("rss_kib")
    add("RSS ≤ 8 MiB", a, 0, None if a is None else a <= 8 * 1024, f"{_fmt(a, 1 / 1024, '{:.2f}')} MiB")
    a, b = o.get("pss_kib"), s6.get("pss_kib")
    add("PSS ≤ s6's", a, b, None if a is None or b is None else a <= b,
        f"{_fmt(a, 1 / 1024, '{:.2f}')} MiB vs {_fmt(b, 1 / 1024, '{:.2f}')} MiB, ratio {ratio(a, b)}")
    a = o.get("idle_ctx_switches")
    add(f"idle context switches over {win:.0f} s: a handful (≤ 5)", a, 0, None if a is None else a <= 5,
        f"{_fmt(a, 1, '{:.0f}')} (s6: {_fmt(s6.get('idle_ctx_switches'), 1, '{:.0f}')})")
    a, b = o.get("idle_sched_cpu_ms"), s6.get("idle_sched_cpu_ms")
    add(f"idle CPU over {win:.0f} s ≤ s6's + 10 ms", a, b, None if a is None or b is None else a <= b + 10,
        f"{_fmt(a, 1, '{:.2f}')} ms vs {_fmt(b, 1, '{:.2f}')} ms (schedstat); utime+stime "
        f"{_fmt(o.get('idle_cpu_ms'), 1, '{:.0f}')} vs {_fmt(s6.get('idle_cpu_ms'), 1, '{:.0f}')} ms")
    a, b = o.get("shutdown_s"), s6.get("shutdown_s")
    add("shutdown ≤ s6's", a, b, None if a is None or b is None else a <= b,
        f"{_fmt(a, 1000, '{:.1f}')} ms vs {_fmt(b, 1000, '{:.1f}')} ms, ratio {ratio(a, b)}")
    r = summary["restart"].get("oneinit", {})
    g, base = r.get("gap_median_ms"), meta.get("baseline_gap_ms")
    extra = None if g is None or base is None else g - base
    logged = r.get("logged_exit_to_spawn_median_ms")
    judged = logged if logged is not None else extra
    add("restart delay 10 ms honoured ±5 ms", judged, 0, None if judged is None else 5 <= judged <= 15,
        f"exited→spawned {_fmt(logged, 1, '{:.1f}')} ms (log); gap {_fmt(g, 1, '{:.1f}')} ms "
        f"- baseline {_fmt(base, 1, '{:.1f}')} ms = {_fmt(extra, 1, '{:.1f}')} ms")
    k = sv.get("oneinit", {}).get("1000")
    if k is not None:
        ok = k["runs"] > 0 and k["clean_runs"] == k["runs"]
        add("1000 services start and stop cleanly", k["runs"], 0, ok,
            f"{k['clean_runs']}/{k['runs']} clean runs; startup {_fmt(k.get('startup_s'), 1000, '{:.0f}')} ms, "
            f"shutdown {_fmt(k.get('shutdown_s'), 1000, '{:.0f}')} ms")
    else:
        out.append(("1000 services start and stop cleanly", "not run (N = 1000 was not in this run)", "n/a"))
    return out


def _per_service_memory(meta, summary, names):
    """RSS/PSS cost of one more service: (X(1000) - X(100)) / 900."""
    if not {100, 1000} <= set(meta["ns"]):
        return []
    out = [
        "\n## Memory per service\n",
        "(X(N=1000) - X(N=100)) / 900: what one more service costs the supervisor.\n",
        "| supervisor | RSS at N = 1000 (MiB) | RSS per service (KiB) | PSS per service (KiB) |",
        "|---|---|---|---|",
    ]
    for name in names:
        per_n = summary["services"].get(name, {})
        a, b = per_n.get("100", {}), per_n.get("1000", {})
        row = [name, _fmt(b.get("rss_kib"), 1 / 1024, "{:.2f}")]
        for key in ("rss_kib", "pss_kib"):
            x, y = a.get(key), b.get(key)
            row.append("n/a" if x is None or y is None else f"{(y - x) / 900:.1f}")
        out.append("| " + " | ".join(row) + " |")
    return out


def per_service_kib(summary, name="oneinit", key="rss_kib"):
    per_n = summary["services"].get(name, {})
    x, y = per_n.get("100", {}).get(key), per_n.get("1000", {}).get(key)
    return None if x is None or y is None else (y - x) / 900


API_LAYOUTS = (
    ("container", "container: oneinit in one CPU cgroup, wrk in another"),
    ("flat", "flat: wrk among the services, one cgroup"),
)


def api_goal_layout(api):
    """(the layout goal 4 is judged in, its figures, why): the container
    layout, where the API's clients are outside the storm's cgroup as they
    are outside a container; the flat one when the cgroups could not be made."""
    container = api.get("container") or {}
    if container and "error" not in container:
        return "container", container, ""
    flat = api.get("flat") or {}
    why = f"; the container layout was not measured: {container['error']}" if container else ""
    return "flat", flat, why


def _api_section(api):
    if not api:
        return []
    if "error" in api:
        return ["\n## API latency\n", f"Not measured: {api['error']}"]
    out = [
        "\n## API latency (wrk)\n",
        f"{api['services']} services; the storm makes {api['crash_loops']} of them crash-loop "
        f"(exit 1, restart after 10 ms) and {api['log_floods']} print lines as fast as `sh` can. "
        f"wrk: {api['connections']} connections, 2 threads, {api['seconds']} s per figure. "
        "Two layouts: *container* runs oneinit (so all its services) in one CPU cgroup and wrk in "
        "a sibling cgroup of the same weight, as when the API's clients are outside the container; "
        "*flat* runs wrk among the services, as `onecli` inside the container does. httpfloor.c "
        "runs where oneinit runs.\n",
        "| request | layout | phase | requests/s | p50 (ms) | p90 (ms) | p99 (ms) | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [("list", "GET /v1/services"), ("one", "GET /v1/services/x"),
            ("floor", "httpfloor.c `GET /` (reference: a fixed answer, same phase)")]
    notes = []
    for which, label in rows:
        for layout, _ in API_LAYOUTS:
            figures = api.get(layout) or {}
            if "error" in figures:
                if which == "list":
                    notes.append(f"The {layout} layout was not measured: {figures['error']}")
                continue
            for phase in ("quiet", "storm"):
                r = figures.get(f"{phase}_{which}")
                if r is None:
                    continue
                errors = (r.get("non_2xx") or 0) + (r.get("socket_errors") or 0)
                out.append(
                    f"| {label} | {layout} | {phase} | {_fmt(r.get('rps'), 1, '{:.0f}')} "
                    f"| {_fmt(r.get('p50_ms'), 1, '{:.2f}')} | {_fmt(r.get('p90_ms'), 1, '{:.2f}')} "
                    f"| {_fmt(r.get('p99_ms'), 1, '{:.2f}')} | {errors} |"
                )
    return out + [f"\n{n}" for n in notes]


def _health_section(h):
    if not h:
        return []
    if "error" in h:
        return ["\n## Health-check CPU\n", f"Not measured: {h['error']}"]
    out = [
        "\n## Health-check CPU\n",
        f"{h['services']} `sleep` services, each with one check every second, "
        f"{h['window_s']:.0f} s window. CPU seconds per minute (utime+stime from /proc). "
        "The naive references spawn one process per check (all of a second's at once).\n",
        "| checker | CPU-s/min | CPU ms per check | with reaped children (CPU-s/min) | note |",
        "|---|---|---|---|---|",
    ]
    for kind in ("http", "exec"):
        r = h.get(kind)
        if r:
            out.append(f"| oneinit, {kind} checks | {r['cpu_s_per_min']:.2f} | {_fmt(r.get('cpu_ms_per_check'), 1, '{:.3f}')} | "
                       f"{r['cpu_with_children_s_per_min']:.2f} | {r['unhealthy_events']} unhealthy events |")
    for key, label in (("naive_curl", "one `curl` per HTTP check"), ("naive_exec", "one `true` per check (spawn only)")):
        r = h.get(key)
        if r:
            out.append(f"| {label} | {r['cpu_s_per_min']:.2f} | {_fmt(r.get('cpu_ms_per_check'), 1, '{:.3f}')} | "
                       f"(all children) | {r['rounds']} rounds of {h['services']} in {r['window_s']:.0f} s, "
                       f"{r.get('failed', 0)} failed |")
    return out


def _logs_section(logs):
    if not logs:
        return []
    out = ["\n## Log throughput (scripts/bench_logs.sh)\n"]
    if "error" in logs:
        out.append(f"Not measured: {logs['error']}\n")
    rows = []
    for services, run in (logs.get("runs") or {}).items():
        for label, f in run["figures"].items():
            per_line = f["cpu_s"] * 1e9 / f["lines"] if f.get("cpu_s") and f["lines"] else None
            rows.append(f"| {services} | {label} | {f['lines']} | {f['lines_per_s']:,} | "
                        f"{_fmt(f.get('cpu_s'), 1, '{:.2f}')} | {_fmt(per_line, 1, '{:.0f}')} | "
                        f"{_fmt(f.get('not_written'), 1, '{:.0f}')} |")
    if rows:
        out += ["| services | output | lines | lines/s | CPU (s) | CPU ns/line | not written |",
                "|---|---|---|---|---|---|---|"] + rows
    for raw in logs.get("raw", []):
        out += ["", "```", raw, "```"]
    return out


def _log_rates(logs):
    """(oneinit JSON-to-stdout lines/s with 1 service, with 10, s6-log's) from the logs section."""
    def rate(services, want):
        figs = ((logs or {}).get("runs") or {}).get(services, {}).get("figures", {})
        for label, f in figs.items():
            if want(label):
                return f["lines_per_s"]
        return None
    def oneinit_stdout(label):
        return label.endswith("stdout") and "s6" not in label

    return (rate("1", oneinit_stdout), rate("10", oneinit_stdout), rate("1", lambda l: "s6" in l))


def _log_losses(logs):
    """Lines oneinit did not write to stdout, over the log runs (None if not measured)."""
    lost = [f.get("not_written") for run in ((logs or {}).get("runs") or {}).values()
            for label, f in run["figures"].items() if label.endswith("stdout") and "s6" not in label]
    lost = [x for x in lost if x is not None]
    return sum(lost) if lost else None


def goals(meta, summary, extras):
    """[(goal, measured, verdict)] for issue 19."""
    sv = summary["services"]
    out = []

    def add(goal, ok, text):
        out.append((goal, text, "n/a" if ok is None else ("MET" if ok else "MISSED")))

    one, ten, s6log = _log_rates(extras.get("logs"))
    add("1. log throughput ≥ 1.5 M lines/s (1 service)", None if one is None else one >= 1.5e6,
        f"{_fmt(one, 1e-6, '{:.2f}')} M lines/s")
    add("1. ten services reach the same total", None if ten is None or one is None else ten >= 1.5e6,
        f"{_fmt(ten, 1e-6, '{:.2f}')} M lines/s (1 service: {_fmt(one, 1e-6, '{:.2f}')})")
    add("1. ratio to s6-log ≥ 0.8", None if one is None or s6log is None else one / s6log >= 0.8,
        f"{_fmt(one, 1e-6, '{:.2f}')} vs {_fmt(s6log, 1e-6, '{:.2f}')} M lines/s, ratio {ratio(one, s6log)}")
    lost = _log_losses(extras.get("logs"))
    add("1. zero loss with the default backpressure", None if lost is None else lost == 0,
        f"{_fmt(lost, 1, '{:.0f}')} lines not written to stdout")
    o, fl, s6 = (sv.get(k, {}).get("1000", {}).get("startup_s") for k in ("oneinit", "floor", "s6"))
    add("2. startup at N = 1000 ≤ 2 × spawn floor", None if o is None or fl is None else o <= 2 * fl,
        f"{_fmt(o, 1000, '{:.0f}')} ms vs floor {_fmt(fl, 1000, '{:.0f}')} ms, ratio {ratio(o, fl)}")
    add("2. startup at N = 1000 ≤ s6-svscan / 2", None if o is None or s6 is None else o <= s6 / 2,
        f"{_fmt(o, 1000, '{:.0f}')} ms vs s6 {_fmt(s6, 1000, '{:.0f}')} ms, ratio {ratio(o, s6)}")
    rss = sv.get("oneinit", {}).get("1000", {}).get("rss_kib")
    per = per_service_kib(summary)
    add("3. RSS at N = 1000 ≤ 12 MiB (glibc)", None if rss is None else rss <= 12 * 1024,
        f"{_fmt(rss, 1 / 1024, '{:.2f}')} MiB; {_fmt(per, 1, '{:.1f}')} KiB per service")
    api = extras.get("api") or {}
    layout, figures, why = api_goal_layout(api)
    flat = api.get("flat") or {}
    for which, label, limit in (("list", "GET /v1/services", 10), ("one", "GET /v1/services/x", 5)):
        p99 = (figures.get(f"storm_{which}") or {}).get("p99_ms")
        quiet = (figures.get(f"quiet_{which}") or {}).get("p99_ms")
        floor = (figures.get("storm_floor") or {}).get("p99_ms")
        detail = (f"{layout} layout: {_fmt(p99, 1, '{:.2f}')} ms (quiet: {_fmt(quiet, 1, '{:.2f}')} ms; "
                  f"httpfloor.c in the same storm: {_fmt(floor, 1, '{:.2f}')} ms, ratio {ratio(p99, floor)})")
        if layout == "container":
            detail += (f"; flat layout (wrk among the services): "
                       f"{_fmt((flat.get(f'storm_{which}') or {}).get('p99_ms'), 1, '{:.2f}')} ms")
        add(f"4. {label} p99 ≤ {limit} ms during the storm", None if p99 is None else p99 <= limit,
            detail + why)
    h = extras.get("health") or {}
    http = (h.get("http") or {}).get("cpu_s_per_min")
    curl = (h.get("naive_curl") or {}).get("cpu_s_per_min")
    add("5. HTTP checks ≤ 2 CPU-s/min (200 services, 1 s)", None if http is None else http <= 2,
        f"{_fmt(http, 1, '{:.2f}')} CPU-s/min vs one curl per check {_fmt(curl, 1, '{:.2f}')}, "
        f"ratio {ratio(http, curl)}; exec checks {_fmt((h.get('exec') or {}).get('cpu_s_per_min'), 1, '{:.2f}')}")
    return out


def markdown(meta, summary, names, extras=None):
    m = meta["machine"]
    out = [
        "# oneinit benchmark: " + " vs ".join(names),
        "",
        f"- date: {meta['date']} (took {meta.get('duration_s', '?')} s)"
        + (" — INTERRUPTED, partial results" if meta.get("interrupted") else ""),
        f"- machine: {m['nproc']} cores ({m['cpu']}), kernel {m['kernel']}, "
        f"load average {' '.join(m['loadavg'])} at start, {' '.join(m.get('loadavg_end', []))} at end; "
        f"CPU pressure at start: {m.get('cpu_pressure', 'n/a')}",
        f"- oneinit: {meta.get('oneinit_build', 'release build')}",
        f"- harness and supervisors run at niceness {meta.get('nice', 0)} (same for every supervisor)",
        f"- mode: {meta.get('mode', 'quick' if meta['quick'] else 'full')}; medians of {meta['reps']} runs "
        f"(idle cost: of {meta['idle_reps']} runs, {meta['idle_window_s']:.0f} s window each)",
        "- services: `sleep 100000`; stop signal: "
        + ", ".join(f"{k} {v}" for k, v in meta["stop_signal"].items()),
        "- every run: fresh temp dir, supervisor started as a normal child (not PID 1)",
    ]
    for name, why in meta.get("skipped", {}).items():
        out.append(f"- **{name} skipped**: {why}")
    sections = meta.get("sections", ["services", "restart"])
    if "services" in sections:
        out.append("\n## Services")
        out += _services_tables(meta, summary, names)
        out += _per_service_memory(meta, summary, names)
    if "restart" in sections:
        out += _restart_table(meta, summary, [n for n in names if n in summary["restart"]])
    extras = extras or {}
    out += _logs_section(extras.get("logs"))
    out += _api_section(extras.get("api"))
    out += _health_section(extras.get("health"))
    if "services" in sections or "restart" in sections:
        out += ["\n## Targets (issue 9, N = 100 unless said)\n", "| target | measured (oneinit) | verdict |",
                "|---|---|---|"]
        out += [f"| {t} | {m_} | {v} |" for t, m_, v in verdicts(meta, summary)]
    out += ["\n## Goals (issue 19)\n", "| goal | measured | verdict |", "|---|---|---|"]
    out += [f"| {g} | {m_} | {v} |" for g, m_, v in goals(meta, summary, extras)]
    errs = []
    for name, per_n in summary["services"].items():
        for n, s in per_n.items():
            errs += [f"- {name} N={n}: {e}" for e in s.get("errors", [])]
    for name, s in summary["restart"].items():
        errs += [f"- {name} restart: {e}" for e in s.get("errors", [])]
    if errs:
        out += ["\n## Runs that failed\n"] + errs
    return "\n".join(out) + "\n"


def _n(summary, name, n, key):
    return summary["services"].get(name, {}).get(str(n), {}).get(key)


def _row(cells):
    return "| " + " | ".join(cells) + " |"


def readme_block(meta, summary, names, extras=None):
    """The top-level README's benchmark section: N = 100 side by side, the
    N = 1 and N = 1000 figures and the issue 19 goals, all from this run."""
    extras = extras or {}
    peers = [p for p in ("supervisord", "s6", "runit") if p in names]
    cols = [c for c in ("oneinit", "oneinit-static") if c in names] + peers
    out = [
        f"Measured side by side in one run on this project's 2-core machine "
        f"({meta['date']}, {meta.get('oneinit_build', 'release build')}, medians of {meta['reps']} runs; "
        "full tables in `scripts/bench/results/latest.md`, regenerated by "
        "`scripts/bench/run.sh`, which also rewrites this section; `--quick` "
        "compares a shorter run with the committed figures):",
        "",
        _row(["figure (N = 100 `sleep` services)"] + cols + [f"oneinit/{p}" for p in peers]),
        "|---|" + "---|" * (len(cols) + len(peers)),
    ]
    for key, label, scale, fmt in ROWS:
        if key in ("idle_sched_cpu_ms", "supervisor_processes"):
            continue
        if key.startswith("idle"):
            label = f"{label} over {meta['idle_window_s']:.0f} s"
        vals = {c: _n(summary, c, 100, key) for c in cols}
        out.append(_row([label] + [_fmt(vals[c], scale, fmt) for c in cols]
                        + [ratio(vals.get("oneinit"), vals[p]) for p in peers]))
    r = summary.get("restart", {})
    if any(c in r for c in cols):
        resp = {c: r.get(c, {}).get("respawns") for c in cols}
        out.append(_row(["restart of a crashing service: respawns per 10 s"]
                        + [_fmt(resp[c], 1, "{:.0f}") for c in cols]
                        + [ratio(resp.get("oneinit"), resp[p]) for p in peers]))
    one = (_n(summary, "oneinit", 1, "rss_kib"), _n(summary, "oneinit", 1, "startup_s"))
    big = {k: _n(summary, "oneinit", 1000, k) for k in ("startup_s", "rss_kib", "shutdown_s")}
    if one[0] is not None and big["startup_s"] is not None:
        s6 = {k: _n(summary, "s6", 1000, k) for k in ("startup_s", "shutdown_s")}
        out += [
            "",
            f"With one service oneinit needs {_fmt(one[0], 1 / 1024, '{:.1f}')} MiB RSS and starts it in "
            f"{_fmt(one[1], 1000, '{:.0f}')} ms; each service adds about "
            f"{_fmt(per_service_kib(summary), 1, '{:.1f}')} KiB. 1,000 services start in "
            f"{_fmt(big['startup_s'], 1000, '{:.0f}')} ms (s6: {_fmt(s6['startup_s'], 1000, '{:.0f}')} ms, "
            f"the spawn floor: {_fmt(_n(summary, 'floor', 1000, 'startup_s'), 1000, '{:.0f}')} ms) "
            f"with {_fmt(big['rss_kib'], 1 / 1024, '{:.1f}')} MiB RSS, and stop in "
            f"{_fmt(big['shutdown_s'], 1000, '{:.0f}')} ms (s6: {_fmt(s6['shutdown_s'], 1000, '{:.0f}')} ms).",
        ]
    out += ["", "| goal (issue 19) | measured | verdict |", "|---|---|---|"]
    out += [f"| {g} | {m_} | {v} |" for g, m_, v in goals(meta, summary, extras)]
    return "\n".join(out) + "\n"
