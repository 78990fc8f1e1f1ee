"""Each figure of a run beside the last committed result, with regressions flagged.

Owns the list of comparable figures (one flat name per figure, and whether
lower or higher is better) and the comparison table that `run.sh --quick`
prints. The baseline is scripts/bench/results/latest.json as committed
(`git show HEAD:...`), or the file on disk when git cannot answer.
"""

import json
import os
import subprocess

WORSE_BY = 0.20  # a figure more than 20% worse than the baseline is flagged

# services figures: (summary key, better)
SERVICE_FIGURES = [
    ("startup_s", "lower"),
    ("rss_kib", "lower"),
    ("pss_kib", "lower"),
    ("idle_sched_cpu_ms", "lower"),
    ("idle_ctx_switches", "lower"),
    ("shutdown_s", "lower"),
]
RESTART_FIGURES = [("respawns", "higher"), ("gap_median_ms", "lower")]


def figures(doc):
    """{flat name: (value, better)} for every figure in a latest.json document."""
    out = {}
    summary = doc.get("summary", {})
    for name, per_n in summary.get("services", {}).items():
        for n, s in per_n.items():
            for key, better in SERVICE_FIGURES:
                if s.get(key) is not None:
                    out[f"{name} N={n} {key}"] = (s[key], better)
    for name, s in summary.get("restart", {}).items():
        for key, better in RESTART_FIGURES:
            if s.get(key) is not None:
                out[f"{name} restart {key}"] = (s[key], better)
    extras = doc.get("extras", {})
    api = extras.get("api") or {}
    for layout in ("container", "flat"):
        figures = api.get(layout) or {}
        for phase in ("quiet", "storm"):
            for which in ("list", "one"):
                r = figures.get(f"{phase}_{which}") or {}
                for key in ("p50_ms", "p99_ms"):
                    if r.get(key) is not None:
                        out[f"api {layout} {phase} {which} {key}"] = (r[key], "lower")
                if r.get("rps") is not None:
                    out[f"api {layout} {phase} {which} rps"] = (r["rps"], "higher")
    health = extras.get("health") or {}
    for kind in ("http", "exec"):
        r = health.get(kind) or {}
        if r.get("cpu_s_per_min") is not None:
            out[f"health {kind} cpu_s_per_min"] = (r["cpu_s_per_min"], "lower")
    logs = extras.get("logs") or {}
    for services, run in (logs.get("runs") or {}).items():
        for label, f in run.get("figures", {}).items():
            out[f"logs {services} service(s) {label} lines_per_s"] = (f["lines_per_s"], "higher")
    return out


def load_baseline(path, root):
    """The committed latest.json (git HEAD), else the file on disk; None if neither."""
    rel = os.path.relpath(os.path.abspath(path), root)
    try:
        r = subprocess.run(["git", "-C", root, "show", f"HEAD:{rel}"], capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            return json.loads(r.stdout), f"{rel} at git HEAD"
    except (OSError, ValueError, subprocess.TimeoutExpired):
        pass
    try:
        with open(path) as f:
            return json.load(f), path
    except (OSError, ValueError):
        return None, None


def _change(now, last, better):
    """(relative change as text, worse?)"""
    if last == 0:
        if now == 0:
            return "=", False
        return "new > 0", better == "lower"
    rel = (now - last) / abs(last)
    worse = rel > WORSE_BY if better == "lower" else rel < -WORSE_BY
    return f"{rel * 100:+.0f}%", worse


def table(current, baseline, source):
    """Markdown lines: every current figure beside the baseline's; and the
    number of figures flagged."""
    cur, base = figures(current), figures(baseline or {})
    out = [
        f"\n## Compared with {source or 'no baseline'}\n",
        f"A figure more than {WORSE_BY * 100:.0f}% worse than the baseline is flagged **WORSE**. "
        "Figures from a busy machine are noisy: compare runs made under the same load.\n",
        "| figure | now | baseline | change | |",
        "|---|---|---|---|---|",
    ]
    flagged = 0
    for key in sorted(cur):
        now, better = cur[key]
        if key not in base:
            out.append(f"| {key} | {now:.4g} | n/a | | |")
            continue
        last = base[key][0]
        text, worse = _change(now, last, better)
        flagged += worse
        out.append(f"| {key} | {now:.4g} | {last:.4g} | {text} | {'**WORSE**' if worse else ''} |")
    return out, flagged
