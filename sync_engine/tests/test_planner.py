"""The planner on its own: what a plan says about each record, one rule at a
time. Each test builds a small scenario in the local sandboxes, plans with
``Planner(config, store, remote).plan()`` and reads the plan items: action,
direction, rule code, whether the record is read again next run, whether its
classes are dropped, and the field differences of an update. Planning writes
nothing, so every test also checks that neither side was written.
"""

import pytest

from sync_engine import rules
from sync_engine.errors import RECORD, RemoteError
from sync_engine.planner import BC_TO_QBO, NO_DIRECTION, QBO_TO_BC, Planner
from sync_engine.remote import Remote

from sync_support import NO_CREDITS, ONE_WAY, demo_company


def _plan(c):
    before = c.writes()
    plan = Planner(c.config, c.store, Remote(c.config, clock=c.clock)).plan()
    assert c.writes() == before, "planning wrote to a remote side"
    return plan


def _items(plan, record=None, **match):
    """Plan items whose line record starts with ``record`` and whose line fields match."""
    return [i for i in plan.items
            if (record is None or i.line.record == record or i.line.record.startswith(record + " ("))
            and all(getattr(i.line, k) == v for k, v in match.items())]


def _one(plan, record, **match):
    found = _items(plan, record, **match)
    assert len(found) == 1, (record, [(i.line.action, i.line.rule_code) for i in found])
    return found[0]


def _qbo(c, entity, **match):
    return next(o for o in c.sb.qbo.all(entity) if all(o.get(k) == v for k, v in match.items()))


def _bc(c, collection, **match):
    return next(o for o in c.sb.billcom.all(collection) if all(o.get(k) == v for k, v in match.items()))


def _bc_bill(c, number):
    return next(o for o in c.sb.billcom.all("bills") if o["invoice"]["invoiceNumber"] == number)


def _ref(obj):
    return {"value": obj["Id"], "name": obj.get("DisplayName") or obj.get("Name")}


def _expense_line(c, amount):
    expense = next(a for a in c.sb.qbo.all("Account") if a.get("AccountType") == "Expense")
    return {"Amount": amount, "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": _ref(expense)}}


# ----------------------------------------------------------------- new records
def test_a_partly_paid_quickbooks_bill_is_skipped_with_paid_in_qbo():
    with demo_company() as c:
        plan = _plan(c)
        partly = _one(plan, "Bill HH-2150")
        assert (partly.line.action, partly.line.direction, partly.line.rule_code) == \
            ("skip", QBO_TO_BC, "paid_in_qbo")
        assert "balance 180.00 of 300.00" in partly.line.message
        assert not partly.retry_next_run
        fully = _one(plan, "Bill PG-OCT")
        assert (fully.line.action, fully.line.rule_code) == ("skip", "paid_in_qbo")
        assert "Fully paid" in fully.line.message
        unpaid = _one(plan, "Bill PG-NOV")
        assert (unpaid.line.action, unpaid.line.rule_code) == ("create", None)
        assert [i.line.rule_code for i in _items(plan, "Invoice 1003")] == ["paid_in_qbo"]


def test_a_quickbooks_payment_is_skipped_with_payment_sync_mode_when_payments_sync_one_way():
    for facts, expected in ((ONE_WAY, ("skip", "payment_sync_mode")), (None, ("create", None))):
        with demo_company(**({"facts": facts} if facts else {})) as c:
            c.run()
            bill = _qbo(c, "Bill", DocNumber="PG-NOV")
            payment = c.sb.qbo.add("BillPayment", {
                "VendorRef": bill["VendorRef"], "PayType": "Check", "TotalAmt": 100.00, "TxnDate": "2026-11-22",
                "CheckPayment": {"BankAccountRef": {"value": c.config.settings.bank_account_id}},
                "Line": [{"Amount": 100.00, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}]})
            plan = _plan(c)
            item = _one(plan, f"Bill payment {payment['Id']}")
            assert (item.line.action, item.line.rule_code) == expected, facts
            assert item.line.direction == QBO_TO_BC
            assert plan.facts["payment_sync_mode"] == (rules.ONE_WAY if facts else rules.TWO_WAY)
            if facts:
                assert "recorded in Bill.com" in item.line.message


