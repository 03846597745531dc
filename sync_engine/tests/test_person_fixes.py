"""Fixes a person makes from a run line, as the engine carries them out:
*Don't sync this record* (an exclusion list) and *Keep QuickBooks' version* /
*Keep Bill.com's version* for a held conflict. Each is proven by what exists
on both sides afterwards and by the tie-out agreeing."""
import dataclasses

from sync_support import demo_company

from test_planner import _bc, _bc_bill, _hold_a_conflict, _qbo


def _settings(c, **changes):
    c.config.settings = dataclasses.replace(c.config.settings, **changes)


def test_an_excluded_record_is_not_synced_until_taken_off_the_list():
    with demo_company() as c:
        bill = _qbo(c, "Bill", DocNumber="NL-1001")
        _settings(c, excluded=(f"bill|qbo|{bill['Id']}",))
        result = c.run()
        line = next(l for l in result.lines if l.record.startswith("Bill NL-1001"))
        assert (line.action, line.rule_code) == ("skip", "excluded")
        assert "NL-1001" not in {b["invoice"]["invoiceNumber"] for b in c.sb.billcom.all("bills")}
        assert result.tie_out.agrees, result.tie_out.render()

        _settings(c, excluded=())
        c.store.set_retries([("qbo", "bill", bill["Id"])])  # as the Odoo layer does when a person takes it off
        c.run()
        assert "NL-1001" in {b["invoice"]["invoiceNumber"] for b in c.sb.billcom.all("bills")}


def test_an_excluded_twin_keeps_its_linked_record_where_it_is():
    """Excluding the Bill.com side of a synced vendor stops a QuickBooks edit from reaching it."""
    with demo_company() as c:
        c.run()
        pg_b = _bc(c, "vendors", name="Pacific Gas")
        _settings(c, excluded=(f"vendor|billcom|{pg_b['id']}",))
        pg_q = _qbo(c, "Vendor", DisplayName="Pacific Gas")
        c.sb.qbo.user_update("Vendor", pg_q["Id"], {"PrimaryEmailAddr": {"Address": "new@pg.example"}})
        c.clock.advance(600)
        result = c.run()
        assert [(l.action, l.rule_code) for l in result.lines if l.record == "Vendor Pacific Gas"] == \
            [("skip", "excluded")]
        assert _bc(c, "vendors", name="Pacific Gas").get("email") != "new@pg.example"


def test_keep_one_sides_version_settles_a_held_conflict():
    with demo_company() as c:
        qbo_id, billcom_id = _hold_a_conflict(c)
        _settings(c, record_masters={f"vendor|{qbo_id}": "billcom"})
        result = c.run()
        lines = [l for l in result.lines if l.record == "Vendor Pacific Gas"]
        assert [(l.action, l.direction) for l in lines] == [("update", "billcom_to_qbo")]
        assert _qbo(c, "Vendor", DisplayName="Pacific Gas")["PrimaryEmailAddr"]["Address"] == "billcom@pg.example"
        assert result.tie_out.agrees, result.tie_out.render()


def test_the_config_file_carries_the_fixes():
    from sync_engine.config import ConnectionConfig
    with demo_company() as c:
        _settings(c, excluded=("bill|qbo|12",), record_masters={"vendor|7": "qbo"})
        again = ConnectionConfig.from_dict(c.config.to_dict())
        assert again.settings.excluded == ("bill|qbo|12",)
        assert again.settings.record_masters == {"vendor|7": "qbo"}


def test_a_record_linked_by_a_person_is_kept_as_a_pair():
    """A bill entered on both sides with different numbers: the person links
    them; the next run writes nothing for them and the books agree."""
    from sync_engine.store import Link
    with demo_company() as c:
        c.run()
        bill = _qbo(c, "Bill", DocNumber="NL-1001")
        twin = _bc_bill(c, "NL-1001")
        # as if they had been entered separately: forget the pair, mark it as the person's link
        c.store.save_links([Link("bill", bill["Id"], twin["id"], None, None, {"manual": True})])
        c.store.set_retries([("qbo", "bill", bill["Id"]), ("billcom", "bill", twin["id"])])
        before = c.writes()
        result = c.run()
        lines = [l for l in result.lines if l.record.startswith("Bill NL-1001")]
        assert [(l.action, l.qbo_id, l.billcom_id) for l in lines] == [("link", bill["Id"], twin["id"])]
        assert c.writes() == before, "linking writes nothing to either side"
        assert result.tie_out.agrees, result.tie_out.render()
        assert c.store.load_links(["bill"]) and not any(
            (l.snapshot or {}).get("manual") for l in c.store.load_links(["bill"]))


def test_twin_search_on_either_side():
    from sync_engine.service import twin_candidates
    with demo_company() as c:
        c.run()
        on_billcom = twin_candidates(c.config, "vendor", "billcom", "Pacific")
        assert [f["label"] for f in on_billcom] == ["Vendor Pacific Gas"]
        on_qbo = twin_candidates(c.config, "bill", "qbo", "NL-10")
        assert {f["label"].split(" (")[0] for f in on_qbo} >= {"Bill NL-1001"}
        nl = next(f for f in on_qbo if f["label"].startswith("Bill NL-1001"))
        assert nl["amount"] is not None and nl["currency"] == "USD"
        assert twin_candidates(c.config, "vendor", "qbo", "Nobody by that name") == []


def test_what_a_twin_search_starts_from_and_what_a_retry_syncs():
    from sync_engine.mapping import search_text_of, types_depending_on
    assert search_text_of("Bill NL-1002 (Norton Lumber)") == "NL-1002"
    assert search_text_of("Vendor credit VC-7 (Hicks Hardware)") == "VC-7"
    assert search_text_of("Vendor Norton Lumber") == "Norton Lumber"
    assert types_depending_on("vendor") == ["vendor", "bill", "vendor_credit", "bill_payment"]
    assert types_depending_on("bill_payment") == ["bill_payment"]
