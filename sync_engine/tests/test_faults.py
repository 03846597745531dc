"""Network and API faults during a whole sync: each run ends with the same books
as a clean run, within bounded retries, and the run log says what happened."""
import logging
import threading

import pytest

from sync_engine.errors import SyncAlreadyRunning
from sync_engine.remote import Remote
from sync_engine.service import SyncService
from sync_engine.tests.sync_support import business_view, demo_company

FAST = {"timeout": 0.5, "max_retries": 4}


def _run(c):
    remote = Remote(c.config, clock=c.clock, qbo_options=FAST, billcom_options=FAST)
    return SyncService(c.config, c.store, clock=c.clock, remote=remote).run("manual", user="test")


@pytest.fixture(scope="module")
def clean_view():
    with demo_company() as c:
        result = _run(c)
        assert result.state == "done", result.message
        return business_view(c.sb)


FAULTS = [
    # (side, kind, count, method, path, what the run message says)
    ("qbo", "429", 3, None, r"/query$", "QuickBooks: throttled"),
    ("qbo", "throttle_403", 2, None, r"/batch$", "QuickBooks: throttled"),
    ("qbo", "500", 3, "POST", r"/batch$", "QuickBooks"),
    ("qbo", "503", 2, "GET", r"/query$", "QuickBooks"),
    ("qbo", "timeout", 1, "GET", r"/query$", "QuickBooks"),
    ("qbo", "drop", 2, "POST", r"/batch$", "QuickBooks"),
    ("qbo", "malformed_json", 1, "GET", r"/query$", "QuickBooks"),
    ("qbo", "expired_token", 1, "POST", r"/batch$", None),
    ("billcom", "concurrency", 4, None, None, "Bill.com: retried"),
    ("billcom", "429", 3, "POST", None, "Bill.com: retried"),
    ("billcom", "quota", 1, "GET", r"/v3/bills$", "Bill.com"),
    ("billcom", "server", 3, "POST", r"/bulk$", "Bill.com: retried"),
    ("billcom", "503", 2, "GET", None, "Bill.com: retried"),
    ("billcom", "timeout", 1, "GET", r"/v3/vendors$", "Bill.com"),
    ("billcom", "drop", 2, "POST", r"/v3/customers$", "Bill.com"),
    ("billcom", "lost_response", 2, "POST", r"/v3/invoices$", "Bill.com"),
    ("billcom", "malformed_json", 1, "GET", r"/v3/customers$", "Bill.com"),
    ("billcom", "session_expired", 1, "GET", r"/v3/bills$", "signed in again"),
]


@pytest.mark.parametrize("side, kind, count, method, path, says", FAULTS,
                         ids=[f"{f[0]}-{f[1]}" for f in FAULTS])
def test_fault_burst_ends_like_a_clean_run(clean_view, side, kind, count, method, path, says):
    with demo_company() as c:
        server = c.sb.qbo if side == "qbo" else c.sb.billcom
        server.timeout_fault_seconds = 1.0
        server.inject(kind, count=count, method=method, path=path)
        result = _run(c)
        assert result.state == "done", result.message
        assert business_view(c.sb) == clean_view
        assert [f for f in server.faults if f.count] == [], "the injected faults were all hit"
        if says:
            assert says in (result.message or ""), result.message
        runs = c.store.runs()
        assert runs[-1].message == result.message


def test_access_token_expiring_mid_run_is_refreshed(clean_view):
    with demo_company() as c:
        refreshes = []
        calls = {"n": 0}
        real_batch = c.sb.qbo.dispatch

        def dispatch(request):
            calls["n"] += 1
            if calls["n"] == 12:
                c.sb.qbo.expire_access_tokens()
            return real_batch(request)

        c.sb.qbo.dispatch = dispatch
        remote = Remote(c.config, clock=c.clock, on_tokens=refreshes.append)
        result = SyncService(c.config, c.store, clock=c.clock, remote=remote).run("manual")
        assert result.state == "done", result.message
        assert business_view(c.sb) == clean_view
        assert len(refreshes) >= 2, "the rotated refresh token reached the caller each time"
        assert c.config.qbo.refresh_token == refreshes[-1].refresh_token


def test_a_stale_sync_token_is_read_again_and_the_edit_lands():
    with demo_company() as c:
        _run(c)
        q, b = c.sb.qbo, c.sb.billcom
        vendor_b = next(v for v in b.all("vendors") if v["name"] == "Hicks Hardware")
        vendor_q = next(v for v in q.all("Vendor") if v["DisplayName"] == "Hicks Hardware")
        b.user_update("vendors", vendor_b["id"], {"email": "ap@hicks.example"})
        # someone saves the vendor in QBO without changing anything synced: its SyncToken moves on
        q.user_update("Vendor", vendor_q["Id"], {"Notes": "called about invoice"})
        result = _run(c)
        assert result.state == "done", result.message
        assert q.get("Vendor", vendor_q["Id"])["PrimaryEmailAddr"]["Address"] == "ap@hicks.example"
        assert [l.action for l in result.lines if l.record == "Vendor Hicks Hardware"] == ["update"]


