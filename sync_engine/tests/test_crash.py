"""Crash anywhere, lose nothing: the sync runs as its own process (the command
line), is killed with SIGKILL right after a write reaches a sandbox (the
write is done, its answer never arrives, no link was saved), and is started
again. Both sandboxes must end exactly as after an uninterrupted run: no
duplicates, nothing missing, every payment applied exactly once."""
import os
import signal
import subprocess
import sys
import threading

import pytest

from sync_engine.sandbox import Sandboxes
from sync_engine.sandbox.seed import seed_demo
from sync_engine.tests.sync_support import business_view

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AUTH_PATHS = ("/oauth2/", "/v3/login", "/v3/logout")


def day_two(sb):
    """Between the two syncs: payments on both sides, new documents on both sides."""
    q, b = sb.qbo, sb.billcom
    pg = next(o for o in q.all("Bill") if o.get("DocNumber") == "PG-NOV")
    q.add("BillPayment", {"VendorRef": pg["VendorRef"], "PayType": "Check", "TotalAmt": 200.00,
                          "CheckPayment": {"BankAccountRef": {"value": sb.qbo_account_id("Checking")}},
                          "Line": [{"Amount": 200.00, "LinkedTxn": [{"TxnId": pg["Id"], "TxnType": "Bill"}]}]})
    inv = next(o for o in q.all("Invoice") if o.get("DocNumber") == "1002")
    q.add("Payment", {"CustomerRef": inv["CustomerRef"], "TotalAmt": 50.00,
                      "Line": [{"Amount": 50.00, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}]})
    q.add("Bill", {"VendorRef": pg["VendorRef"], "DocNumber": "PG-DEC", "TxnDate": "2026-11-24",
                   "Line": [{"Amount": 377.10, "DetailType": "AccountBasedExpenseLineDetail",
                             "AccountBasedExpenseLineDetail": {"AccountRef": {"value": sb.qbo_account_id("Utilities")}}}]})
    nl = next(o for o in b.all("bills") if o["invoice"]["invoiceNumber"] == "NL-1001")
    b.pay_bill(nl["id"], 500.00, process_date="2026-11-24")
    cool = next(o for o in b.all("invoices") if o.get("invoiceNumber") == "1001")
    b.receive_payment(cool["customerId"], invoices=[(cool["id"], 150.00)], payment_date="2026-11-24")
    acme = next(o for o in b.all("vendors") if o["name"] == "Acme Paper Co")
    b.add("bills", {"vendorId": acme["id"], "invoice": {"invoiceNumber": "AP-790", "invoiceDate": "2026-11-24"},
                    "dueDate": "2026-12-24", "billLineItems": [{"amount": 61.25, "description": "Envelopes"}]})


class Scenario:
    """Seed, sync, day-two changes, sync: each sync a child process that may be killed once."""

    def __init__(self, tmp_path, kill_at=None, v2_bulk=False):
        self.tmp_path = tmp_path
        self.kill_at = kill_at
        self.v2_bulk = v2_bulk
        self.bulk_writes = []   # the write numbers of v2 bulk calls
        self.writes = 0
        self.killed = False
        self.child = None
        self._lock = threading.Lock()

    def _count(self, request, response):
        if request.method == "GET" or request.path.startswith(AUTH_PATHS):
            return
        with self._lock:
            self.writes += 1
            if request.path.startswith("/api/v2/Bulk/"):
                self.bulk_writes.append(self.writes)
            if self.kill_at is not None and self.writes == self.kill_at and self.child is not None:
                os.kill(self.child.pid, signal.SIGKILL)   # the write is done; its answer will never arrive
                self.killed = True

    def sync(self, config_path):
        while True:
            self.child = subprocess.Popen([sys.executable, "-m", "sync_engine", "sync", "--config", config_path],
                                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            out, _ = self.child.communicate(timeout=120)
            if self.child.returncode == -signal.SIGKILL:
                continue  # restarted, as the cron would do the next time
            assert self.child.returncode == 0, out.decode()
            return out.decode()

    def play(self):
        # limits off: a restarted process would otherwise be throttled for a minute by the
        # requests its killed predecessor made (the pacing itself is tested elsewhere)
        with Sandboxes(qbo_options={"enforce_limits": False}, billcom_options={"enforce_limits": False}) as sb:
            seed_demo(sb)
            sb.qbo.after_dispatch = sb.billcom.after_dispatch = self._count
            config_path = str(self.tmp_path / "connection.json")
            settings = sb.default_settings(billcom_v2_bulk=self.v2_bulk)
            sb.connection_config(settings=settings, store_path=str(self.tmp_path / "state.sqlite")).save(config_path)
            self.sync(config_path)
            day_two(sb)
            self.sync(config_path)
            return business_view(sb)


@pytest.mark.parametrize("v2_bulk", [False, True], ids=["v3", "v2-bulk"])
def test_sigkill_at_many_points_then_restart_ends_like_an_uninterrupted_run(tmp_path, capsys, v2_bulk):
    """Killed right after any write (a v2 bulk call included, when the connection
    uses them), restarted, the books end as an uninterrupted run leaves them."""
    clean = Scenario(tmp_path / "clean", v2_bulk=v2_bulk)
    (tmp_path / "clean").mkdir()
    expected = clean.play()
    total = clean.writes
    assert total > 10
    # payments crossed both ways on day two
    assert any(p[2] for p in expected["billcom payments"]) and len(expected["qbo BillPayment"]) > 3
    points = sorted({1 + round(i * (total - 1) / 13) for i in range(14)} | set(clean.bulk_writes))
    assert bool(clean.bulk_writes) == v2_bulk
    for k in points:
        work = tmp_path / f"kill-{k}"
        work.mkdir()
        run = Scenario(work, kill_at=k, v2_bulk=v2_bulk)
        assert run.play() == expected, f"killed after write {k} of {total}"
        assert run.killed
    with capsys.disabled():
        print(f"\n[crash test, {'v2 bulk' if v2_bulk else 'v3'}] SIGKILL tried at {len(points)} of {total} "
              f"write points: {points}")
