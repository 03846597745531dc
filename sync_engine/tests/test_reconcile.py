"""The tie-out a controller asks for: after a sync both books agree to the cent,
and a change made behind the sync's back shows up as exactly that difference,
with its likely cause, in the run summary and on the command line."""
import json
import os
import subprocess
import sys
import time
from urllib.parse import unquote_plus
from decimal import Decimal

from sync_engine import reconcile, service as service_module
from sync_engine.errors import RemoteUnavailable
from sync_engine.mapping import DOCUMENT_TYPES, PAYMENT_TYPES
from sync_engine.pacing import Clock
from sync_engine.service import SyncService
from sync_engine.store import SQLiteStore

from sync_engine.tests.sync_support import demo_company

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bill(c, number, side):
    if side == "qbo":
        return next(o for o in c.sb.qbo.all("Bill") if o.get("DocNumber") == number)
    return next(o for o in c.sb.billcom.all("bills") if o["invoice"]["invoiceNumber"] == number)


def test_after_a_first_sync_the_books_agree_and_the_run_says_so():
    with demo_company() as c:
        result = c.run()
        assert result.state in ("done", "partial"), result.message
        report = result.tie_out
        assert report.agrees, report.render()
        assert report.documents >= 8
        assert report.open_qbo == report.open_billcom > 0
        assert isinstance(report.open_qbo, Decimal)
        # the verdict closes the run's summary, and is kept with the run
        assert "Books agree: " in result.message and "open on both sides" in result.message
        assert f"${report.open_qbo:,.2f} open on both sides" in report.verdict()
        assert c.store.runs()[-1].message == result.message
        # every linked vendor's synced open balance matches on both sides
        norton = next(p for p in report.parties if p.name == "Norton Lumber")
        assert norton.open_qbo == norton.open_billcom == Decimal("1310.00")


def test_an_amount_changed_in_billcom_behind_the_syncs_back_is_that_bill_and_nothing_else():
    with demo_company() as c:
        c.run()
        bill = _bill(c, "NL-1001", "billcom")
        line = bill["billLineItems"][0]
        c.sb.billcom.user_update("bills", bill["id"], {"billLineItems": [dict(line, amount=1200.00)]})
        assert float(_bill(c, "NL-1001", "billcom")["amount"]) == 1200.00

        report = c.service().tie_out()
        assert not report.agrees
        # one difference: the unpaid bill's open balance moved with its total, and so did the
        # vendor's, so neither is reported a second time
        [total] = report.differences
        assert (total.record, total.field) == ("Bill NL-1001 (Norton Lumber)", "total")
        assert (total.qbo_value, total.billcom_value) == (Decimal("1250.00"), Decimal("1200.00"))
        assert total.cause == "amounts differ: a line, tax or discount was not carried"
        assert total.qbo_id == _bill(c, "NL-1001", "qbo")["Id"] and total.billcom_id == bill["id"]
        assert report.open_qbo - report.open_billcom == Decimal("50.00")
        assert report.verdict() == ("1 difference between QuickBooks and Bill.com (first: "
                                    "Bill NL-1001 (Norton Lumber) total QuickBooks 1,250.00, Bill.com 1,200.00)")
        table = report.render().splitlines()
        assert table[0].split() == ["Record", "Field", "QuickBooks", "Bill.com", "Likely", "cause"]
        assert table[2].split("  ")[0] == "Bill NL-1001 (Norton Lumber)"
        assert "1,250.00" in table[2] and "1,200.00" in table[2] and "a line, tax or discount" in table[2]
        assert table[-1] == report.verdict()


def test_a_payment_recorded_in_billcom_only_shows_as_an_open_balance_difference():
    with demo_company() as c:
        c.run()
        c.sb.billcom.pay_bill(_bill(c, "PG-NOV", "billcom")["id"], 12.37, process_date="2026-11-21")
        report = c.service().tie_out()
        assert [(d.record, d.field, d.qbo_value, d.billcom_value, d.cause) for d in report.differences] == [
            ("Bill PG-NOV (Pacific Gas)", "open balance", Decimal("412.37"), Decimal("400.00"),
             "a payment or credit is recorded on one side only")]
        # the next sync carries the payment to QuickBooks and the books agree again
        result = c.run()
        assert result.tie_out.agrees, result.tie_out.render()
        assert "Books agree" in result.message


