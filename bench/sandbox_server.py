"""Both sandboxes in a process of their own, seeded with a generated company.

    python -m bench.sandbox_server --workload mid --latency 0.02 [--no-hourly-quota]

Prints one JSON line (the connection's configuration and what was seeded),
then answers JSON commands, one a line, on stdin:

* ``{"cmd": "requests", "reset": true}``: requests the servers answered, by
  status, and what the limits refused (then clears the logs);
* ``{"cmd": "busy_day", "changed": 250, "payments": 500}``: a person edits
  documents in QBO and pays synced bills in Bill.com;
* ``{"cmd": "census"}``: how many objects each Bill.com collection holds;
* ``{"cmd": "advance", "days": 1}``: the next day begins (see ``bench.simclock``);
* ``{"cmd": "stop"}`` (or end of input): stop both servers and exit.

Keeping the servers out of the engine's process is what lets the engine
measure its own CPU time and memory.
"""
import argparse
import collections
import datetime
import json
import sys
import time

from sync_engine.sandbox import Sandboxes

from .simclock import DAY, ShiftedClock
from .workload import WORKLOADS, seed_company

SEEDED_DAYS_AGO = 2  # the company was entered before the first sync, not seconds before it

def _status_counts(log):
    out = collections.Counter()
    for entry in log:
        out["total"] += 1
        if entry.status == 429:
            out["429"] += 1
        elif entry.status >= 400 or entry.status == 0:
            out["error"] += 1
    return dict(out)


EDIT_SECONDS = 3   # simulated time between two edits of a busy day: people, not a burst


def busy_day(sb, clock, changed, payments):
    """Edit ``changed`` synced documents in QBO (a new due date) and pay
    ``payments`` synced bills in full in Bill.com, one every few simulated
    seconds as people work through a day (thousands of edits stamped in one
    second would be no busy day but a burst; the engine copes with one by a
    full read, tested in test_sync.py)."""
    q, b = sb.qbo, sb.billcom
    synced_bills = {o["invoice"]["invoiceNumber"]: o for o in b.all("bills")}
    synced_invoices = {o.get("invoiceNumber") for o in b.all("invoices")}
    qbills = sorted((o for o in q.all("Bill") if o.get("DocNumber") in synced_bills),
                    key=lambda o: o["DocNumber"])
    qinvoices = sorted((o for o in q.all("Invoice") if o.get("DocNumber") in synced_invoices),
                       key=lambda o: o["DocNumber"])
    half = changed // 2
    # edit every n-th document so the edits spread over the year, away from the bills paid below
    edited = []
    for docs, n, entity in ((qbills, half, "Bill"), (qinvoices, changed - half, "Invoice")):
        step = max(1, len(docs) // max(1, n))
        for doc in docs[1::step][:n]:
            due = datetime.date.fromisoformat(doc["DueDate"]) + datetime.timedelta(days=14)
            q.user_update(entity, doc["Id"], {"DueDate": due.isoformat()})
            edited.append(doc["DocNumber"])
            clock.offset += EDIT_SECONDS
    edited_set = set(edited)
    paid = 0
    for number in sorted(synced_bills):
        if paid >= payments:
            break
        if number in edited_set:
            continue
        bill = synced_bills[number]
        if float(bill.get("dueAmount", 0)) <= 0:
            continue
        b.pay_bill(bill["id"], float(bill["dueAmount"]))
        paid += 1
        clock.offset += EDIT_SECONDS
    return {"edited_bills": half, "edited_invoices": changed - half, "payments": paid, "offset": clock.offset}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="mid", choices=sorted(WORKLOADS))
    parser.add_argument("--latency", type=float, default=0.020)
    parser.add_argument("--seed", type=int, default=20261120)
    parser.add_argument("--no-hourly-quota", action="store_true",
                        help="switch off Bill.com's 20,000 requests/hour (for the per-record sync)")
    args = parser.parse_args(argv)

    clock = ShiftedClock(-SEEDED_DAYS_AGO * DAY)
    billcom_options = {"seed": args.seed}
    if args.no_hourly_quota:
        billcom_options["hourly_limit"] = 10 ** 9
    sb = Sandboxes(latency=args.latency, clock=clock, billcom_options=billcom_options)
    started = time.perf_counter()
    census = seed_company(sb, WORKLOADS[args.workload], seed=args.seed)
    clock.offset = 0.0
    sb.start()
    config = sb.connection_config(name=f"bench {args.workload}")
    print(json.dumps({"ready": True, "config": config.to_dict(), "census": census,
                      "seed_seconds": round(time.perf_counter() - started, 2),
                      "limits": {"qbo_per_minute": sb.qbo.rate_per_minute, "qbo_per_second": sb.qbo.rate_per_second,
                                 "qbo_batches_per_minute": sb.qbo.batch_per_minute,
                                 "qbo_enforced": sb.qbo.enforce_limits,
                                 "billcom_in_flight": sb.billcom.max_concurrent,
                                 "billcom_per_hour": sb.billcom.hourly_limit,
                                 "billcom_enforced": sb.billcom.enforce_limits}}), flush=True)
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            cmd = command.get("cmd")
            if cmd == "stop":
                break
            if cmd == "requests":
                answer = {"qbo": _status_counts(sb.qbo.request_log()),
                          "billcom": _status_counts(sb.billcom.request_log()),
                          "qbo_throttled": sb.qbo.throttled, "billcom_refused": dict(sb.billcom.refused),
                          "billcom_peak_in_flight": sb.billcom.peak_in_flight}
                if command.get("reset"):
                    sb.qbo.clear_log()
                    sb.billcom.clear_log()
            elif cmd == "busy_day":
                answer = busy_day(sb, clock, int(command.get("changed", 0)), int(command.get("payments", 0)))
            elif cmd == "advance":
                clock.offset += float(command.get("days", 1)) * DAY
                answer = {"offset": clock.offset}
            elif cmd == "census":
                answer = {name: sb.billcom.count(name) for name in
                          ("classifications/chart-of-accounts", "classifications/accounting-classes",
                           "classifications/locations", "classifications/items", "payment-terms",
                           "vendors", "customers", "bills", "invoices", "payments")}
            else:
                answer = {"error": f"unknown command {cmd!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        sb.stop()


if __name__ == "__main__":
    main()
