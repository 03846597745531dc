"""Proof that a long sync runs in Odoo's job machinery, batch after batch.

Starts, all on 127.0.0.1 and stopped at the end:

* both sandboxes in a process of their own (``bench.sandbox_server``) with a
  latency per request that makes the first sync last more than 3 minutes;
* Odoo 19 as production runs it: ``--workers=2 --limit-time-real=15
  --limit-time-real-cron=90`` (an HTTP request is killed after 15 s, a cron
  job after 90 s), in a new database with the add-on installed;

then, over JSON-RPC as the administrator, connects the sandboxes, presses
"Sync now" (which must return at once) and watches the run until it ends,
printing each change of its progress. It fails (exit 1) unless the run ends
``done`` after more than one batch with its progress seen at least five times
on the way, and the books agree.

    python tools/odoo_background_proof.py [--latency 1.0] [--workload small]

Odoo is found as ``.ci/odoo-tests`` finds it: ``ODOO_PYTHON`` (a Python that
imports odoo 19), ``ODOO_ROOT`` for a source tree; PostgreSQL at
``ODOO_DB_HOST`` (127.0.0.1) as ``ODOO_DB_USER`` (the current user).
"""
import argparse
import sys
import time

from odoo_harness import FINISHED, connect, odoo_and_sandboxes, say


def watch(rpc, run_id, timeout):
    fields = ["state", "progress_text", "progress_done", "progress_total", "progress_written", "batch_count",
              "tie_out_due", "tie_out_verdict", "message", "write_count", "failed_count"]
    seen, last, started = [], None, time.time()
    while time.time() - started < timeout:
        run = rpc("billcom_qbo.run", "read", [run_id], fields)[0]
        point = (run["state"], run["progress_done"], run["batch_count"], run["tie_out_due"])
        if point != last:
            last = point
            seen.append(run)
            say(f"{run['state']:<8} batch {run['batch_count']}: {run['progress_text'] or ''}")
        if run["state"] in FINISHED and not run["tie_out_due"]:
            return run, seen, time.time() - started
        time.sleep(5)
    raise RuntimeError(f"the run did not end within {timeout} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="small")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per sandbox request")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds to wait for the run")
    args = parser.parse_args(argv)
    with odoo_and_sandboxes(args.workload, args.latency, "--workers=2", "--max-cron-threads=2",
                            "--limit-time-real=15", "--limit-time-real-cron=90") as (_odoo, rpc, _sb, ready):
        connection = connect(rpc, ready["config"])
        wizard = rpc("billcom_qbo.sync_wizard", "create", {"connection_id": connection})
        pressed = time.time()
        action = rpc("billcom_qbo.sync_wizard", "action_sync_now", [wizard], rpc_timeout=15)
        say(f'"Sync now" returned in {time.time() - pressed:.2f} s and opened run {action["res_id"]}')
        run, seen, elapsed = watch(rpc, action["res_id"], args.timeout)
        observed = sum(1 for r in seen if r["state"] == "running" and r["progress_total"])
        print()
        print(f"Run {action['res_id']}: {run['state']} after {elapsed:.0f} s in {run['batch_count']} batches "
              f"(cron runs of at most 90 s each); progress observed {observed} times on the way; "
              f"{run['write_count']} written, {run['failed_count']} failed.")
        print(f"Tie-out: {run['tie_out_verdict']}")
        print(f"Message: {run['message']}")
        problems = []
        if run["state"] != "done":
            problems.append(f"the run ended {run['state']}")
        if run["batch_count"] < 2:
            problems.append("the sync fit in one batch: raise --latency so it lasts longer")
        if observed < 5:
            problems.append(f"progress was observed only {observed} times")
        if elapsed < 180:
            problems.append(f"the sync lasted {elapsed:.0f} s, not more than 3 minutes: raise --latency")
        if not (run["tie_out_verdict"] or "").startswith("Books agree"):
            problems.append("the books do not agree")
        if problems:
            print("FAILED: " + "; ".join(problems))
            return 1
        print("OK: the sync ran in the background across several cron runs and the books agree.")
        return 0


if __name__ == "__main__":
    sys.exit(main())
