"""Reading /proc: process trees, memory, CPU time and context switches.

Owns every /proc parser the benchmark and the stress script use, plus the
"subreaper + kill everything we started" hygiene. Standard library only.

The kernel here has no /proc/PID/task/TID/children, so the tree is rebuilt
from the ppid field of /proc/PID/stat. `TreeWatcher` keeps a cache so a 5 ms
polling loop only reads the stat files of processes that may still change.
"""

import ctypes
import os
import signal
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36


def read_stat(pid):
    """(comm, state, ppid, pgid, utime+stime ticks) of pid, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split at the last ')'.
    lpar = data.find(b"(")
    rpar = data.rfind(b")")
    comm = data[lpar + 1 : rpar].decode("utf-8", "replace")
    fields = data[rpar + 2 :].split()
    # fields[0] is state (field 3); utime is field 14, stime field 15.
    return (
        comm,
        fields[0].decode(),
        int(fields[1]),
        int(fields[2]),
        int(fields[11]) + int(fields[12]),
    )


def all_pids():
    """Every numeric entry of /proc."""
    return [int(n) for n in os.listdir("/proc") if n.isdigit()]


def snapshot():
    """{pid: (comm, state, ppid, pgid, ticks)} for every live process."""
    out = {}
    for pid in all_pids():
        st = read_stat(pid)
        if st is not None:
            out[pid] = st
    return out


def descendants(root, snap=None):
    """Set of pids descending from root (root included) in a snapshot."""
    snap = snap if snap is not None else snapshot()
    children = {}
    for pid, st in snap.items():
        children.setdefault(st[2], []).append(pid)
    out = set()
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid in out:
            continue
        out.add(pid)
        stack.extend(children.get(pid, ()))
    return out


class TreeWatcher:
    """Incrementally tracks the process tree under one root pid.

    `poll()` returns {pid: comm} for the live tree. Processes outside the tree
    are remembered and never re-read (a process cannot join a tree after it
    was created, re-parenting to a subreaper aside, which does not happen while
    a supervisor is starting). In-tree processes are re-read while they are
    leaves whose comm is not final (a forked child keeps its parent's comm
    until it execs).
    """

    def __init__(self, root, final_comms=("sleep",)):
        self.root = root
        self.final = set(final_comms)
        self.outside = set()
        self.tree = {}  # pid -> [comm, ppid]
        self.has_child = set()

    def poll(self):
        live = set(all_pids())
        for pid in list(self.tree):
            if pid not in live:
                del self.tree[pid]
        self.outside &= live
        self.has_child = {self.tree[p][1] for p in self.tree}
        # Re-read in-tree leaves whose comm may still change.
        for pid, entry in list(self.tree.items()):
            if entry[0] in self.final or pid in self.has_child:
                continue
            st = read_stat(pid)
            if st is None or st[1] == "Z":
                del self.tree[pid]
            else:
                entry[0] = st[0]
        new = sorted(live - self.outside - self.tree.keys())
        pending = {}
        for pid in new:
            st = read_stat(pid)
            if st is None:
                continue
            if st[1] == "Z":
                self.outside.add(pid)
                continue
            pending[pid] = st
        # Resolve membership to a fixpoint (a new parent may sort after its child).
        changed = True
        while changed and pending:
            changed = False
            for pid in list(pending):
                comm, _state, ppid = pending[pid][:3]
                if pid == self.root or ppid in self.tree:
                    self.tree[pid] = [comm, ppid]
                    del pending[pid]
                    changed = True
                elif ppid not in pending:
                    self.outside.add(pid)
                    del pending[pid]
                    changed = True
        return {pid: e[0] for pid, e in self.tree.items()}


def split_tree(tree_comms, service_comms):
    """Split {pid: comm} of a supervisor tree into (supervisor pids, service pids).

    A service process is one whose comm is in service_comms; everything else
    in the tree (the supervisor, s6-supervise, runsv, ...) is the supervisor's.
    """
    sup, svc = set(), set()
    for pid, comm in tree_comms.items():
        (svc if comm in service_comms else sup).add(pid)
    return sup, svc


def smaps_rollup(pid):
    """(rss_kib, pss_kib) of pid from /proc/PID/smaps_rollup, or None."""
    rss = pss = None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        return None
    if rss is None or pss is None:
        return None
    return rss, pss


def rss_by_mapping(pid):
    """{mapping: rss_kib} of pid from /proc/PID/smaps (a mapping is its
    path, or [heap]/[stack]/anon, with its permissions), or {}."""
    out = {}
    name = None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                first = line.split(None, 5)
                if len(first) >= 5 and "-" in first[0] and not first[0].endswith(":"):
                    path = first[5].strip() if len(first) > 5 else "anon"
                    name = f"{path} {first[1]}"
                elif line.startswith("Rss:") and name:
                    out[name] = out.get(name, 0) + int(line.split()[1])
    except OSError:
        return {}
    return out


def status_rss_kib(pid):
    """VmRSS of pid in KiB from /proc/PID/status, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def thread_counters(pid):
    """{(pid, tid): (context switches, ns on CPU)} for every thread of pid:
    voluntary + non-voluntary switches from status, the first field of
    schedstat. Keyed by thread so a delta can follow threads that come and
    go (a thread that exits takes its counts with it)."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            ctx = 0
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        ctx += int(line.split()[1])
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        out[(pid, tid)] = (ctx, ns)
    return out


def thread_deltas(before, after):
    """(context switches, ns on CPU, threads gone) between two
    thread_counters snapshots. Threads alive in both count their increase,
    new threads all of theirs, and a thread that exited counts as one
    switch (its own counts are gone; its CPU time is in the process's
    utime+stime)."""
    ctx = ns = 0
    for key, (c, n) in after.items():
        c0, n0 = before.get(key, (0, 0))
        ctx += c - c0
        ns += n - n0
    gone = len(set(before) - set(after))
    return ctx + gone, ns, gone


def cpu_ticks(pid):
    """utime + stime of pid (all threads) in clock ticks, or 0 if gone."""
    st = read_stat(pid)
    return st[4] if st else 0


def fd_count(pid):
    """Number of open file descriptors of pid, or None."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def zombies_of(ppid):
    """Pids in state Z whose parent is ppid."""
    out = []
    for pid in all_pids():
        st = read_stat(pid)
        if st and st[1] == "Z" and st[2] == ppid:
            out.append(pid)
    return out


def alive(pid):
    """True while pid exists and is not a zombie."""
    st = read_stat(pid)
    return st is not None and st[1] != "Z"


def become_subreaper():
    """Make this process the reaper of every orphan of what it starts.

    Then nothing a supervisor leaves behind escapes to the real init: the
    harness sees, reaps and kills it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def reap_all():
    """Reap every exited child without blocking; return {pid: raw status}."""
    out = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return out
        if pid == 0:
            return out
        out[pid] = status


def kill_descendants_of_self():
    """SIGKILL every process below this one (by pid and by group), then reap.

    Only processes this harness started (or their orphans, re-parented to us
    as subreaper) are below us, so this never touches anyone else's work.
    """
    me = os.getpid()
    my_pgid = os.getpgid(0)
    for _ in range(20):
        snap = snapshot()
        mine = descendants(me, snap) - {me}
        live = [p for p in mine if snap[p][1] != "Z"]
        if not live:
            reap_all()
            return
        for pid in live:
            pgid = snap[pid][3]
            if pgid not in (my_pgid, 0) and pgid != me:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)
        reap_all()
    reap_all()
