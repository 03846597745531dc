"""The sync end to end against both sandboxes: what exists on each side
afterwards, and what the run log says."""
import pytest

from sync_engine.errors import SyncAlreadyRunning

from sync_engine.tests.sync_support import NO_CREDITS, ONE_WAY, business_view, demo_company


def _names(sb_list, key="name"):
    return sorted(o[key] for o in sb_list)


def test_first_sync_moves_what_the_rules_allow_and_says_why_for_the_rest():
    with demo_company(sync_only_approved_bills=True) as c:
        result = c.run()
        assert result.state in ("done", "partial"), result.message
        b, q = c.sb.billcom, c.sb.qbo
        # vendors: Norton existed on both sides and was linked, not duplicated
        assert _names(b.all("vendors")).count("Norton Lumber") == 1
        assert {"Hicks Hardware", "Pacific Gas", "Acme Paper Co"} <= set(_names(b.all("vendors")))
        # only unpaid USD bills went to Bill.com
        numbers = {o["invoice"]["invoiceNumber"] for o in b.all("bills")}
        assert {"NL-1001", "HH-2207", "PG-NOV"} <= numbers
        assert not numbers & {"HH-2150", "PG-OCT", "MS-88"}
        assert {o.get("invoiceNumber") for o in b.all("invoices")} >= {"1001", "1002"}
        assert not {o.get("invoiceNumber") for o in b.all("invoices")} & {"1003", "1004"}
        # the approved Bill.com bill came to QBO with its Bill.com payment; the unapproved one did not
        qbills = {o.get("DocNumber"): o for o in q.all("Bill")}
        assert "AP-778" in qbills and "AP-779" not in qbills
        assert float(qbills["AP-778"]["Balance"]) == 140.00
        pays = [p for p in q.all("BillPayment") if any(t["TxnId"] == qbills["AP-778"]["Id"]
                                                       for l in p["Line"] for t in l["LinkedTxn"])]
        assert len(pays) == 1 and float(pays[0]["TotalAmt"]) == 100.00
        assert pays[0]["CheckPayment"]["BankAccountRef"]["value"] == c.config.settings.bank_account_id
        # the Bill.com invoice came without classes, and its received payment went to the deposit account
        qinv = {o.get("DocNumber"): o for o in q.all("Invoice")}
        assert "BC-5001" in qinv and float(qinv["BC-5001"]["Balance"]) == 0
        assert all("ClassRef" not in l.get("SalesItemLineDetail", {}) for l in qinv["BC-5001"]["Line"])
        received = [p for p in q.all("Payment") if any(t["TxnId"] == qinv["BC-5001"]["Id"]
                                                       for l in p["Line"] for t in l["LinkedTxn"])]
        assert len(received) == 1
        assert received[0]["DepositToAccountRef"]["value"] == c.config.settings.deposit_account_id
        # credits sync (organization started after 2019-01-15)
        assert [o["referenceNumber"] for o in b.all("credit-memos")] == ["CM-1"]
        assert [o["referenceNumber"] for o in b.all("vendor-credits")] == ["NL-CR-7"]
        # the run log names the rule for every record held back
        codes = {(l.record.split(" (")[0], l.rule_code) for l in result.lines if l.rule_code}
        for expected in [("Bill HH-2150", "paid_in_qbo"), ("Bill PG-OCT", "paid_in_qbo"),
                         ("Invoice 1003", "paid_in_qbo"), ("Invoice 1004", "paid_in_qbo"),
                         ("Bill MS-88", "non_usd"), ("Bill HH-2207", "no_attachments"),
                         ("Bill AP-779", "approved_only"), ("Invoice BC-5001", "class_per_line")]:
            assert expected in codes, expected


def test_preview_writes_nothing_and_the_run_does_what_it_listed():
    with demo_company() as c:
        plan = c.service().preview()
        assert c.writes() == 0
        assert plan.writes(), "the demo company has work to do"
        result = c.run()
        planned = sorted((l.object_type, l.direction, l.action, l.record) for l in plan.lines)
        done = sorted((l.object_type, l.direction, l.action, l.record) for l in result.lines)
        assert planned == done
        assert not [l for l in result.lines if l.state == "failed"]