def test_a_synced_bill_deleted_in_quickbooks_is_reported_with_its_cause():
    with demo_company() as c:
        c.run()
        qbill = _bill(c, "PG-NOV", "qbo")
        c.sb.qbo.user_delete("Bill", qbill["Id"])
        report = c.service().tie_out()
        assert [(d.record, d.field, d.qbo_value, d.billcom_value, d.cause) for d in report.differences] == [
            ("Bill PG-NOV (Pacific Gas)", "open balance", None, Decimal("412.37"),
             "deleted in QuickBooks after it synced")]
        assert "QuickBooks missing, Bill.com 412.37" in report.verdict()


def test_a_payment_voided_in_quickbooks_only_is_a_difference_and_so_is_the_balance_it_reopened():
    with demo_company() as c:
        c.run()
        ap = _bill(c, "AP-778", "qbo")
        payment = next(p for p in c.sb.qbo.all("BillPayment")
                       if any(t["TxnId"] == ap["Id"] for line in p["Line"] for t in line["LinkedTxn"]))
        c.sb.qbo.user_void("BillPayment", payment["Id"])
        report = c.service().tie_out()
        causes = {(d.object_type, d.field): (d.qbo_value, d.billcom_value, d.cause) for d in report.differences}
        assert causes == {
            ("bill_payment", "amount"): (None, Decimal("100.00"), "voided in QuickBooks after it synced"),
            ("bill", "open balance"): (Decimal("240.00"), Decimal("140.00"),
                                       "a payment or credit is recorded on one side only"),
        }


def test_the_tie_out_reads_in_pages_not_one_request_per_record():
    with demo_company() as c:
        c.run()
        c.sb.qbo.clear_log()
        c.sb.billcom.clear_log()
        report = c.service().tie_out()
        assert report.agrees
        linked_types = {l.object_type for l in c.store.load_links()} & set(DOCUMENT_TYPES + PAYMENT_TYPES)
        queries = [r for r in c.sb.qbo.request_log() if "/v3/company/" in r.path]
        lists = [r for r in c.sb.billcom.request_log() if r.method == "GET"]
        assert len(queries) <= len(linked_types), [r.path for r in queries]
        assert len(lists) <= len(linked_types), [r.path for r in lists]


def test_a_tie_out_that_cannot_be_computed_does_not_fail_the_run_and_keeps_secrets_out(monkeypatch):
    with demo_company() as c:
        password = c.config.billcom.password

        def unreachable(config, store, remote, deadline=None, resume=None):
            raise RemoteUnavailable(f"Bill.com did not answer (password={password})")
        monkeypatch.setattr(service_module, "compute_tie_out", unreachable)
        result = c.run()
        assert result.state in ("done", "partial")
        assert result.tie_out is None
        assert "The tie-out could not be computed" in result.message and "did not answer" in result.message
        assert password not in result.message
        assert c.store.runs()[-1].message == result.message


