"""One sync in a fresh process, measured from the inside.

    python -m bench.engine_side < job.json

The job (JSON on stdin) names the way (``engine`` or ``per_record``), the
connection's configuration and the store file. The answer (JSON on stdout)
holds the wall time, this process's CPU time (all its threads; the sandboxes
run elsewhere), split into planning and carrying out, the peak resident
memory, the requests each client sent by endpoint, and what was done.
A fresh process per sync is what makes the peak memory that sync's own.
With ``"profile": FILE`` the sync runs under cProfile (its CPU figures then
include the profiler's own cost).
"""
import gc
import json
import resource
import sys
import time

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
    """Times ``Planner.plan`` (reads, mapping, decisions) inside a normal run and
    counts the records it read, without changing what it does."""

    def __init__(self):
        self.cpu = self.wall = 0.0
        self.items = self.read = 0
        self.rss_after = None

    def install(self):
        plan, fetch = Planner.plan, Planner.fetch
        timer = self

        def timed_plan(planner):
            c0, w0 = time.process_time(), time.perf_counter()
            result = plan(planner)
            timer.cpu += time.process_time() - c0
            timer.wall += time.perf_counter() - w0
            timer.items += len(result.items)
            timer.rss_after = _current_rss_mb()
            return result

        def counted_fetch(planner, the_plan):
            feed = fetch(planner, the_plan)
            timer.read += sum(len(q) + len(b) for q, b in feed.values())
            return feed

        Planner.plan, Planner.fetch = timed_plan, counted_fetch


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
        written = sum(1 for l in result.lines if l.action in ("create", "update") and l.state == "done")
        failed = [l for l in result.lines if l.state == "failed" or l.action == "error"]
        actions = {}
        for key, n in result.counts.items():
            otype, _, action = key.split("|")
            actions.setdefault(otype, {}).setdefault(action, 0)
            actions[otype][action] += n
        out.update(state=result.state, message=result.message, plan_cpu=timer.cpu, plan_wall=timer.wall,
                   planned=timer.items, read=timer.read, written=written, failed=len(failed),
                   failures=[f"{l.record}: {l.message or l.remote_error}"[:200] for l in failed[:5]],
                   actions=actions, rss_after_plan_mb=timer.rss_after)
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


def main():
    job = json.load(sys.stdin)
    if job.get("profile"):
        import cProfile
        profiler = cProfile.Profile()
        result = profiler.runcall(run, job)
        profiler.dump_stats(job["profile"])
    else:
        result = run(job)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
