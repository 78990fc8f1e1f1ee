#!/usr/bin/env python3
"""The training run of oneinit's profile-guided build (scripts/build-release.sh).

Runs an instrumented oneinit through what a supervisor does most of its life,
so that the profile tells the compiler which code runs and which never does:

  - 1,000 services (the scale scripts/bench goes to, so the maps and
    queues that grow with it grow here too): long-running ones (most),
    dependencies (`requires`, `after`), an HTTP health check against a
    local server, an exec readiness check, a readiness log line, log
    floods on stdout and stderr and into a rotated per-service file
    (`logs.file`), a crash loop with backoff, oneshots;
  - the REST API: lists, one service, logs, graph, metrics, /readyz,
    /healthz, a restart, a signal, a stop and a start;
  - SIGTERM, and the ordered shutdown.

usage: train.py ONEINIT_BINARY    (LLVM_PROFILE_FILE says where the profile goes)

Not a benchmark: nothing here is timed. Every wait is bounded; every process
started here is killed by PID when it ends.
"""
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

SERVICES = 1000


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """The health check's target: 200 to every GET, nothing logged."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(web_port, work):
    """The training config, as YAML."""
    lines = ["services:"]

    def service(name, *body):
        lines.append(f"  {name}:")
        lines.extend(f"    {b}" for b in body)

    service("base", "type: oneshot", 'command: ["true"]')
    service(
        "web",
        'command: [sleep, "100000"]',
        "requires: [base]",
        "health:",
        "  - name: http",
        f'    http: {{url: "http://127.0.0.1:{web_port}/"}}',
        "    interval: 1s",
    )
    service(
        "checked",
        'command: [sleep, "100000"]',
        'readiness: {check: {exec: {command: ["true"]}, interval: 1s}}',
    )
    service(
        "announced",
        "command: 'echo starting; echo listening on 1; exec sleep 100000'",
        "shell: true",
        'readiness: {log_line: "listening on"}',
    )
    service(
        "flood",
        "command: 'seq 1 200000; seq 1 50000 >&2; exec sleep 100000'",
        "shell: true",
    )
    # The same through a per-service file (`logs.file`): without it the
    # file writer counts as cold code and is built for size.
    service(
        "filed",
        "command: 'seq 1 200000; exec sleep 100000'",
        "shell: true",
        f'logs: {{file: "{work}/filed.log", max_size: 1MiB, max_files: 2}}',
    )
    service(
        "crashy",
        "command: 'echo crash; exit 3'",
        "shell: true",
        "restart: {policy: always, delay: 100ms, max_delay: 400ms}",
    )
    for i in range(1, SERVICES - 6):
        body = ['command: [sleep, "100000"]']
        if i % 10 == 0:
            body.append("after: [base]")
        service(f"s{i}", *body)
    return "\n".join(lines) + "\n"


def request(port, method, path, body=None):
    """One API request; its answer does not matter, only that it ran."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method,
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()
    except Exception:
        pass


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    binary = sys.argv[1]
    work = tempfile.mkdtemp(prefix="oneinit-pgo-train.")
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    api = free_port()
    cfg = os.path.join(work, "oneinit.yaml")
    with open(cfg, "w") as f:
        f.write(config(web.server_address[1], work))
    env = dict(os.environ, ONEINIT_RUNTIME_DIR=work)
    proc = subprocess.Popen(
        [binary, "--config", cfg, "--api-listen", f"127.0.0.1:{api}",
         "--log-format", "json"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{api}/healthz", timeout=1).read()
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    sys.exit(f"train.py: oneinit's API at 127.0.0.1:{api} never answered")
                time.sleep(0.1)
        time.sleep(2)
        for _ in range(3):
            for path in ("/v1/services", "/v1/services/web",
                         "/v1/services/flood/logs?tail=100", "/v1/graph",
                         "/metrics", "/readyz", "/healthz"):
                request(api, "GET", path)
            time.sleep(1)
        request(api, "POST", "/v1/services/s1/restart?wait=true")
        request(api, "POST", "/v1/services/s2/signal", {"signal": "HUP"})
        request(api, "POST", "/v1/services/s3/stop?wait=true")
        request(api, "POST", "/v1/services/s3/start?wait=true")
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        web.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    if proc.returncode != 0:
        sys.exit(f"train.py: oneinit exited with {proc.returncode} on SIGTERM (expected 0)")
    print("train.py: oneinit ran the training and exited with 0")


if __name__ == "__main__":
    main()