def _cli(*args, timeout=60):
    time.sleep(1.1)  # a new process starts with empty pacing: leave QBO's 10/s window to the last one
    return subprocess.run([sys.executable, "-m", "sync_engine", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_reconcile_command_exits_0_when_the_books_agree_and_1_with_the_difference(tmp_path):
    # the sandboxes keep real time: the command runs in its own process, on the real clock
    with demo_company(clock=Clock()) as c:
        store_path = str(tmp_path / "state.sqlite")
        result = SyncService(c.config, SQLiteStore(store_path), clock=c.clock).run("manual")
        assert result.tie_out.agrees
        config_path = tmp_path / "connection.json"
        c.config.store_path = store_path
        c.config.save(str(config_path))   # with the refresh token the run rotated

        agree = _cli("reconcile", "--config", str(config_path))
        assert agree.returncode == 0, agree.stdout + agree.stderr
        assert agree.stdout.strip().splitlines()[-1].startswith("Books agree: ")

        c.sb.qbo.user_delete("Bill", _bill(c, "PG-NOV", "qbo")["Id"])
        differ = _cli("reconcile", "--config", str(config_path))
        assert differ.returncode == 1, differ.stdout + differ.stderr
        assert "Bill PG-NOV (Pacific Gas)" in differ.stdout
        assert "deleted in QuickBooks after it synced" in differ.stdout
        assert differ.stdout.strip().splitlines()[-1].startswith("1 difference between QuickBooks and Bill.com")

        as_json = _cli("reconcile", "--config", str(config_path), "--json")
        assert as_json.returncode == 1
        data = json.loads(as_json.stdout)
        assert data["agrees"] is False and data["verdict"].startswith("1 difference")
        assert data["differences"] == [{
            "object_type": "bill", "record": "Bill PG-NOV (Pacific Gas)", "field": "open balance",
            "qbo_id": data["differences"][0]["qbo_id"], "billcom_id": data["differences"][0]["billcom_id"],
            "qbo_value": None, "billcom_value": "412.37", "cause": "deleted in QuickBooks after it synced"}]
        assert c.config.billcom.password not in as_json.stdout + as_json.stderr


def test_a_bill_moved_to_another_vendor_in_billcom_shows_in_both_vendors_balances():
    with demo_company() as c:
        c.run()
        hicks = next(v for v in c.sb.billcom.all("vendors") if v["name"] == "Hicks Hardware")
        c.sb.billcom.user_update("bills", _bill(c, "PG-NOV", "billcom")["id"], {"vendorId": hicks["id"]})
        report = c.service().tie_out()
        cause = "a synced document belongs to a different vendor on each side"
        assert sorted((d.record, d.field, d.qbo_value, d.billcom_value, d.cause) for d in report.differences) == [
            ("Hicks Hardware", "open balance of synced documents", Decimal("100.00"), Decimal("512.37"), cause),
            ("Pacific Gas", "open balance of synced documents", Decimal("412.37"), Decimal("0.00"), cause)]
        assert report.open_qbo == report.open_billcom


def test_a_tie_out_a_page_of_links_at_a_time_finds_what_one_of_the_whole_type_finds(monkeypatch):
    """A large company's tie-out reads each side's listing once and compares a
    page of links at a time; pages of two links, with both sides listed, must
    find the same differences and party balances as one page of everything."""
    with demo_company() as c:
        c.run()
        hicks = next(v for v in c.sb.billcom.all("vendors") if v["name"] == "Hicks Hardware")
        c.sb.billcom.user_update("bills", _bill(c, "PG-NOV", "billcom")["id"], {"vendorId": hicks["id"]})
        c.sb.qbo.user_delete("Bill", _bill(c, "HH-2207", "qbo")["Id"])
        whole = c.service().tie_out()

        monkeypatch.setattr(reconcile, "LINK_PAGE", 2)
        monkeypatch.setattr(reconcile, "LISTING_BATCH", 2)
        monkeypatch.setattr(reconcile, "QBO_ID_CHUNK", 1)       # listing is cheaper than a select per id
        monkeypatch.setattr(reconcile, "BILLCOM_ID_CHUNK", 1)
        c.sb.qbo.clear_log()
        paged = c.service().tie_out()

    def facts(report):
        out = report.as_dict()
        out["parties"] = sorted(out["parties"], key=lambda p: (p["object_type"], p["qbo_id"]))
        out["differences"] = sorted(out["differences"], key=lambda d: (d["object_type"], d["record"], d["field"]))
        return out

    assert not whole.agrees
    assert {(d.record, d.cause) for d in whole.differences} >= {
        ("Hicks Hardware", "a synced document belongs to a different vendor on each side"),
        ("Bill HH-2207 (Hicks Hardware)", "deleted in QuickBooks after it synced")}
    assert facts(paged) == facts(whole)
    # QuickBooks bills were read by one listing, not by the ids of each page (a type with
    # a single link is still read by its id: one request either way)
    selects = [unquote_plus(r.query or "").lower() for r in c.sb.qbo.request_log() if "/v3/company/" in r.path]
    assert any("select * from bill startposition" in s for s in selects), selects
    assert not any("from bill where" in s for s in selects), selects


def test_a_tie_out_whose_time_runs_out_says_how_far_it_got_and_proves_nothing(monkeypatch):
    """A scheduler kills a job past its time limit; the tie-out stops at its
    deadline instead, between two pages, and says so: never "Books agree"."""
    with demo_company() as c:
        c.run()
        service = c.service()
        full = service.tie_out()
        assert full.agrees and full.compared == full.links > 4
        [first] = c.store.link_page("bill", None, 1)   # the first link the tie-out compares
        c.sb.qbo.user_delete("Bill", first.qbo_id)

        # the time is up before the first page: nothing compared, nothing claimed
        report = service.tie_out(deadline=time.monotonic() - 1)
        assert report.stopped and not report.agrees and report.compared == 0
        assert report.verdict() == (f"Tie-out not finished: 0 of {full.links} linked records compared "
                                    "before its time ran out, no difference among them")
        # going on from there, it compares a page whatever the time: each round gets further
        again = service.tie_out(deadline=time.monotonic() - 1, resume=report.resume_state)
        assert again.stopped and 0 < again.compared < full.links

        # up after two pages of two links (the clock is read before each type and each page)
        monkeypatch.setattr(reconcile, "LINK_PAGE", 2)
        ticks = iter(range(1000))
        report = reconcile.tie_out(service.config, c.store, service.remote, deadline=3, clock=lambda: next(ticks))
        assert report.stopped and report.compared == 4 and not report.parties
        assert not report.agrees and report.as_dict()["complete"] is False
        # what it did compare it reports: the bill deleted behind the sync's back
        assert [(d.qbo_id, d.cause) for d in report.differences] == [
            (first.qbo_id, "deleted in QuickBooks after it synced")]
        assert report.verdict().startswith(
            f"Tie-out not finished: 4 of {full.links} linked records compared before its time ran out, "
            "1 difference among them (first: Bill ")


def test_a_tie_out_stopped_each_round_goes_on_where_it_stopped_and_ends_as_one_in_one_go(monkeypatch):
    """A large company's tie-out at a real latency does not fit in one scheduler
    round: each round goes on from the state the last one left (kept as JSON,
    as the Odoo run keeps it), and the last one ends exactly as one tie-out in
    one go, party balances across rounds included."""
    with demo_company() as c:
        c.run()
        hicks = next(v for v in c.sb.billcom.all("vendors") if v["name"] == "Hicks Hardware")
        c.sb.billcom.user_update("bills", _bill(c, "PG-NOV", "billcom")["id"], {"vendorId": hicks["id"]})
        c.sb.qbo.user_delete("Bill", _bill(c, "HH-2207", "qbo")["Id"])
        service = c.service()
        whole = service.tie_out()

        monkeypatch.setattr(reconcile, "LINK_PAGE", 2)
        monkeypatch.setattr(reconcile, "BILLCOM_ID_CHUNK", 1)   # many links: Bill.com listed at first
        state, rounds, compared = None, 0, []
        while True:
            ticks = iter(range(1000))   # each round has time for one page of links
            report = reconcile.tie_out(service.config, c.store, service.remote, deadline=2,
                                       clock=lambda: next(ticks), resume=state)
            rounds += 1
            compared.append(report.compared)
            if not report.stopped:
                break
            assert not report.agrees and not report.parties
            state = json.loads(json.dumps(report.resume_state))
            c.sb.billcom.clear_log()
            assert rounds < 50, compared

    def facts(report):
        out = report.as_dict()
        out["parties"] = sorted(out["parties"], key=lambda p: (p["object_type"], p["qbo_id"]))
        out["differences"] = sorted(out["differences"], key=lambda d: (d["object_type"], d["record"], d["field"]))
        return out

    assert rounds > 3 and compared == sorted(compared) and compared[-1] == whole.links, compared
    assert facts(report) == facts(whole)
    assert {d.cause for d in report.differences} >= {
        "deleted in QuickBooks after it synced", "a synced document belongs to a different vendor on each side"}
    # a round that goes on reads Bill.com by ids, not by a listing that may not fit either
    lists = [r for r in c.sb.billcom.request_log() if r.method == "GET" and "/v3/" in r.path]
    assert lists and all("id" in unquote_plus(r.query or "") for r in lists), [r.query for r in lists]