def test_a_batch_with_failing_items_keeps_the_others():
    def seed_with_collisions(sb):
        from sync_engine.sandbox.seed import seed_demo
        seed_demo(sb)
        for name in ("Cool Cars", "Emily Platt"):  # a QBO customer's and an employee's names
            sb.billcom.add("vendors", {"name": name, "email": "x@example.com", "accountType": "BUSINESS"})
        sb.billcom.add("vendors", {"name": "Fresh Vendor", "email": "y@example.com", "accountType": "BUSINESS"})

    with demo_company(seed=seed_with_collisions) as c:
        result = _run(c)
        failed = {l.record: l for l in result.lines if l.state == "failed"}
        assert set(failed) == {"Vendor Cool Cars", "Vendor Emily Platt"}
        assert all("6240" in l.remote_error for l in failed.values())
        assert "Fresh Vendor" in {v["DisplayName"] for v in c.sb.qbo.all("Vendor")}
        assert result.state == "partial"
        again = _run(c)  # failed records are tried again without duplicates: the one whose name is now
        # known to be a QuickBooks customer's is held before anything is sent; the employee's fails again
        assert {l.record for l in again.lines if l.state == "failed"} == {"Vendor Emily Platt"}
        assert [l.record for l in again.lines if l.rule_code == "duplicate_name"] == ["Vendor Cool Cars"]
        assert [v["DisplayName"] for v in c.sb.qbo.all("Vendor")].count("Fresh Vendor") == 1


def test_two_runs_started_together_one_proceeds_the_other_refuses():
    with demo_company() as c:
        outcomes, barrier = [], threading.Barrier(2)

        def go():
            barrier.wait()
            try:
                outcomes.append(_run(c).state)
            except SyncAlreadyRunning as exc:
                outcomes.append(str(exc))

        threads = [threading.Thread(target=go) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(o if o in ("done", "partial") else "refused" for o in outcomes) == ["done", "refused"]
        assert any("already running" in o for o in outcomes)
        view = business_view(c.sb)
        assert view["billcom bills"] == sorted(set(view["billcom bills"]))  # nothing written twice


def test_no_secret_reaches_logs_run_lines_or_errors(caplog):
    caplog.set_level(logging.DEBUG)
    with demo_company() as c:
        c.sb.qbo.inject("expired_token", count=1)
        c.sb.billcom.inject("session_expired", count=1)
        first = _run(c)
        secrets = c.config.secrets() + [c.sb.billcom.password, c.sb.billcom.dev_key, c.sb.qbo.client_secret]
        # now the refresh token is revoked and the Bill.com password is wrong
        c.sb.qbo.revoke_all_tokens()
        c.config.qbo.access_token = None
        c.config.billcom.password = "wrong-" + c.config.billcom.password
        secrets.append(c.config.billcom.password)
        failed = _run(c)
        assert failed.state == "failed"
        assert "reconnect" in failed.message.lower()
        texts = [r.getMessage() for r in caplog.records]
        texts += [failed.message or "", first.message or ""]
        for run in (first, failed):
            for line in run.lines:
                texts += [line.record or "", line.message or "", line.remote_error or ""]
        for summary in c.store.runs():
            texts.append(summary.message or "")
        blob = "\n".join(texts)
        for secret in {s for s in secrets if s}:
            assert secret not in blob


def test_malformed_records_from_either_side_become_named_run_lines_and_the_run_goes_on():
    with demo_company() as c:
        q, b = c.sb.qbo, c.sb.billcom
        # what no validation would let in, written straight into the sandboxes' state (test only)
        bad_bill = next(o for o in q.all("Bill") if o.get("DocNumber") == "PG-NOV")
        q._data["Bill"][bad_bill["Id"]]["Line"][0]["Amount"] = 412.375
        bad_vendor = next(o for o in q.all("Vendor") if o["DisplayName"] == "Hicks Hardware")
        q._data["Vendor"][bad_vendor["Id"]]["PrimaryEmailAddr"] = ["not", "an", "object"]
        bc_bill = next(o for o in b.all("bills") if o["invoice"]["invoiceNumber"] == "AP-778")
        b.collections["bills"].objects[bc_bill["id"]]["amount"] = "two hundred"
        result = _run(c)
        errors = {l.record: l for l in result.lines if l.action == "error"}
        assert errors["QuickBooks Bill " + bad_bill["Id"]].field == "Line[0].Amount"
        assert "fractions of a cent" in errors["QuickBooks Bill " + bad_bill["Id"]].message
        assert errors["QuickBooks Vendor " + bad_vendor["Id"]].field == "PrimaryEmailAddr"
        assert errors["Bill.com bills " + bc_bill["id"]].field == "amount"
        assert all(l.rule_code == "bad_data" for l in errors.values())
        assert result.state == "partial"
        # everything else synced; the bad bill was not sent, nor bills of the unreadable vendor
        numbers = {o["invoice"]["invoiceNumber"] for o in b.all("bills")}
        assert "NL-1001" in numbers and "PG-NOV" not in numbers
        assert {o.get("invoiceNumber") for o in b.all("invoices")} >= {"1001", "1002"}
