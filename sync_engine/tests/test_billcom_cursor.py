"""The Bill.com cursor after a run that wrote many records: the next quiet day
reads one page per collection, and a change a person made in Bill.com while
the run was writing is still read by the next run."""
from collections import Counter

import pytest

from sync_engine import billcom_cursors
from sync_engine.pacing import FakeClock

from sync_engine.tests.sync_support import demo_company

MANY = 230  # more bills than two Bill.com list pages hold


def _add_qbo_bills(c, n=MANY):
    q = c.sb.qbo
    vendor = next(v for v in q.all("Vendor") if v["DisplayName"] == "Hicks Hardware")
    expense = next(a for a in q.all("Account") if a.get("AccountType") == "Expense")
    for i in range(n):
        q.add("Bill", {"VendorRef": {"value": vendor["Id"]}, "DocNumber": f"HH-{5000 + i}", "TxnDate": "2026-11-18",
                       "DueDate": "2026-12-18",
                       "Line": [{"Amount": 10 + i, "DetailType": "AccountBasedExpenseLineDetail",
                                 "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}}]})
    return vendor


def _lists(c):
    return Counter(r.path for r in c.sb.billcom.request_log() if r.method == "GET")


# the check after the run lists through v3 (100 a page) or, when the connection
# signs in to v2 for its bulk creates, through v2 (999 a page)
CHECKS = pytest.mark.parametrize("v2", [False, True], ids=["v3 check", "v2 check"])


def _check_pages(c, v2):
    if v2:
        return sum(1 for r in c.sb.billcom.request_log() if r.path == "/api/v2/List/Bill.json")
    return sum(1 for r in c.sb.billcom.request_log() if r.method == "GET" and r.path == "/v3/bills")


@CHECKS
def test_the_quiet_day_after_a_large_first_sync_reads_one_page_per_collection(v2):
    with demo_company(billcom_v2_bulk=v2) as c:
        _add_qbo_bills(c)
        first = c.run(tie_out=False)
        assert first.state == "done"
        assert len(c.lines(first, object_type="bill", action="create", direction="qbo_to_billcom")) >= MANY
        assert c.store.get_cursors()[billcom_cursors.key("bills")]  # moved past the run's own writes
        # the check read the bills once: 3 pages of 100 through v3 (the planning read one more), 1 of 999 through v2
        assert _check_pages(c, v2) == (1 if v2 else 4)
        c.sb.qbo.clear_log()
        c.sb.billcom.clear_log()
        quiet = c.run(tie_out=False)
        assert quiet.state == "done"
        assert [l for l in quiet.lines if l.action in ("create", "update", "link")] == []
        lists = _lists(c)
        assert lists["/v3/bills"] == 1, lists
        assert max(lists.values()) == 1, lists
        assert sum(lists.values()) <= len(c.config.object_types())
        qbo_calls = [r.path for r in c.sb.qbo.request_log() if "/v3/company/" in r.path]
        assert len(qbo_calls) == 1 and qbo_calls[0].endswith("/cdc"), qbo_calls
        # and the day after that too
        c.sb.billcom.clear_log()
        assert c.run(tie_out=False).state == "done"
        assert max(_lists(c).values()) == 1


@CHECKS
def test_a_change_made_in_billcom_while_the_run_writes_is_read_by_the_next_run(v2):
    edits = []
    with demo_company(billcom_v2_bulk=v2) as c:
        vendor = _add_qbo_bills(c)
        b = c.sb.billcom

        def person_at_work(done, total, stage):
            # after the run has created its bills, a person edits one of them and enters a new one
            if edits or not stage.startswith("bill: Bill.com create"):
                return True
            ours = [o for o in b.all("bills") if o["invoice"]["invoiceNumber"].startswith("HH-5")]
            if not ours:
                return True
            edited = b.user_update("bills", ours[0]["id"], {"dueDate": "2027-01-31"})
            hicks = next(v for v in b.all("vendors") if v["name"] == vendor["DisplayName"])
            entered = b.add("bills", {"vendorId": hicks["id"],
                                      "invoice": {"invoiceNumber": "BY-HAND-1", "invoiceDate": "2026-11-20"},
                                      "dueDate": "2026-12-20",
                                      "billLineItems": [{"amount": 77.5, "description": "Entered during the run"}]})
            edits.extend([edited, entered])
            return True

        first = c.service(progress=person_at_work).run("manual", user="test", tie_out=False)
        c.clock.advance(3600)
        assert first.state == "done" and edits, "the person's edits happened during the run"
        assert _check_pages(c, v2) >= 1
        edited, entered = edits
        second = c.run(tie_out=False)
        moved = {(l.object_type, l.direction, l.action, l.billcom_id) for l in second.lines
                 if l.action in ("create", "update")}
        assert ("bill", "billcom_to_qbo", "update", edited["id"]) in moved, moved
        assert ("bill", "billcom_to_qbo", "create", entered["id"]) in moved, moved
        q_bills = {o.get("DocNumber"): o for o in c.sb.qbo.all("Bill")}
        assert q_bills[edited["invoice"]["invoiceNumber"]]["DueDate"] == "2027-01-31"
        assert "BY-HAND-1" in q_bills
        # once read, the next quiet day is back to one page a collection
        c.sb.billcom.clear_log()
        assert c.run(tie_out=False).state == "done"
        assert max(_lists(c).values()) == 1


@CHECKS
def test_a_change_in_the_same_millisecond_as_the_last_own_write_is_not_lost(v2):
    clock = FakeClock(start=1_795_000_000.0)
    with demo_company(clock=clock, billcom_v2_bulk=v2) as c:
        _add_qbo_bills(c)
        assert c.run(tie_out=False).state == "done"
        settled = c.store.get_cursors()[billcom_cursors.key("bills")]
        newest = max(c.sb.billcom.all("bills"), key=lambda o: o["updatedTime"])
        assert billcom_cursors.parse_stamp(settled) == billcom_cursors.parse_stamp(newest["updatedTime"])
        # read with gte: the newest bill is read again (and found unchanged), never skipped
        second = c.run(tie_out=False)
        assert [l for l in second.lines if l.action in ("create", "update")] == []


def test_stamps_round_trip():
    ms = billcom_cursors.parse_stamp("2026-11-20T09:00:01.234+00:00")
    assert billcom_cursors.format_stamp(ms) == "2026-11-20T09:00:01.234Z"
    assert billcom_cursors.parse_stamp(billcom_cursors.format_stamp(ms)) == ms
    assert billcom_cursors.parse_stamp("") is None and billcom_cursors.parse_stamp("not a time") is None


def test_a_change_made_while_the_check_pages_is_not_skipped():
    """Record A is edited after its page was read (so the check never sees it),
    record B after that on a later page: the cursor stays at the newest record
    the run accounts for, which is older than both edits."""
    window = billcom_cursors.BillComWindow(1_795_000_000.0)
    ms = window.start_ms
    stamp = billcom_cursors.format_stamp
    ours = [{"id": f"00e02OURS{i:011d}", "updatedTime": stamp(ms + 10 + i)} for i in range(3)]
    for obj in ours:
        window.wrote("invoices", obj)
    b_edit = {"id": "00e02PERSONBxxxxxxxx", "updatedTime": stamp(ms + 500)}  # A was edited at ms + 400

    class Listing:
        def list(self, collection, filters=None):
            yield from ours
            yield b_edit

    cursor = billcom_cursors.parse_stamp(window._settle_one(Listing(), "invoices"))
    assert cursor <= ms + 12 < ms + 400
