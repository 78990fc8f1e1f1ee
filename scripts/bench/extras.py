"""The oneinit-only figures of issue 19, each one function returning a dict:

- api_latency: `GET /v1/services` and `GET /v1/services/x` latency (wrk),
  quiet and during a storm of crash loops and log floods, and the same wrk
  against httpfloor.c (a one-thread epoll server with a fixed answer) in the
  same storm: the tail the machine itself adds. Each in two layouts: as in a
  container (oneinit and its services in one CPU cgroup, wrk in another:
  `cpu_cgroups`) and flat (wrk among the services, one cgroup);
- health_cpu: oneinit's CPU per minute with 200 services checked every
  second (HTTP checks, then exec checks), next to the naive reference of one
  `curl` (or one `true`) process per check;
- log_throughput: runs scripts/bench_logs.sh (oneinit, and s6-log when that
  script measures it) and parses its result lines.

Every process started here is in its own session and is killed in `finally`
(the harness is a subreaper, so proctree.kill_descendants_of_self() also
catches orphans). Every wait is bounded.
"""

import contextlib
import os
import re
import select
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import proctree

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class ExtraError(Exception):
    """A figure that could not be measured; the message says why."""


@contextlib.contextmanager
def port_server(argv, what, timeout=10):
    """Runs a local server that prints its port as its first line (httpfloor,
    HTTP_SERVER); yields (its Popen, the port) and kills it afterwards."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        ready, _, _ = select.select([p.stdout], [], [], timeout)
        line = p.stdout.readline().decode(errors="replace") if ready else ""
        if not line.strip().isdigit():
            raise ExtraError(f"{what} did not print its port within {timeout}s (got {line!r})")
        yield p, int(line)
    finally:
        p.kill()
        try:
            p.wait(timeout=10)
        except ChildProcessError:  # already reaped by a kill_below_self
            pass
        p.stdout.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _cpu_ticks(pid):
    """(own utime+stime, reaped children's cutime+cstime) in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3): utime is field 14, cutime field 16.
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


class Daemon:
    """oneinit with an API on 127.0.0.1:port, output to a file or /dev/null."""

    def __init__(self, binary, workdir, config_lines, out_path=None, cgroup=None):
        self.binary = binary
        self.cgroup = cgroup
        self.workdir = workdir
        self.config = os.path.join(workdir, "oneinit.yaml")
        _write(self.config, config_lines)
        self.port = free_port()
        self.out_path = out_path
        self.proc = None

    def start(self, timeout=30):
        env = dict(os.environ, ONEINIT_RUNTIME_DIR=os.path.join(self.workdir, "run"))
        out = open(self.out_path, "wb") if self.out_path else subprocess.DEVNULL
        err = open(os.path.join(self.workdir, "oneinit.err"), "wb")
        try:
            self.proc = subprocess.Popen(
                in_cgroup([self.binary, "--config", self.config, "--log-format", "json",
                           "--api-listen", f"127.0.0.1:{self.port}"], self.cgroup),
                cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
            err.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ExtraError(f"oneinit exited with {self.proc.returncode} at start: {self.stderr_tail()}")
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise ExtraError(f"oneinit's API did not answer on port {self.port} within {timeout}s")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def stderr_tail(self):
        try:
            with open(os.path.join(self.workdir, "oneinit.err"), "rb") as f:
                return " | ".join(f.read()[-2000:].decode("utf-8", "replace").strip().splitlines()[-5:])
        except OSError:
            return ""

    def stop(self, keep=()):
        """SIGTERM, then SIGKILL whatever is left below the harness except
        the processes in `keep` (the check server of health_cpu)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        kill_below_self(keep)


def kill_below_self(keep=()):
    """SIGKILL every process below the harness but `keep` and their children,
    then reap (orphans of oneinit's services come back to the harness, a
    subreaper)."""
    me = os.getpid()
    for _ in range(20):
        snap = proctree.snapshot()
        spared = set()
        for pid in keep:
            spared |= proctree.descendants(pid, snap)
        live = [p for p in proctree.descendants(me, snap) - {me} - spared if snap[p][1] != "Z"]
        if not live:
            break
        for pid in live:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)
        proctree.reap_all()
    proctree.reap_all()


# ---------------------------------------------------------------- CPU cgroups

CGROUP_FS = "/sys/fs/cgroup"


class CgroupUnavailable(ExtraError):
    """The container layout cannot be set up here; the message says why."""


def _cpu_hierarchy():
    """(the directory to make the cgroups in, "v2" or "v1") for the cpu
    controller, or CgroupUnavailable."""
    unified = os.path.join(CGROUP_FS, "cgroup.controllers")
    if os.path.exists(unified):
        with open(unified) as f:
            if "cpu" not in f.read().split():
                raise CgroupUnavailable(f"the cpu controller is not in {unified}")
        return CGROUP_FS, "v2"
    for name in ("cpu", "cpu,cpuacct"):
        d = os.path.join(CGROUP_FS, name)
        if os.path.exists(os.path.join(d, "cpu.shares")):
            return d, "v1"
    raise CgroupUnavailable(f"no cpu controller under {CGROUP_FS} (neither cgroup v2 nor v1)")


@contextlib.contextmanager
def cpu_cgroups(name):
    """Two sibling CPU cgroups with the default weight, `container` and
    `client`, under a new `name`: a container's cgroup (oneinit and all its
    services) and a client outside it (a kubelet probe, Prometheus, onecli
    on the host). The scheduler shares the CPU between cgroups first and
    among a cgroup's threads second, as it does for containers. Yields
    {"container": dir, "client": dir, "hierarchy": "v2" or "v1"}; raises
    CgroupUnavailable (not root, no cpu controller, a cgroup v2 namespace
    whose root holds processes). The cgroups are removed afterwards: their
    processes must be gone by then (Daemon.stop, wrk has exited). On cgroup
    v2 the cpu controller is enabled below the root first if it is not; that
    stays (it is what a container runtime does)."""
    base, hierarchy = _cpu_hierarchy()
    parent = os.path.join(base, name)
    made = []
    try:
        try:
            if hierarchy == "v2":
                with open(os.path.join(base, "cgroup.subtree_control")) as f:
                    if "cpu" not in f.read().split():
                        _write(os.path.join(base, "cgroup.subtree_control"), ["+cpu"])
            os.mkdir(parent)
            made.append(parent)
            if hierarchy == "v2":
                _write(os.path.join(parent, "cgroup.subtree_control"), ["+cpu"])
            leaves = {}
            for leaf in ("container", "client"):
                leaves[leaf] = os.path.join(parent, leaf)
                os.mkdir(leaves[leaf])
                made.append(leaves[leaf])
        except OSError as e:
            raise CgroupUnavailable(f"cannot make CPU cgroups under {base} ({e})") from e
        yield dict(leaves, hierarchy=hierarchy)
    finally:
        for d in reversed(made):
            deadline = time.monotonic() + 5
            while True:
                try:
                    os.rmdir(d)
                    break
                except OSError as e:
                    if time.monotonic() > deadline:
                        print(f"warning: cannot remove the cgroup {d}: {e}", file=sys.stderr)
                        break
                    time.sleep(0.05)


def in_cgroup(argv, cgroup):
    """argv, run inside `cgroup` (a directory from cpu_cgroups) when one is
    given: a shell moves itself there and then execs argv (same pid)."""
    if not cgroup:
        return list(argv)
    return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', os.path.join(cgroup, "cgroup.procs"), *argv]


# ---------------------------------------------------------------- API latency

def _wrk_ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        return None
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[m.group(2)]


def parse_wrk(out):
    """requests/s, p50/p90/p99 (ms) and error counts from `wrk --latency`."""
    res = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            res["p" + parts[0].rstrip("%") + "_ms"] = _wrk_ms(parts[1])
        elif line.startswith("Requests/sec:"):
            res["rps"] = float(parts[1])
        elif "requests in" in line:
            res["requests"] = int(parts[0])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            res["non_2xx"] = int(parts[-1])
        elif line.strip().startswith("Socket errors:"):
            res["socket_errors"] = sum(int(x) for x in re.findall(r"\d+", line))
    return res


def _wrk(url, seconds, connections, threads=2, cgroup=None):
    r = subprocess.run(
        in_cgroup(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url], cgroup),
        capture_output=True, text=True, timeout=seconds + 60,
    )
    if r.returncode != 0:
        raise ExtraError(f"wrk failed ({r.returncode}): {r.stderr.strip()[-300:]}")
    res = parse_wrk(r.stdout)
    if "p99_ms" not in res:
        raise ExtraError(f"no latency distribution in wrk's output: {r.stdout[-300:]}")
    return res


FLOOD_LINE = "flood-0123456789-abcdefghijklmnopqrstuvwxyz-0123456789"


def api_config(n, crash, flood):
    """n services named s000..; the first `crash` crash-loop (exit 1, restart
    after 10 ms), the next `flood` print lines as fast as sh can; the rest sleep."""
    lines = ["services:"]
    for i in range(n):
        lines.append(f"  s{i:03d}:")
        if i < crash:
            lines.append('    command: ["sh", "-c", "exit 1"]')
            lines.append("    restart: {policy: always, delay: 10ms, backoff: 1.0}")
        elif i < crash + flood:
            lines.append(f'    command: ["sh", "-c", "while :; do echo {FLOOD_LINE}; done"]')
        else:
            lines.append('    command: ["sleep", "100000"]')
    return lines


def api_latency(binary, tmproot, seconds, n=100, crash=10, flood=10, connections=16, floor=None):
    """p50/p99 of GET /v1/services and GET /v1/services/<a sleeping one>,
    first with n quiet services, then with `crash` crash loops and `flood`
    log floods among the n. With `floor` (httpfloor's binary), the same wrk
    also runs against it while oneinit's services run (`<phase>_floor`).

    Both in two layouts (`res["container"]`, `res["flat"]`):
    - container: oneinit (with its services) in one CPU cgroup, wrk and
      nothing else in a sibling one, as when the API's clients are outside
      the container (kubelet probes, Prometheus, onecli on the host);
      httpfloor runs in oneinit's cgroup. `{"error": why}` where the
      cgroups cannot be made (cpu_cgroups).
    - flat: everything in the harness's cgroup, wrk among the services
      (as `onecli` run inside the container with `docker exec`)."""
    if not shutil.which("wrk"):
        raise ExtraError("wrk is missing: apt-get install -y wrk")
    res = {"services": n, "crash_loops": crash, "log_floods": flood, "seconds": seconds,
           "connections": connections}
    try:
        with cpu_cgroups(f"oneinit-bench-{os.getpid()}") as cg:
            res["container"] = dict(
                _api_phases(binary, os.path.join(tmproot, "api-container"), seconds, n, crash, flood,
                            connections, floor, server_cg=cg["container"], client_cg=cg["client"]),
                cgroup=cg["hierarchy"])
    except CgroupUnavailable as e:
        res["container"] = {"error": str(e)}
    res["flat"] = _api_phases(binary, os.path.join(tmproot, "api-flat"), seconds, n, crash, flood,
                              connections, floor)
    return res


def _api_phases(binary, workroot, seconds, n, crash, flood, connections, floor,
                server_cg=None, client_cg=None):
    """One layout of api_latency: oneinit (and httpfloor) in `server_cg`,
    wrk in `client_cg` (None: the harness's own cgroup)."""
    res = {}
    one = f"/v1/services/s{n - 1:03d}"
    for phase, (c, f) in (("quiet", (0, 0)), ("storm", (crash, flood))):
        workdir = os.path.join(workroot, phase)
        os.makedirs(workdir)
        # Floods write ~100 MB/s of JSON: their output goes to /dev/null.
        d = Daemon(binary, workdir, api_config(n, c, f), cgroup=server_cg)
        try:
            d.start()
            time.sleep(2.0)  # let the crash loops and floods reach their pace
            for key, path in (("list", "/v1/services"), ("one", one)):
                r = _wrk(d.url(path), seconds, connections, cgroup=client_cg)
                if d.proc.poll() is not None:
                    raise ExtraError(f"oneinit exited during the {phase} run: {d.stderr_tail()}")
                res[f"{phase}_{key}"] = r
            if floor:
                with port_server(in_cgroup([floor], server_cg), "httpfloor") as (_, port):
                    res[f"{phase}_floor"] = _wrk(f"http://127.0.0.1:{port}/", seconds, connections,
                                                 cgroup=client_cg)
        finally:
            d.stop()
    return res


# ---------------------------------------------------------------- health checks

HTTP_SERVER = r'''
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
class S(http.server.ThreadingHTTPServer):
    # 200 checks connect in the same millisecond: a backlog of 5 (the
    # default) drops some, and the failed checks' restarts would be counted
    # as check cost.
    request_queue_size = 1024
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
'''


def _health_config(n, kind, port):
    lines = ["services:"]
    for i in range(n):
        lines += [f"  s{i}:", '    command: ["sleep", "100000"]', "    health:"]
        if kind == "http":
            lines.append(f'      - http: {{url: "http://127.0.0.1:{port}/h/{i}"}}')
        else:
            lines.append('      - exec: {command: ["true"]}')
        lines += ["        interval: 1s", "        timeout: 2s"]
    return lines


def _naive(argv_for, n, seconds):
    """Spawns n processes (argv_for(i)) at once every second for `seconds`,
    waits for each batch, and answers the children's CPU seconds per minute."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    rounds = failed = 0
    while time.monotonic() - t0 < seconds:
        start = time.monotonic()
        procs = [subprocess.Popen(argv_for(i), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for i in range(n)]
        for p in procs:
            failed += p.wait(timeout=30) != 0
        rounds += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"cpu_s_per_min": cpu * 60 / wall, "cpu_ms_per_check": cpu * 1000 / (rounds * n) if rounds else None,
            "rounds": rounds, "failed": failed, "window_s": wall}


def health_cpu(binary, tmproot, seconds, n=200, warmup=3.0):
    """oneinit's CPU seconds per minute with n services checked every second."""
    tck = os.sysconf("SC_CLK_TCK")
    res = {"services": n, "interval_s": 1, "window_s": seconds}
    with port_server([sys.executable, "-c", HTTP_SERVER], "the local HTTP server for the checks") as (
            server, port):
        for kind in ("http", "exec"):
            workdir = os.path.join(tmproot, f"health-{kind}")
            os.makedirs(workdir)
            out = os.path.join(workdir, "oneinit.out")
            d = Daemon(binary, workdir, _health_config(n, kind, port), out_path=out)
            try:
                d.start()
                time.sleep(warmup)
                own0, kids0 = _cpu_ticks(d.proc.pid)
                t0 = time.monotonic()
                time.sleep(seconds)
                own1, kids1 = _cpu_ticks(d.proc.pid)
                wall = time.monotonic() - t0
                if d.proc.poll() is not None:
                    raise ExtraError(f"oneinit exited during the {kind} checks: {d.stderr_tail()}")
                with open(out, errors="replace") as f:
                    unhealthy = sum(1 for line in f if '"event":"unhealthy"' in line)
                res[kind] = {
                    "cpu_s_per_min": (own1 - own0) / tck * 60 / wall,
                    # exec checks: the `true` processes oneinit reaped, too
                    "cpu_with_children_s_per_min": (own1 - own0 + kids1 - kids0) / tck * 60 / wall,
                    # assuming every check ran once a second (unhealthy_events shows failures)
                    "cpu_ms_per_check": (own1 - own0) / tck * 1000 / (wall * n),
                    "unhealthy_events": unhealthy,
                }
            finally:
                d.stop(keep=(server.pid,))
        if shutil.which("curl"):
            url = f"http://127.0.0.1:{port}/h/"
            res["naive_curl"] = _naive(lambda i: ["curl", "-fsS", "-o", "/dev/null", url + str(i)], n, seconds)
        res["naive_exec"] = _naive(lambda i: ["true"], n, seconds)
    return res


# ---------------------------------------------------------------- log throughput

# A result line of scripts/bench_logs.sh:
#   "<label> <N> lines  wall <s>s = <r> lines/s  cpu <s>s = <r> lines/cpu-s  (not written: <k>)"
LOG_LINE = re.compile(
    r"^\s*(?P<label>\S+)\s+(?P<lines>\d+) lines\s+wall\s+(?P<wall>[\d.]+)s\s*=\s*(?P<rate>\d+) lines/s"
    r"(?:\s+cpu\s+(?P<cpu>[\d.]+)s)?(?:.*not written:\s*(?P<lost>\d+))?"
)


def parse_bench_logs(text):
    out = {}
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if m:
            out[m.group("label")] = {
                "lines": int(m.group("lines")),
                "wall_s": float(m.group("wall")),
                "lines_per_s": int(m.group("rate")),
                "cpu_s": float(m.group("cpu")) if m.group("cpu") else None,
                "not_written": int(m.group("lost")) if m.group("lost") else None,
            }
    return out


def log_throughput(binary, lines, services_list, timeout=600):
    """Runs scripts/bench_logs.sh LINES SERVICES for each SERVICES; answers
    {services: {label: figures}, raw: text}. LINES is the total, split
    evenly over the services."""
    script = os.path.join(ROOT, "scripts", "bench_logs.sh")
    res = {"runs": {}, "raw": []}
    for services in services_list:
        per = max(1, lines // services)
        r = subprocess.run(
            ["bash", script, str(per), str(services)],
            env=dict(os.environ, ONEINIT_BIN=os.path.abspath(binary)),
            capture_output=True, text=True, timeout=timeout,
        )
        res["raw"].append(f"$ scripts/bench_logs.sh {per} {services}\n{r.stdout.strip()}")
        if r.returncode != 0:
            res["raw"][-1] += f"\n(exit {r.returncode}: {r.stderr.strip()[-300:]})"
        parsed = parse_bench_logs(r.stdout)
        if not parsed:
            raise ExtraError(f"no result line in the output of bench_logs.sh {per} {services}")
        res["runs"][str(services)] = {"lines_per_service": per, "figures": parsed}
    return res