def test_second_run_with_no_changes_is_quiet():
    with demo_company() as c:
        c.run()
        c.sb.qbo.clear_log()
        c.sb.billcom.clear_log()
        result = c.run(tie_out=False)  # the sync's own reads; the tie-out's are counted in test_reconcile
        assert result.state == "done"
        assert [l for l in result.lines if l.action in ("create", "update", "link")] == []
        assert c.writes() == 0
        qbo_calls = [r for r in c.sb.qbo.request_log() if "/v3/company/" in r.path]
        assert len([r for r in qbo_calls if r.path.endswith("/cdc")]) == 1
        assert len(qbo_calls) <= 1, [r.path for r in qbo_calls]
        bc_lists = [r for r in c.sb.billcom.request_log() if r.method == "GET"]
        assert len(bc_lists) <= len(c.config.object_types())


def test_a_day_with_a_few_changes_moves_exactly_those():
    with demo_company() as c:
        c.run()
        q, b = c.sb.qbo, c.sb.billcom
        hicks = next(v for v in q.all("Vendor") if v["DisplayName"] == "Hicks Hardware")
        q.user_update("Vendor", hicks["Id"], {"PrimaryEmailAddr": {"Address": "new@hicks.example"}})
        expense = next(a for a in q.all("Account") if a.get("AccountType") == "Expense")
        q.add("Bill", {"VendorRef": {"value": hicks["Id"]}, "DocNumber": "HH-2300", "TxnDate": "2026-11-21",
                       "DueDate": "2026-12-21", "Line": [{"Amount": 42.5, "DetailType": "AccountBasedExpenseLineDetail",
                                                          "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}}]})
        nl = next(o for o in b.all("bills") if o["invoice"]["invoiceNumber"] == "NL-1001")
        b.pay_bill(nl["id"], 250.00, process_date="2026-11-21")
        result = c.run()
        moved = sorted((l.object_type, l.direction, l.action) for l in result.lines
                       if l.action in ("create", "update"))
        assert moved == [("bill", "qbo_to_billcom", "create"),
                         ("bill_payment", "billcom_to_qbo", "create"),
                         ("vendor", "qbo_to_billcom", "update")]
        assert next(v for v in b.all("vendors") if v["name"] == "Hicks Hardware")["email"] == "new@hicks.example"
        qnl = next(o for o in q.all("Bill") if o.get("DocNumber") == "NL-1001")
        assert float(qnl["Balance"]) == 1000.00


def test_more_changes_in_one_second_than_change_data_capture_returns_are_read_in_full(monkeypatch):
    """QuickBooks' change data capture answers at most 1,000 objects and a window
    cannot be split below a second: a day whose changes crowd one second (here the
    cap is made 3) is read with full queries instead of failing every run."""
    from sync_engine.qbo.client import QBOClient
    monkeypatch.setattr(QBOClient, "cdc_max_objects", 3)
    with demo_company() as c:
        c.sb.qbo.cdc_max_objects = 3
        c.run()
        q, b = c.sb.qbo, c.sb.billcom
        synced = {link.qbo_id for link in c.store.load_links(["vendor"])}
        vendors = sorted((v for v in q.all("Vendor") if v["Id"] in synced), key=lambda v: v["DisplayName"])[:4]
        for n, vendor in enumerate(vendors):  # the sandbox's clock stands still: one second
            q.user_update("Vendor", vendor["Id"], {"PrimaryEmailAddr": {"Address": f"ap{n}@crowded.example"}})
        result = c.run()
        assert result.state == "done", result.message
        moved = sorted(l.record for l in result.lines if l.action == "update")
        assert len(moved) == 4 and all(l.object_type == "vendor" for l in result.lines if l.action == "update")
        emails = {v["name"]: v.get("email") for v in b.all("vendors")}
        assert all(emails[v["DisplayName"]] == f"ap{n}@crowded.example" for n, v in enumerate(vendors))
        assert not [r for r in c.sb.billcom.request_log() if r.method == "POST" and r.path == "/v3/vendors"]
        assert c.run().state == "done"  # and the day after is incremental again


def test_edited_on_both_sides_is_held_unless_a_master_side_is_set():
    with demo_company() as c:
        c.run()
        q, b = c.sb.qbo, c.sb.billcom
        pg_q = next(v for v in q.all("Vendor") if v["DisplayName"] == "Pacific Gas")
        pg_b = next(v for v in b.all("vendors") if v["name"] == "Pacific Gas")
        q.user_update("Vendor", pg_q["Id"], {"PrimaryEmailAddr": {"Address": "qbo@pg.example"}})
        b.user_update("vendors", pg_b["id"], {"email": "billcom@pg.example"})
        preview = c.service().preview()
        assert [l.action for l in preview.lines if l.record == "Vendor Pacific Gas"] == ["conflict"]
        held = c.run()
        assert [l.rule_code for l in held.lines if l.record == "Vendor Pacific Gas"] == ["conflict"]
        assert b.get("vendors", pg_b["id"])["email"] == "billcom@pg.example"
        assert q.get("Vendor", pg_q["Id"])["PrimaryEmailAddr"]["Address"] == "qbo@pg.example"
        c.config.settings.master_side = "qbo"
        resolved = c.run()
        assert [l.action for l in resolved.lines if l.record == "Vendor Pacific Gas"] == ["update"]
        assert b.get("vendors", pg_b["id"])["email"] == "qbo@pg.example"


def _pay_synced_bill_in_qbo(c, number, amount):
    q = c.sb.qbo
    bill = next(o for o in q.all("Bill") if o.get("DocNumber") == number)
    checking = c.config.settings.bank_account_id
    q.add("BillPayment", {"VendorRef": bill["VendorRef"], "PayType": "Check", "TotalAmt": amount,
                          "CheckPayment": {"BankAccountRef": {"value": checking}}, "TxnDate": "2026-11-22",
                          "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}]})


def test_two_way_mode_records_qbo_payments_in_billcom_once():
    with demo_company() as c:
        c.run()
        _pay_synced_bill_in_qbo(c, "PG-NOV", 412.37)
        result = c.run()
        assert [l.action for l in result.lines if l.object_type == "bill_payment" and l.action != "skip"] == ["create"]
        bill = next(o for o in c.sb.billcom.all("bills") if o["invoice"]["invoiceNumber"] == "PG-NOV")
        assert float(bill["dueAmount"]) == 0
        again = c.run()
        assert [l for l in again.lines if l.object_type == "bill_payment" and l.action == "create"] == []
        assert len([p for p in c.sb.billcom.all("payments")
                    if any(bp["billId"] == bill["id"] for bp in p.get("billPayments", []))]) == 1


def test_one_way_mode_never_sends_qbo_payments_and_says_to_record_them_in_billcom():
    with demo_company(facts=ONE_WAY) as c:
        c.run()
        _pay_synced_bill_in_qbo(c, "PG-NOV", 100.00)
        before = len(c.sb.billcom.all("payments"))
        plan = c.service().preview()
        skipped = [l for l in plan.lines if l.object_type == "bill_payment" and l.direction == "qbo_to_billcom"
                   and l.rule_code == "payment_sync_mode"]
        assert skipped and all("recorded in Bill.com" in l.message for l in skipped)
        c.run()
        assert len(c.sb.billcom.all("payments")) == before


def test_credit_memos_stay_out_for_organizations_started_before_2019_01_15():
    with demo_company(facts=NO_CREDITS) as c:
        result = c.run()
        assert c.sb.billcom.all("credit-memos") == [] and c.sb.billcom.all("vendor-credits") == []
        assert {l.rule_code for l in result.lines if l.object_type in ("credit_memo", "vendor_credit")} == \
            {"credit_memo_start_date"}


def test_a_bad_record_fails_alone_with_its_field_and_the_remote_error():
    with demo_company() as c:
        # a Bill.com vendor named like a QBO customer: QBO names are unique across both
        c.sb.billcom.add("vendors", {"name": "Cool Cars", "email": "x@cool.example", "accountType": "BUSINESS"})
        result = c.run()
        failed = [l for l in result.lines if l.state == "failed"]
        assert [l.record for l in failed] == ["Vendor Cool Cars"]
        assert "6240" in failed[0].remote_error
        assert result.state == "partial"
        assert {o.get("DocNumber") for o in c.sb.qbo.all("Bill")} >= {"AP-778"}


def test_one_run_at_a_time():
    with demo_company() as c:
        run_id = c.store.begin_run("cron")
        with pytest.raises(SyncAlreadyRunning, match="already running"):
            c.service().run("manual")
        assert c.writes() == 0
        c.store.end_run(run_id, "done", {})
        assert c.run().state in ("done", "partial")


def test_stopping_after_any_write_and_rerunning_ends_like_an_uninterrupted_run():
    with demo_company() as c:
        c.run()
        expected = business_view(c.sb)
        writes = len(c.sb.qbo.writes()) + len(c.sb.billcom.writes())
    assert writes > 5
    for k in range(1, writes + 1):
        with demo_company() as c:
            first = c.run(stop_after_writes=k)
            assert first.state in ("interrupted", "done", "partial")
            second = c.run()
            assert second.state in ("done", "partial"), (k, second.message)
            assert business_view(c.sb) == expected, f"stopped after write {k}"


def test_a_twin_older_than_the_cursor_is_found_in_billcom_and_linked_not_duplicated():
    with demo_company() as c:
        c.run()
        q, b = c.sb.qbo, c.sb.billcom
        # entered by hand in Bill.com long ago (before the cursor), and today in QBO
        b.add("vendors", {"name": "Zeta Tools", "email": "ap@zeta.example", "accountType": "BUSINESS",
                          "createdTime": "2025-01-02T10:00:00.000+00:00",
                          "updatedTime": "2025-01-02T10:00:00.000+00:00"})
        q.add("Vendor", {"DisplayName": "Zeta Tools", "PrimaryEmailAddr": {"Address": "ap@zeta.example"}})
        plan = c.service().preview()
        assert [l.action for l in plan.lines if l.record == "Vendor Zeta Tools"] == ["link"]
        c.run()
        assert [v["name"] for v in b.all("vendors")].count("Zeta Tools") == 1
        assert any(l.object_type == "vendor" and l.billcom_id == next(v["id"] for v in b.all("vendors")
                                                                      if v["name"] == "Zeta Tools")
                   for l in c.store.load_links())


def test_invoice_classes_reach_qbo_when_it_tracks_classes_per_line():
    def seed_per_line(sb):
        from sync_engine.sandbox.seed import seed_demo
        seed_demo(sb)
        sb.qbo.set_preferences(ClassTrackingPerTxnLine=True)

    with demo_company(seed=seed_per_line) as c:
        result = c.run()
        invoice = next(o for o in c.sb.qbo.all("Invoice") if o.get("DocNumber") == "BC-5001")
        consulting = next(o for o in c.sb.qbo.all("Class") if o["Name"] == "Consulting")
        assert [l["SalesItemLineDetail"].get("ClassRef", {}).get("value") for l in invoice["Line"]
                if l.get("DetailType") == "SalesItemLineDetail"] == [consulting["Id"]]
        assert not [l for l in result.lines if l.rule_code == "class_per_line"]
        # QBO -> Bill.com always carries classes
        hh = next(o for o in c.sb.billcom.all("bills") if o["invoice"]["invoiceNumber"] == "HH-2207")
        assert any(line.get("classifications", {}).get("accountingClassId") for line in hh["billLineItems"])