def test_a_quickbooks_bill_with_an_attachment_is_created_and_the_attachment_stays_behind():
    with demo_company() as c:
        item = _one(_plan(c), "Bill HH-2207")
        assert (item.line.action, item.line.direction, item.line.rule_code) == ("create", QBO_TO_BC, "no_attachments")
        assert "1 attachment(s) stay behind" in item.line.message
        assert item.source.remote_id == _qbo(c, "Bill", DocNumber="HH-2207")["Id"]


def test_credits_stay_out_with_credit_memo_start_date_for_organizations_started_before_2019_01_15():
    with demo_company(facts=NO_CREDITS) as c:
        plan = _plan(c)
        credits = _items(plan, object_type="credit_memo") + _items(plan, object_type="vendor_credit")
        assert sorted((i.line.record, i.line.action, i.line.rule_code) for i in credits) == [
            ("Credit memo CM-1 (Cool Cars)", "skip", "credit_memo_start_date"),
            ("Vendor credit NL-CR-7 (Norton Lumber)", "skip", "credit_memo_start_date")]
        assert "2019-01-15" in credits[0].line.message
    with demo_company() as c:
        assert [i.line.action for i in _items(_plan(c), "Credit memo CM-1")] == ["create"]


def test_a_billcom_invoice_with_classes_drops_them_unless_quickbooks_tracks_classes_per_line():
    with demo_company() as c:
        item = _one(_plan(c), "Invoice BC-5001")
        assert (item.line.action, item.line.direction, item.line.rule_code) == ("create", BC_TO_QBO, "class_per_line")
        assert item.drop_classes
        assert "Classes were left off" in item.line.message
    with demo_company() as c:
        c.sb.qbo.set_preferences(ClassTrackingPerTxnLine=True)
        item = _one(_plan(c), "Invoice BC-5001")
        assert (item.line.action, item.line.rule_code, item.drop_classes) == ("create", None, False)


def test_a_non_usd_bill_and_its_vendor_are_skipped_with_non_usd():
    with demo_company() as c:
        plan = _plan(c)
        assert [(i.line.action, i.line.rule_code) for i in _items(plan, "Bill MS-88")] == [("skip", "non_usd")]
        assert [(i.line.action, i.line.rule_code) for i in _items(plan, "Vendor Maple Supplies Ltd")] == \
            [("skip", "non_usd")]
        assert "CAD" in _one(plan, "Bill MS-88").line.message


def test_an_unapproved_billcom_bill_is_skipped_with_approved_only_when_only_approved_bills_sync():
    with demo_company(sync_only_approved_bills=True) as c:
        plan = _plan(c)
        held = _one(plan, "Bill AP-779")
        assert (held.line.action, held.line.direction, held.line.rule_code) == ("skip", BC_TO_QBO, "approved_only")
        assert "approving" in held.line.message
        assert _one(plan, "Bill AP-778").line.action == "create"
    with demo_company(sync_only_approved_bills=False) as c:
        assert _one(_plan(c), "Bill AP-779").line.action == "create"


def test_a_document_whose_lines_do_not_add_up_to_its_total_is_held_with_document_total():
    with demo_company() as c:
        hicks = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        bill = c.sb.qbo.add("Bill", {"VendorRef": _ref(hicks), "DocNumber": "DT-1", "TxnDate": "2026-11-20",
                                     "Line": [_expense_line(c, 100.00)]})
        # a total no line explains (what no validation would let in, written into the sandbox's state)
        stored = c.sb.qbo._data["Bill"][bill["Id"]]
        stored["TotalAmt"] = stored["Balance"] = 120.00
        item = _one(_plan(c), "Bill DT-1")
        assert (item.line.action, item.line.direction, item.line.rule_code) == ("skip", QBO_TO_BC, "document_total")
        assert "add up to 100.00" in item.line.message and "total is 120.00" in item.line.message


