"""One sync in a fresh process, measured from the inside.

    python -m bench.engine_side < job.json

The job (JSON on stdin) names the way (``engine``, ``per_record``, or
``tie_out``: the tie-out of what an earlier sync left in the store), the
connection's configuration and the store file. The answer (JSON on stdout)
holds the wall time, this process's CPU time (all its threads; the sandboxes
run elsewhere), split into planning and carrying out, the peak resident
memory, the requests each client sent by endpoint, and what was done.
A fresh process per sync is what makes the peak memory that sync's own.
With ``"profile": FILE`` the sync runs under cProfile, in every thread and
counting CPU time (its CPU figures then include the profiler's own cost).
"""
import gc
import json
import resource
import sys
import threading
import time

from sync_engine import transport
from sync_engine.config import ConnectionConfig
from sync_engine.planner import Planner
from sync_engine.remote import Remote
from sync_engine.service import SyncService
from sync_engine.store import SQLiteStore

from .per_record import PerRecordSync
from .simclock import ShiftedClock


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb():
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * resource.getpagesize() / 2 ** 20
    except OSError:
        return _rss_mb()


class _PlanTimer:
    """Times the planning (reads, mapping, decisions) inside a normal run and
    counts the records it read and planned, without changing what it does.

    A planner that hands its plan out step by step (``begin`` then ``steps``,
    each step carried out before the next is made) is timed inside ``begin``
    and inside each step; one that builds the plan whole, inside ``plan``."""

    def __init__(self):
        self.cpu = self.wall = 0.0
        self.items = self.read = 0
        self.rss_after = None

    def _timed(self, fn, *args):
        c0, w0 = time.process_time(), time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.cpu += time.process_time() - c0
            self.wall += time.perf_counter() - w0
            self.rss_after = _current_rss_mb()

    def install(self):
        timer = self
        read = Planner._read

        def counted_read(planner, *args, **kw):
            timer.read += 1
            return read(planner, *args, **kw)

        Planner._read = counted_read
        if hasattr(Planner, "steps") and hasattr(Planner, "begin"):
            begin, steps = Planner.begin, Planner.steps

            def timed_begin(planner, *args, **kw):
                return timer._timed(lambda: begin(planner, *args, **kw))

            def timed_steps(planner, *args, **kw):
                inner = steps(planner, *args, **kw)
                while True:
                    try:
                        items = timer._timed(next, inner)
                    except StopIteration:
                        return
                    timer.items += len(items)
                    yield items

            Planner.begin, Planner.steps = timed_begin, timed_steps
        else:
            plan = Planner.plan

            def timed_plan(planner):
                result = timer._timed(plan, planner)
                timer.items += len(result.items)
                return result

            Planner.plan = timed_plan


class _GCTimer:
    """Time spent in the cyclic garbage collector (it runs inside the engine's CPU time)."""

    def __init__(self):
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self._started = None
        gc.callbacks.append(self._callback)

    def _callback(self, phase, info):
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self.collections[info["generation"]] += 1
            self._started = None


def _requests(remote):
    qbo = {k: v for k, v in remote.qbo.stats["requests"].items()}
    billcom = dict(remote.billcom.stats.requests)
    return {"qbo": qbo, "billcom": billcom}


def _waits(remote):
    q, b = remote.qbo.stats, remote.billcom.stats
    return {"qbo_pacing_seconds": round(remote.qbo.pacing_wait_seconds, 3),
            "qbo_throttled": q["throttled_waits"], "qbo_retries": q["retries"],
            "billcom_retries": dict(b.retries), "billcom_waits": {k: round(v, 3) for k, v in b.waits.items()},
            "billcom_peak_in_flight": b.peak_in_flight}


