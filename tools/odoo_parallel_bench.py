"""Benchmark: first syncs of 8 connections on 1, 2 and 4 cron threads.

Each connection has sandboxes of its own (a process each, a fixed latency per
request); all 8 are queued with "Sync now" at once over JSON-RPC and the wall
time until the last run ends is measured. Odoo runs with ``--workers=2`` and
``--max-cron-threads`` 1, 2 and 4 in turn (one new database, restarted per
round). Whichever cron worker is free claims the next connection, so the wall
time should fall with the number of threads.

    python tools/odoo_parallel_bench.py [--connections 8] [--workload half-small] [--latency 0.05]
"""
import argparse
import statistics
import sys
import time

from odoo_harness import ADMIN, FINISHED, Rpc, connect, odoo_from_environment, say, start_sandboxes, \
    stop_sandboxes


def round_of(odoo, threads, connections, workload, latency, timeout):
    sandboxes = []
    try:
        for _ in range(connections):
            sandboxes.append(start_sandboxes(workload, latency))
        odoo.start("--workers=2", f"--max-cron-threads={threads}", "--limit-time-real=15",
                   "--limit-time-real-cron=90")
        rpc = Rpc(odoo.url, odoo.db, *ADMIN)
        ids = [connect(rpc, ready["config"], name=f"Bench {threads}t #{n + 1}")
               for n, (_process, ready) in enumerate(sandboxes)]
        started = time.time()
        runs = []
        for connection in ids:
            wizard = rpc("billcom_qbo.sync_wizard", "create", {"connection_id": connection})
            runs.append(rpc("billcom_qbo.sync_wizard", "action_sync_now", [wizard], rpc_timeout=15)["res_id"])
        while time.time() - started < timeout:
            rows = rpc("billcom_qbo.run", "read", runs, ["state", "tie_out_due", "started", "ended",
                                                          "duration", "write_count", "books_agree"])
            if all(r["state"] in FINISHED and not r["tie_out_due"] for r in rows):
                wall = time.time() - started
                break
            time.sleep(1)
        else:
            raise RuntimeError(f"{threads} thread(s): the runs did not end within {timeout} s")
        return {
            "threads": threads, "wall": wall, "done": sum(r["state"] == "done" for r in rows),
            "agree": sum(bool(r["books_agree"]) for r in rows),
            "run_seconds": statistics.mean(r["duration"] * 60 for r in rows),
            "written": sum(r["write_count"] for r in rows),
        }
    finally:
        odoo.stop_server()
        for process, _ready in sandboxes:
            stop_sandboxes(process)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workload", default="half-small")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per sandbox request")
    parser.add_argument("--threads", default="1,2,4")
    parser.add_argument("--timeout", type=int, default=1200)
    args = parser.parse_args(argv)
    odoo = odoo_from_environment()
    results = []
    try:
        odoo.install()
        for threads in [int(t) for t in args.threads.split(",")]:
            say(f"{args.connections} connections, {threads} cron thread(s) ...")
            result = round_of(odoo, threads, args.connections, args.workload, args.latency, args.timeout)
            say(f"  {result['wall']:.1f} s")
            results.append(result)
    finally:
        odoo.stop()
    print()
    print(f"First syncs of {args.connections} connections ({args.workload} company each, "
          f"{args.latency * 1000:.0f} ms a request), Odoo --workers=2")
    print(f"{'cron threads':>12}  {'wall s':>7}  {'speed-up':>8}  {'runs done':>9}  {'books agree':>11}  "
          f"{'mean run s':>10}  {'written':>7}")
    base = results[0]["wall"] if results else 0
    for r in results:
        print(f"{r['threads']:>12}  {r['wall']:>7.1f}  {base / r['wall']:>7.2f}×  "
              f"{r['done']:>5} of {args.connections}  {r['agree']:>7} of {args.connections}  "
              f"{r['run_seconds']:>10.1f}  {r['written']:>7}")
    ok = all(r["done"] == args.connections and r["agree"] == args.connections for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