def test_a_quickbooks_bill_with_tax_is_held_with_shape_not_carried():
    with demo_company() as c:
        hicks = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        c.sb.qbo.add("Bill", {"VendorRef": _ref(hicks), "DocNumber": "TX-1", "TxnDate": "2026-11-20",
                              "TxnTaxDetail": {"TotalTax": 5.00}, "Line": [_expense_line(c, 100.00)]})
        item = _one(_plan(c), "Bill TX-1")
        assert (item.line.action, item.line.rule_code) == ("skip", "shape_not_carried")
        assert "tax of 5.00" in item.line.message


def test_a_customer_without_email_is_skipped_with_required_field_and_its_invoice_waits_with_missing_reference():
    with demo_company() as c:
        shy = c.sb.qbo.add("Customer", {"DisplayName": "No Mail Bakery"})
        design = _qbo(c, "Item", Name="Design")
        c.sb.qbo.add("Invoice", {"CustomerRef": _ref(shy), "DocNumber": "NM-1", "TxnDate": "2026-11-20",
                                 "Line": [{"Amount": 75.00, "DetailType": "SalesItemLineDetail",
                                           "SalesItemLineDetail": {"ItemRef": _ref(design), "Qty": 1,
                                                                   "UnitPrice": 75}}]})
        plan = _plan(c)
        customer = _one(plan, "Customer No Mail Bakery")
        assert (customer.line.action, customer.line.rule_code) == ("skip", "required_field")
        assert "e-mail" in customer.line.message
        waiting = _one(plan, "Invoice NM-1")
        assert (waiting.line.action, waiting.line.rule_code, waiting.line.field) == \
            ("skip", "missing_reference", "customer")
        assert waiting.retry_next_run, "a record waiting on another is read again next run"
        assert "No Mail Bakery" in waiting.line.message


def test_a_billcom_bill_number_longer_than_quickbooks_accepts_is_skipped_with_field_too_long():
    with demo_company() as c:
        acme = _bc(c, "vendors", name="Acme Paper Co")
        number = "AP-" + "9" * 22
        c.sb.billcom.add("bills", {"vendorId": acme["id"], "invoice": {"invoiceNumber": number,
                                                                       "invoiceDate": "2026-11-18"},
                                   "dueDate": "2026-12-18", "approvalStatus": "APPROVED",
                                   "billLineItems": [{"amount": 12.00, "description": "Clips"}]})
        item = _one(_plan(c), f"Bill {number}")
        assert (item.line.action, item.line.direction, item.line.rule_code) == ("skip", BC_TO_QBO, "field_too_long")
        assert "25 characters" in item.line.message and "at most 21" in item.line.message


def test_billcom_vendors_whose_names_differ_only_by_case_are_held_with_duplicate_name():
    with demo_company() as c:
        c.run()
        c.sb.billcom.add("vendors", {"name": "Dup Co", "email": "a@dup.example", "accountType": "BUSINESS"})
        c.sb.billcom.add("vendors", {"name": "DUP CO ", "email": "b@dup.example", "accountType": "BUSINESS"})
        held = _items(_plan(c), object_type="vendor", rule_code="duplicate_name")
        assert sorted(i.line.record for i in held) == ["Vendor DUP CO", "Vendor Dup Co"]
        assert all(i.line.action == "skip" and i.line.direction == BC_TO_QBO and i.retry_next_run for i in held)


def test_an_inactive_quickbooks_vendor_is_not_created_in_billcom():
    with demo_company() as c:
        c.run()
        gone = c.sb.qbo.add("Vendor", {"DisplayName": "Gone Gardens", "PrimaryEmailAddr": {"Address": "x@gone.example"}})
        c.sb.qbo.user_delete("Vendor", gone["Id"])  # a name deleted in QuickBooks is made inactive
        item = _one(_plan(c), "Vendor Gone Gardens")
        assert (item.line.action, item.line.direction, item.line.rule_code) == ("skip", QBO_TO_BC, "inactive")


