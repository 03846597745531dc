"""Benchmark: a preview and a sync at once, on one QuickBooks company and one
Bill.com organization, in two Odoo cron workers.

Both sandboxes run in a process of their own and refuse what goes over the
documented limits (QuickBooks: 500 requests a minute and 10 a second per
company; Bill.com: 3 requests in flight per organization) with HTTP 429 /
BDC_1322. Odoo runs with ``--workers=2 --max-cron-threads=2``. Two
connections share the company and the organization: the preview of one and
the first sync of the other are asked for at once over JSON-RPC, so two worker
processes talk to the same accounts together. The rate windows are shared in
PostgreSQL, so the sandboxes should refuse nothing; the table prints what they
answered and what the runs waited.

    python tools/odoo_pacing_proof.py [--workload half-small] [--latency 0.02]
"""
import argparse
import json
import sys
import time

from odoo_harness import FINISHED, connect, odoo_and_sandboxes, say


def ask(sandboxes, command):
    sandboxes.stdin.write(json.dumps(command) + "\n")
    sandboxes.stdin.flush()
    return json.loads(sandboxes.stdout.readline())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="half-small")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per sandbox request")
    parser.add_argument("--timeout", type=int, default=900)
    args = parser.parse_args(argv)
    with odoo_and_sandboxes(args.workload, args.latency, "--workers=2", "--max-cron-threads=2",
                            "--limit-time-real=15", "--limit-time-real-cron=90") as (_odoo, rpc, sandboxes, ready):
        syncing = connect(rpc, ready["config"], name="Synced")
        both = rpc("billcom_qbo.connection", "read", [syncing], ["qbo_company_id", "billcom_org_id",
                                                                  "bank_account_id", "deposit_account_id",
                                                                  "ap_account_id", "ar_account_id"])[0]
        previewing = rpc("billcom_qbo.connection", "create", {
            "name": "Previewed", "auto_sync": False,
            **{k: v[0] for k, v in both.items() if k != "id" and v}})
        ask(sandboxes, {"cmd": "requests", "reset": True})  # what connecting took is not counted

        started = time.time()
        wizard = rpc("billcom_qbo.sync_wizard", "create", {"connection_id": previewing})
        rpc("billcom_qbo.sync_wizard", "action_preview", [wizard], rpc_timeout=15)
        sync_wizard = rpc("billcom_qbo.sync_wizard", "create", {"connection_id": syncing})
        run_id = rpc("billcom_qbo.sync_wizard", "action_sync_now", [sync_wizard], rpc_timeout=15)["res_id"]
        say("Preview and sync asked for at once; waiting for both ...")
        preview_done = run = None
        while time.time() - started < args.timeout:
            if preview_done is None and rpc("billcom_qbo.sync_wizard", "read", [wizard],
                                            ["state"])[0]["state"] != "computing":
                preview_done = time.time() - started
                say(f"preview ready after {preview_done:.1f} s")
            run = rpc("billcom_qbo.run", "read", [run_id], ["state", "tie_out_due", "message", "write_count",
                                                            "tie_out_verdict"])[0]
            if preview_done is not None and run["state"] in FINISHED and not run["tie_out_due"]:
                break
            time.sleep(1)
        else:
            raise RuntimeError("the preview and the sync did not both end in time")
        wall = time.time() - started
        answered = ask(sandboxes, {"cmd": "requests"})
        preview = rpc("billcom_qbo.sync_wizard", "read", [wizard], ["preview_error", "write_count"])[0]
        print()
        print(f"Preview and first sync at once on one QuickBooks company and Bill.com organization "
              f"({args.workload} company, {args.latency * 1000:.0f} ms a request), Odoo --workers=2, 2 cron threads")
        print(f"{'':<28}{'QuickBooks':>12}{'Bill.com':>12}")
        print(f"{'requests answered':<28}{answered['qbo'].get('total', 0):>12}{answered['billcom'].get('total', 0):>12}")
        print(f"{'refused as too many (429)':<28}{answered['qbo'].get('429', 0):>12}"
              f"{sum(answered['billcom_refused'].values()):>12}")
        print(f"{'peak in flight':<28}{'':>12}{answered['billcom_peak_in_flight']:>12}")
        print(f"preview ready after {preview_done:.1f} s ({preview['write_count']} writes planned"
              f"{', error: ' + preview['preview_error'] if preview['preview_error'] else ''}); "
              f"sync {run['state']} after {wall:.1f} s, {run['write_count']} written")
        print(f"run message: {run['message']}")
        refused = answered["qbo"].get("429", 0) + sum(answered["billcom_refused"].values())
        ok = refused == 0 and run["state"] == "done" and not preview["preview_error"]
        print("OK: nothing refused" if ok else "FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