def run(job):
    config = ConnectionConfig.from_dict(job["config"])
    tokens = {}

    def keep(tokenset):
        tokens["refresh_token"] = tokenset.refresh_token

    if job.get("transport"):
        transport.DEFAULT_KIND = job["transport"]
    remote = Remote(config, on_tokens=keep, clock=ShiftedClock(job.get("clock_offset", 0.0)))
    base_rss = _current_rss_mb()
    gc_timer = _GCTimer()
    out = {"way": job["way"]}
    if job["way"] == "engine":
        timer = _PlanTimer()
        timer.install()
        store = SQLiteStore(job["store_path"])
        service = SyncService(config, store, remote=remote)
        c0, w0 = time.process_time(), time.perf_counter()
        result = service.run("bench", tie_out=False)  # request counts measure the sync alone
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        # from the run's counts: a run may carry only its first lines (the store has them all)
        written = sum(n for key, n in result.counts.items() if key.rsplit("|", 1)[-1] in ("create", "update"))
        failed = [l for l in result.lines if l.state == "failed" or l.action == "error"]
        failed_count = sum(n for key, n in result.counts.items() if key.rsplit("|", 1)[-1] in ("failed", "error"))
        actions = {}
        for key, n in result.counts.items():
            otype, _, action = key.split("|")
            actions.setdefault(otype, {}).setdefault(action, 0)
            actions[otype][action] += n
        out.update(state=result.state, message=result.message, plan_cpu=timer.cpu, plan_wall=timer.wall,
                   planned=timer.items, read=timer.read, written=written, failed=failed_count,
                   failures=[f"{l.record}: {l.message or l.remote_error}"[:200] for l in failed[:5]],
                   actions=actions, rss_after_plan_mb=timer.rss_after)
    elif job["way"] == "tie_out":
        # the tie-out after a sync, on its own: its peak is what reading both books costs
        service = SyncService(config, SQLiteStore(job["store_path"]), remote=remote)
        c0, w0 = time.process_time(), time.perf_counter()
        report = service.tie_out()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        out.update(state="agrees" if report.agrees else "differs", verdict=report.verdict(),
                   documents=report.documents, payments=report.payments)
    else:
        sync = PerRecordSync(remote)
        c0, w0 = time.process_time(), time.perf_counter()
        counts = sync.run()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        out.update(state="done" if not counts["failed"] else "partial", planned=counts["read"],
                   read=counts["read"], written=counts["created"], failed=counts["failed"], counts=counts)
    out.update(wall=wall, cpu=cpu, rss_peak_mb=_rss_mb(), rss_base_mb=base_rss, gc_seconds=gc_timer.seconds,
               gc_collections=gc_timer.collections,
               requests=_requests(remote), waits=_waits(remote),
               refresh_token=tokens.get("refresh_token") or config.qbo.refresh_token)
    return out


class _AllThreads:
    """cProfile in every thread (the requests are sent from worker threads), merged
    into one stats file. Each thread's profile counts that thread's CPU time, not
    the wall time, so waiting on the network or a lock costs nothing in it."""

    def __init__(self):
        import cProfile
        self._new = lambda: cProfile.Profile(time.thread_time)
        self.profiles = []
        self._lock = threading.Lock()

    def _start_in_thread(self, *_):
        profile = self._new()
        with self._lock:
            self.profiles.append(profile)
        profile.enable()

    def runcall(self, fn, *args):
        threading.setprofile(self._start_in_thread)
        main = self._new()
        self.profiles.append(main)
        try:
            return main.runcall(fn, *args)
        finally:
            threading.setprofile(None)

    def dump_stats(self, path):
        import pstats
        for profile in self.profiles:
            profile.disable()
        stats = pstats.Stats(self.profiles[0])
        for profile in self.profiles[1:]:
            try:
                stats.add(profile)
            except TypeError:   # a thread that never ran a profiled call
                pass
        stats.dump_stats(path)


def main():
    job = json.load(sys.stdin)
    if job.get("profile"):
        profiler = _AllThreads()
        result = profiler.runcall(run, job)
        profiler.dump_stats(job["profile"])
    else:
        result = run(job)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