def test_a_billcom_payment_voided_before_it_synced_is_skipped_with_voided():
    with demo_company() as c:
        paper = _bc_bill(c, "AP-778")
        payment = next(p for p in c.sb.billcom.all("payments")
                       if any(x["billId"] == paper["id"] for x in p.get("billPayments", [])))
        c.sb.billcom.void_payment(payment["id"])
        item = _one(_plan(c), f"Bill payment {payment['id']}")
        assert (item.line.action, item.line.direction, item.line.rule_code) == ("skip", BC_TO_QBO, "voided")


def test_a_payment_of_a_bill_that_does_not_sync_is_skipped_with_not_synced_document():
    with demo_company() as c:
        plan = _plan(c)
        partial = next(p for p in c.sb.qbo.all("BillPayment") if p["TotalAmt"] == 120.00)
        item = _one(plan, f"Bill payment {partial['Id']}")
        assert (item.line.action, item.line.direction, item.line.rule_code) == \
            ("skip", QBO_TO_BC, "not_synced_document")


def test_an_unreadable_record_is_an_error_line_naming_the_field_and_read_again():
    with demo_company() as c:
        hicks = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        c.sb.qbo._data["Vendor"][hicks["Id"]]["PrimaryEmailAddr"] = ["not", "an", "object"]
        item = _one(_plan(c), f"QuickBooks Vendor {hicks['Id']}")
        assert (item.line.action, item.line.rule_code, item.line.field) == ("error", "bad_data", "PrimaryEmailAddr")
        assert item.retry_next_run
        assert item.line.qbo_id == hicks["Id"]


def test_a_quickbooks_bill_without_a_number_is_skipped_with_bad_data_and_read_again():
    with demo_company() as c:
        hicks = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        bill = c.sb.qbo.add("Bill", {"VendorRef": _ref(hicks), "TxnDate": "2026-11-20",
                                     "Line": [_expense_line(c, 33.00)]})
        item = next(i for i in _plan(c).items if i.line.qbo_id == bill["Id"] and i.object_type == "bill")
        assert (item.line.action, item.line.rule_code) == ("skip", "bad_data")
        assert "number is required" in item.line.message
        assert item.retry_next_run


# ------------------------------------------------------------ linked records
def test_a_second_plan_with_no_changes_has_nothing_to_do():
    with demo_company() as c:
        c.run()
        plan = _plan(c)
        assert [i.line for i in plan.items if i.line.action not in ("skip",)] == []
        assert plan.full_read == {"qbo": False, "billcom": False}


def test_a_record_changed_on_one_side_is_an_update_with_its_field_differences():
    with demo_company() as c:
        c.run()
        hicks = _bc(c, "vendors", name="Hicks Hardware")
        c.sb.billcom.user_update("vendors", hicks["id"], {"email": "ap@hicks.example"})
        item = _one(_plan(c), "Vendor Hicks Hardware")
        assert (item.line.action, item.line.direction, item.line.rule_code) == ("update", BC_TO_QBO, None)
        assert item.line.diff == {"email": ["billing@hicks.example", "ap@hicks.example"]}
        assert item.values["email"] == "ap@hicks.example"
        assert item.line.qbo_id == _qbo(c, "Vendor", DisplayName="Hicks Hardware")["Id"]
        assert item.line.billcom_id == hicks["id"]
        assert not item.retry_next_run


