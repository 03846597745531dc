"""Benchmark: a large first sync QBO -> Bill.com, quiet and busy days after it,
and the same first sync done the per-record way, against the floor the
documented API limits allow.

    python -m bench.run                 # the mid-size company (about a quarter of an hour)
    python -m bench.run --small         # a small company, under a minute or two (CI smoke check)
    python -m bench.run --workload half --latency 0.05

Every run ends with the whole story: the first sync of the small, half,
mid-size and large (10 x mid-size) companies at 20 ms and at 0.3 s a request,
each figure measured where this run measured it and otherwise projected from
the floor model (``bench.floor``) and the ratios this run measured, each next
to its floor, the per-record way, its target, met or missed and why.

Each company is generated deterministically into local sandboxes that run in
a process of their own, with a fixed latency per request and the documented
limits enforced; each sync runs in a fresh process of its own, which measures
its own CPU time and peak memory. Every request goes to those 127.0.0.1
servers only.
"""
import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

from . import floor as floors
from .report import Report
from .workload import WORKLOADS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the sandboxes listen on 127.0.0.1: never send that traffic through a proxy from the environment
LOCAL_ONLY = dict(os.environ, NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
# a second, smaller company for the memory check: does the peak grow with the documents?
MEMORY_CHECK = {"mid": "half", "small": "half-small", "half": "small"}
# a first sync measured at the slow latency too: the smallest company of the story, in bounded time
SLOW_CHECK = {"mid": "small", "small": "half-small", "half": "small", "large": "small"}
SLOW_LATENCY = 0.3
# the sizes of the whole story: each figure measured where a run above measured it, else projected
STORY = {"small": ("half-small", "small", "half", "mid", "large")}
STORY_DEFAULT = ("small", "half", "mid", "large")
BUSY_DAY_CHANGED = 0.01           # share of all QBO documents a person edits
BUSY_DAY_PAYMENTS_PER_10K = 500   # bills paid in Bill.com per 10,000 unpaid bills


def _say(text):
    print(f"[bench] {text}", file=sys.stderr, flush=True)


class SandboxProcess:
    """``bench.sandbox_server`` in a child process, driven over its stdin/stdout."""

    def __init__(self, workload, latency, hourly_quota=True, timeout=600):
        self.workload, self.latency, self.hourly_quota, self.timeout = workload, latency, hourly_quota, timeout
        self.proc = None
        self.offset = 0.0   # simulated days since the first sync (see bench.simclock)

    def next_day(self):
        self.offset = self.ask("advance", days=1)["offset"]

    def __enter__(self):
        cmd = [sys.executable, "-m", "bench.sandbox_server", "--workload", self.workload,
               "--latency", str(self.latency)]
        if not self.hourly_quota:
            cmd.append("--no-hourly-quota")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=LOCAL_ONLY, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        hello = self._read()
        self.config, self.census, self.limits = hello["config"], hello["census"], hello["limits"]
        return self

    def _read(self):
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not ready:
            raise RuntimeError(f"the sandbox process did not answer within {self.timeout} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox process stopped (exit code {self.proc.poll()})")
        return json.loads(line)

    def ask(self, cmd, **kw):
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def __exit__(self, *exc):
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
                self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


TRANSPORT = None   # --transport: the engine's HTTP session (sync_engine.transport), to compare them
V2_BULK = False    # --billcom-v2-bulk: the connection setting billcom_v2_bulk on


def sync(sandbox, way, store_path, timeout, profile=None):
    """One sync in a fresh process; updates the sandbox's refresh token (QBO rotates it)."""
    config = dict(sandbox.config, store_path=store_path)
    if V2_BULK and way == "engine":
        config["settings"] = dict(config.get("settings") or {}, billcom_v2_bulk=True)
    job = {"way": way, "config": config, "store_path": store_path,
           "profile": profile, "clock_offset": sandbox.offset, "transport": TRANSPORT}
    load_before = os.getloadavg()[0]
    done = subprocess.run([sys.executable, "-m", "bench.engine_side"], cwd=ROOT, env=LOCAL_ONLY, input=json.dumps(job),
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"the {way} sync process failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout)
    result["load"] = [load_before, os.getloadavg()[0], os.cpu_count()]   # CPU figures depend on what else runs
    sandbox.config["qbo"]["refresh_token"] = result["refresh_token"]
    result["server"] = sandbox.ask("requests", reset=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description="Benchmark the sync against the API limits' floor.")
    parser.add_argument("--small", action="store_true", help="the small company (under a minute)")
    parser.add_argument("--workload", default="mid", choices=sorted(WORKLOADS),
                        help="company size (default: mid, the mid-size company the targets are set for)")
    parser.add_argument("--latency", type=float, default=0.020, help="seconds per request (default 0.020)")
    parser.add_argument("--skip-per-record", action="store_true", help="leave out the per-record first sync")
    parser.add_argument("--skip-memory-check", action="store_true",
                        help="leave out the first sync of a company half the size")
    parser.add_argument("--slow-latency", type=float, default=SLOW_LATENCY,
                        help=f"the second latency of the story (default {SLOW_LATENCY}); a small company's first "
                             "sync is measured at it, larger ones are projected from the floor")
    parser.add_argument("--skip-slow", action="store_true", help="measure nothing at the slow latency")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the engine's first sync into FILE")
    parser.add_argument("--report", metavar="FILE", help="print the report of a run saved with --json FILE, run nothing")
    parser.add_argument("--transport", choices=("urllib3", "requests"),
                        help="the engine's HTTP session (default: sync_engine.transport's own, urllib3)")
    parser.add_argument("--billcom-v2-bulk", action="store_true",
                        help="turn the connection setting billcom_v2_bulk on: what Bill.com's v2 bulk endpoint "
                             "takes is created 100 a call (doc/billcom-v2-bulk.md)")
    args = parser.parse_args(argv)
    global TRANSPORT, V2_BULK
    TRANSPORT, V2_BULK = args.transport, args.billcom_v2_bulk
    if args.report:
        with open(args.report, encoding="utf-8") as handle:
            results = json.load(handle)
        _report(results, WORKLOADS[results["story"]["workload_key"]])
        return 0
    name = "small" if args.small else args.workload
    workload = WORKLOADS[name]
    if name == "large" and not V2_BULK:
        _say("large: about 123,000 Bill.com requests on v3 alone, over 6 hours under the hourly quota; its "
             "figures are projected from the floor in every run (python -m bench.run). Running it for real anyway.")
    timeout = 3600 * 8 if name == "large" else 3600 if workload.documents > 5000 else 600
    work = tempfile.mkdtemp(prefix="bench-")
    started = time.perf_counter()
    results = {"workload": workload.describe(), "workload_name": workload.name, "latency": args.latency,
               "billcom_v2_bulk": V2_BULK}
    try:
        _say(f"{workload.name}: {workload.describe()}; latency {args.latency * 1000:.0f} ms")
        with SandboxProcess(name, args.latency, timeout=timeout) as sb:
            census = sb.census
            results.update(census=census, limits=sb.limits)
            store = os.path.join(work, "ours.sqlite")
            _say("first sync, ours")
            results["first"] = sync(sb, "engine", store, timeout, profile=args.profile)
            results["billcom_after_first"] = sb.ask("census")
            _say("quiet day right after the first sync")
            sb.next_day()
            results["quiet_after_first"] = sync(sb, "engine", store, timeout)
            _say("quiet day")
            sb.next_day()
            results["quiet"] = sync(sb, "engine", store, timeout)
            changed = max(1, round(BUSY_DAY_CHANGED * workload.documents))
            payments = max(1, round(BUSY_DAY_PAYMENTS_PER_10K * workload.unpaid_bills / 10_000))
            sb.next_day()
            results["busy_changes"] = sb.ask("busy_day", changed=changed, payments=payments)
            sb.offset = results["busy_changes"]["offset"]  # the edits took the sandboxes' day on
            sb.ask("requests", reset=True)
            _say(f"busy day: {changed} documents edited in QBO, {payments} bills paid in Bill.com")
            results["busy"] = sync(sb, "engine", store, timeout)
        if not args.skip_per_record:
            with SandboxProcess(name, args.latency, hourly_quota=False, timeout=timeout) as sb:
                _say("first sync, per record")
                results["per_record"] = sync(sb, "per_record", os.path.join(work, "per_record.sqlite"), timeout)
                results["billcom_after_per_record"] = sb.ask("census")
        check = MEMORY_CHECK.get(name)
        if check and not args.skip_memory_check:
            with SandboxProcess(check, args.latency, timeout=timeout) as sb:
                _say(f"first sync, ours, {WORKLOADS[check].name} (memory check)")
                results["memory_check"] = sync(sb, "engine", os.path.join(work, "half.sqlite"), timeout)
                results["memory_check"]["census"] = sb.census
                results["memory_check"]["workload"] = WORKLOADS[check].describe()
                results["memory_check"]["workload_key"] = check
        slow = SLOW_CHECK.get(name)
        if slow and not args.skip_slow and args.slow_latency != args.latency:
            with SandboxProcess(slow, args.slow_latency, timeout=timeout) as sb:
                _say(f"first sync, ours, {WORKLOADS[slow].name} at {args.slow_latency * 1000:.0f} ms")
                results["slow_check"] = sync(sb, "engine", os.path.join(work, "slow.sqlite"), timeout)
                results["slow_check"].update(census=sb.census, workload_key=slow, latency=args.slow_latency)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["program_seconds"] = time.perf_counter() - started
    results["story"] = {"sizes": STORY.get(name, STORY_DEFAULT), "latencies": sorted({args.latency, args.slow_latency}),
                        "workload_key": name}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=1, default=str)
    _report(results, workload)
    return 0


def _written(result):
    """Records a sync created or updated, from its counts by type and action."""
    if result and result.get("actions"):
        result["written"] = sum(a.get("create", 0) + a.get("update", 0) for a in result["actions"].values())


def _report(results, workload):
    for key in ("first", "memory_check", "slow_check", "quiet_after_first", "quiet", "busy"):
        _written(results.get(key))
    results["floors"] = {
        "first": floors.first_sync(results["census"], results.get("billcom_v2_bulk", False)),
        "quiet": floors.quiet_day(),
        "busy": floors.busy_day(results["busy_changes"]["edited_bills"], results["busy_changes"]["edited_invoices"],
                                results["busy_changes"]["payments"]),
    }
    Report(results, workload).print()


if __name__ == "__main__":
    sys.exit(main())