def test_a_record_changed_on_both_sides_is_held_unless_a_master_side_is_set():
    with demo_company() as c:
        c.run()
        pg_q = _qbo(c, "Vendor", DisplayName="Pacific Gas")
        pg_b = _bc(c, "vendors", name="Pacific Gas")
        c.sb.qbo.user_update("Vendor", pg_q["Id"], {"PrimaryEmailAddr": {"Address": "qbo@pg.example"}})
        c.sb.billcom.user_update("vendors", pg_b["id"], {"email": "billcom@pg.example"})
        held = _one(_plan(c), "Vendor Pacific Gas")
        assert (held.line.action, held.line.direction, held.line.rule_code) == ("conflict", NO_DIRECTION, "conflict")
        assert held.retry_next_run
        assert held.line.diff == {"QuickBooks: email": ["pay@pacificgas.example", "qbo@pg.example"],
                                  "Bill.com: email": ["pay@pacificgas.example", "billcom@pg.example"]}
        for master, direction, value in (("qbo", QBO_TO_BC, "qbo@pg.example"),
                                         ("billcom", BC_TO_QBO, "billcom@pg.example")):
            c.config.settings.master_side = master
            item = _one(_plan(c), "Vendor Pacific Gas")
            assert (item.line.action, item.line.direction, item.line.rule_code) == ("update", direction, None)
            assert item.line.diff == {"email": ["pay@pacificgas.example", value]}
            assert not item.retry_next_run


def test_a_synced_quickbooks_bill_deleted_plans_archiving_its_billcom_twin():
    with demo_company() as c:
        c.run()
        c.sb.qbo.user_delete("Bill", _qbo(c, "Bill", DocNumber="PG-NOV")["Id"])
        item = _one(_plan(c), "Bill PG-NOV")
        assert (item.line.action, item.line.direction, item.line.rule_code) == ("archive", QBO_TO_BC, "deleted")
        assert item.target.remote_id == _bc_bill(c, "PG-NOV")["id"]
        assert "archive in Bill.com" in item.line.message


def test_a_synced_quickbooks_bill_deleted_after_it_was_paid_in_billcom_is_held_for_a_person():
    with demo_company() as c:
        c.run()
        c.sb.qbo.user_delete("Bill", _qbo(c, "Bill", DocNumber="PG-NOV")["Id"])
        c.sb.billcom.pay_bill(_bc_bill(c, "PG-NOV")["id"], 100.00, process_date="2026-11-21")
        item = _one(_plan(c), "Bill PG-NOV")
        assert (item.line.action, item.line.direction, item.line.rule_code) == ("conflict", NO_DIRECTION, "deleted")
        assert "100.00" in item.line.message
        assert item.retry_next_run


# ------------------------------------------------- records read again by id
def _hold_a_conflict(c):
    """Pacific Gas changed on both sides and held by a run; returns its ids."""
    c.run()
    pg_q = _qbo(c, "Vendor", DisplayName="Pacific Gas")
    pg_b = _bc(c, "vendors", name="Pacific Gas")
    c.sb.qbo.user_update("Vendor", pg_q["Id"], {"PrimaryEmailAddr": {"Address": "qbo@pg.example"}})
    c.sb.billcom.user_update("vendors", pg_b["id"], {"email": "billcom@pg.example"})
    c.clock.advance(600)  # the edits are older than the overlap the next reads look back
    held = c.run()
    assert [l.action for l in held.lines if l.record == "Vendor Pacific Gas"] == ["conflict"]
    return pg_q["Id"], pg_b["id"]


def test_a_held_record_is_read_again_next_run_even_if_unchanged():
    with demo_company() as c:
        qbo_id, billcom_id = _hold_a_conflict(c)
        retries = c.store.get_retries()
        assert {("qbo", "vendor", qbo_id), ("billcom", "vendor", billcom_id)} <= set(retries)
        # neither side changed since the run that held it: the cursors alone would not see it
        c.store.set_retries([])
        assert _items(_plan(c), "Vendor Pacific Gas") == []
        c.store.set_retries(retries)
        again = _one(_plan(c), "Vendor Pacific Gas")
        assert (again.line.action, again.line.rule_code) == ("conflict", "conflict")
        assert again.source.remote_id == qbo_id and again.target.remote_id == billcom_id
        assert again.retry_next_run


def test_a_held_record_read_again_from_one_side_only_is_planned_as_its_change():
    with demo_company() as c:
        c.run()
        hicks_b = _bc(c, "vendors", name="Hicks Hardware")
        c.sb.billcom.user_update("vendors", hicks_b["id"], {"email": "ap@hicks.example"})
        c.clock.advance(3600)
        # the change is older than the cursors now; only the retry list brings it back
        c.store.set_cursors({"qbo": str(c.clock.now()), "billcom": str(c.clock.now())})
        c.clock.advance(3600)
        assert _items(_plan(c), "Vendor Hicks Hardware") == []
        c.store.set_retries([("billcom", "vendor", hicks_b["id"])])
        item = _one(_plan(c), "Vendor Hicks Hardware")
        assert (item.line.action, item.line.direction) == ("update", BC_TO_QBO)
        assert item.line.diff == {"email": ["billing@hicks.example", "ap@hicks.example"]}


@pytest.mark.parametrize("side", ["qbo", "billcom"])
def test_a_held_record_that_no_longer_exists_is_said_once_and_not_read_again(side):
    with demo_company() as c:
        c.run()
        missing = "424242" if side == "qbo" else "00902nosuchvendor00"
        c.store.set_retries([(side, "vendor", missing)])
        plan = _plan(c)
        gone = [i for i in plan.items if missing in (i.line.qbo_id, i.line.billcom_id)]
        assert [(i.line.action, i.line.rule_code) for i in gone] == [("skip", "deleted")]
        assert "no longer exists" in gone[0].line.message
        assert not gone[0].retry_next_run
        c.run()
        assert c.store.get_retries() == []


def test_a_held_bill_of_a_type_not_synced_is_left_out_of_the_plan():
    with demo_company(object_types=["vendor"]) as c:
        c.run()
        c.store.set_retries([("qbo", "bill", _qbo(c, "Bill", DocNumber="PG-NOV")["Id"])])
        plan = _plan(c)
        assert {i.object_type for i in plan.items} <= {"vendor"}


def test_a_held_quickbooks_bill_deleted_while_no_sync_ran_for_a_month_is_planned_as_its_deletion():
    with demo_company() as c:
        c.run()
        bill = _qbo(c, "Bill", DocNumber="PG-NOV")
        c.store.set_retries([("qbo", "bill", bill["Id"])])
        c.sb.qbo.user_delete("Bill", bill["Id"])
        c.clock.advance(31 * 86400)  # beyond what change data capture looks back: a full read misses it
        plan = _plan(c)
        assert plan.full_read["qbo"]
        item = _one(plan, "Bill PG-NOV")
        assert (item.line.action, item.line.direction, item.line.rule_code) == ("archive", QBO_TO_BC, "deleted")
        assert item.line.qbo_id == bill["Id"]


@pytest.mark.parametrize("collection,otype,key", [("vendors", "vendor", "Pacific Gas"),
                                                  ("bills", "bill", "PG-NOV")])
def test_a_held_billcom_record_that_billcom_no_longer_returns_is_planned_as_a_deletion(collection, otype, key):
    with demo_company() as c:
        c.run()
        obj = next(o for o in c.sb.billcom.all(collection)
                   if key in (o.get("name"), (o.get("invoice") or {}).get("invoiceNumber")))
        c.store.set_retries([("billcom", otype, obj["id"])])
        # Bill.com's API archives rather than deletes: the record is taken out of the sandbox's state
        c.sb.billcom.collections[collection].objects.pop(obj["id"])
        plan = _plan(c)
        items = [i for i in plan.items if i.object_type == otype and i.line.billcom_id == obj["id"]]
        assert [i.line.rule_code for i in items] == ["deleted"]
        assert not [i for i in items if i.line.action == "update"]


def test_a_held_record_that_quickbooks_cannot_give_back_while_it_is_down_stops_the_plan():
    with demo_company() as c:
        c.clock.advance(600)  # the seeded records are older than what the next reads look back
        c.run()
        hicks = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        c.store.set_retries([("qbo", "vendor", hicks["Id"])])
        c.sb.qbo.inject("server_fault", count=1000, method="GET", path=rf"/vendor/{hicks['Id']}$")
        with pytest.raises(RemoteError) as raised:
            _plan(c)
        assert raised.value.scope != RECORD
        result = c.run()
        assert result.state == "failed"
        assert c.store.get_retries() == [("qbo", "vendor", hicks["Id"])], "still held for the next run"
