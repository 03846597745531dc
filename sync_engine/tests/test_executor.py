"""The executor on its own: a plan made first, the world moving on, then
``Executor(...).run(lambda: plan)`` carrying that plan out against the local
sandboxes and the SQLite store. What is checked is what each side and the
store hold afterwards, and what the run's lines say.
"""
from sync_engine.errors import ReconnectNeeded
from sync_engine.executor import Executor
from sync_engine.planner import BC_TO_QBO, Planner
from sync_engine.remote import Remote

from sync_support import demo_company


def _qbo(c, entity, **match):
    return next(o for o in c.sb.qbo.all(entity) if all(o.get(k) == v for k, v in match.items()))


def _bc(c, collection, **match):
    return next(o for o in c.sb.billcom.all(collection) if all(o.get(k) == v for k, v in match.items()))


def _lines(result, **match):
    return [l for l in result.lines if all(getattr(l, k) == v for k, v in match.items())]


def _plan_then_execute(c, between=None):
    """Plan, let ``between()`` change the world, then carry the same plan out."""
    remote = Remote(c.config, clock=c.clock)
    plan = Planner(c.config, c.store, remote).plan()
    if between:
        between()
    run_id = c.store.begin_run("manual", "test")
    result = Executor(c.config, c.store, remote, run_id).run(lambda: plan)
    c.clock.advance(3600)
    return plan, result


# ------------------------------------------------------------ stale SyncToken
def test_an_update_with_a_stale_sync_token_is_re_read_and_applied_once():
    with demo_company() as c:
        c.run()
        hicks_q = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        hicks_b = _bc(c, "vendors", name="Hicks Hardware")
        c.sb.billcom.user_update("vendors", hicks_b["id"], {"email": "ap@hicks.example"})
        edited = {}

        def person_saves_the_vendor_in_quickbooks():
            # a field the sync does not carry: no collision, but the SyncToken moves on
            edited.update(c.sb.qbo.user_update("Vendor", hicks_q["Id"], {"Notes": "called about invoice"}))

        c.sb.qbo.clear_log()
        plan, result = _plan_then_execute(c, person_saves_the_vendor_in_quickbooks)
        planned = [i for i in plan.items if i.line.record == "Vendor Hicks Hardware"]
        assert [(i.line.action, i.line.direction) for i in planned] == [("update", BC_TO_QBO)]
        assert int(edited["SyncToken"]) > int(hicks_q["SyncToken"])
        assert result.state == "done", result.message
        assert [(l.action, l.state) for l in _lines(result, record="Vendor Hicks Hardware")] == [("update", "done")]
        now = c.sb.qbo.get("Vendor", hicks_q["Id"])
        assert now["PrimaryEmailAddr"]["Address"] == "ap@hicks.example"    # ours
        assert now["Notes"] == "called about invoice"                       # the person's
        assert int(now["SyncToken"]) == int(edited["SyncToken"]) + 1, "the update landed exactly once"
        # the link remembers the version written, so the next run is quiet
        link = next(l for l in c.store.load_links() if l.object_type == "vendor" and l.qbo_id == hicks_q["Id"])
        assert link.qbo_version == now["SyncToken"]
        assert link.snapshot["qbo"]["email"] == link.snapshot["billcom"]["email"] == "ap@hicks.example"
        quiet = c.run()
        assert [l.action for l in quiet.lines if l.record == "Vendor Hicks Hardware"] == []
        assert c.sb.qbo.get("Vendor", hicks_q["Id"])["SyncToken"] == now["SyncToken"]


def test_a_stale_update_that_still_fails_fails_only_its_line_and_is_read_again():
    with demo_company() as c:
        c.run()
        hicks_q = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        hicks_b = _bc(c, "vendors", name="Hicks Hardware")
        pg_b = _bc(c, "vendors", name="Pacific Gas")
        c.sb.billcom.user_update("vendors", hicks_b["id"], {"email": "ap@hicks.example"})
        c.sb.billcom.user_update("vendors", pg_b["id"], {"email": "ap@pg.example"})

        def person_saves_the_vendor_twice():
            # the batch's update is stale; so is the one written after the re-read
            # (the person saves again in between)
            c.sb.qbo.user_update("Vendor", hicks_q["Id"], {"Notes": "merging"})
            c.sb.qbo.inject("stale", count=1, method="POST", path=r"/vendor$")

        plan, result = _plan_then_execute(c, person_saves_the_vendor_twice)
        hicks = _lines(result, record="Vendor Hicks Hardware")
        assert [(l.action, l.state) for l in hicks] == [("update", "failed")]
        assert "5010" in hicks[0].remote_error
        assert [(l.action, l.state) for l in _lines(result, record="Vendor Pacific Gas")] == [("update", "done")]
        assert result.state == "partial"
        assert ("qbo", "vendor", hicks_q["Id"]) in c.store.get_retries()
        assert c.sb.qbo.get("Vendor", hicks_q["Id"])["PrimaryEmailAddr"]["Address"] == "billing@hicks.example"
        again = c.run()
        assert [(l.action, l.state) for l in _lines(again, record="Vendor Hicks Hardware")] == [("update", "done")]
        assert c.sb.qbo.get("Vendor", hicks_q["Id"])["PrimaryEmailAddr"]["Address"] == "ap@hicks.example"


def test_a_stale_update_does_not_overwrite_a_field_a_person_changed_in_quickbooks_meanwhile():
    with demo_company() as c:
        c.run()
        hicks_q = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        hicks_b = _bc(c, "vendors", name="Hicks Hardware")
        c.sb.billcom.user_update("vendors", hicks_b["id"], {"email": "billcom@hicks.example"})

        def person_changes_the_same_field_in_quickbooks():
            c.sb.qbo.user_update("Vendor", hicks_q["Id"], {"PrimaryEmailAddr": {"Address": "qbo@hicks.example"}})

        _, result = _plan_then_execute(c, person_changes_the_same_field_in_quickbooks)
        assert c.sb.qbo.get("Vendor", hicks_q["Id"])["PrimaryEmailAddr"]["Address"] == "qbo@hicks.example"
        assert [(l.action, l.rule_code) for l in _lines(result, record="Vendor Hicks Hardware")] \
            == [("conflict", "conflict")]
        assert ("qbo", "vendor", hicks_q["Id"]) in set(c.store.get_retries())  # looked at again next run


# ------------------------------------------------------ held records, next run
def test_a_held_record_is_kept_in_the_store_and_read_again_next_run_even_if_unchanged():
    with demo_company() as c:
        c.run()
        pg_q = _qbo(c, "Vendor", DisplayName="Pacific Gas")
        pg_b = _bc(c, "vendors", name="Pacific Gas")
        c.sb.qbo.user_update("Vendor", pg_q["Id"], {"PrimaryEmailAddr": {"Address": "qbo@pg.example"}})
        c.sb.billcom.user_update("vendors", pg_b["id"], {"email": "billcom@pg.example"})
        c.clock.advance(600)  # the edits fall outside the overlap of the reads after this run
        _, held = _plan_then_execute(c)
        assert [(l.action, l.state) for l in _lines(held, record="Vendor Pacific Gas")] == [("conflict", "done")]
        assert held.state == "done"
        retries = set(c.store.get_retries())
        assert {("qbo", "vendor", pg_q["Id"]), ("billcom", "vendor", pg_b["id"])} <= retries
        assert not any(rid == _qbo(c, "Vendor", DisplayName="Hicks Hardware")["Id"] for _, _, rid in retries)
        # the next run reads it again by id although neither side changed since
        _, again = _plan_then_execute(c)
        assert [l.action for l in _lines(again, record="Vendor Pacific Gas")] == ["conflict"]
        assert {("qbo", "vendor", pg_q["Id"]), ("billcom", "vendor", pg_b["id"])} <= set(c.store.get_retries())
        # a master side settles it, and it is no longer read again
        c.config.settings.master_side = "billcom"
        _, settled = _plan_then_execute(c)
        assert [(l.action, l.state) for l in _lines(settled, record="Vendor Pacific Gas")] == [("update", "done")]
        assert c.sb.qbo.get("Vendor", pg_q["Id"])["PrimaryEmailAddr"]["Address"] == "billcom@pg.example"
        assert not {("qbo", "vendor", pg_q["Id"]), ("billcom", "vendor", pg_b["id"])} & set(c.store.get_retries())


# ------------------------------------------------------------- record errors
def test_a_duplicate_name_fails_only_its_line_while_the_rest_of_the_batch_is_written():
    with demo_company() as c:
        c.run()
        b = c.sb.billcom
        # QBO names are unique across vendors, customers and employees: "Emily Platt" is an employee
        emily = b.add("vendors", {"name": "Emily Platt", "email": "e@platt.example", "accountType": "BUSINESS"})
        fresh = [b.add("vendors", {"name": name, "email": f"ap@{name.split()[0].lower()}.example",
                                   "accountType": "BUSINESS"}) for name in ("Fresh Vendor", "Orbit Supply")]
        c.sb.qbo.clear_log()
        plan, result = _plan_then_execute(c)
        creates = [i.line.record for i in plan.items if i.line.action == "create" and i.object_type == "vendor"]
        assert sorted(creates) == ["Vendor Emily Platt", "Vendor Fresh Vendor", "Vendor Orbit Supply"]
        batches = [r for r in c.sb.qbo.writes() if r.path.endswith("/batch")]
        assert len(batches) == 1, "the three vendors went in one batch"
        failed = _lines(result, state="failed")
        assert [l.record for l in failed] == ["Vendor Emily Platt"]
        assert "6240" in failed[0].remote_error
        assert failed[0].billcom_id == emily["id"]
        assert result.state == "partial"
        names = [v["DisplayName"] for v in c.sb.qbo.all("Vendor")]
        assert names.count("Fresh Vendor") == 1 and names.count("Orbit Supply") == 1
        assert [v["DisplayName"] for v in c.sb.qbo.all("Employee")] == ["Emily Platt"]
        links = {l.billcom_id for l in c.store.load_links() if l.object_type == "vendor"}
        assert {f["id"] for f in fresh} <= links and emily["id"] not in links
        assert ("billcom", "vendor", emily["id"]) in c.store.get_retries()
        run = c.store.runs()[-1]
        assert run.state == "partial" and run.counts.get("vendor|billcom_to_qbo|failed") == 1


# --------------------------------------------------------- connection errors
def test_a_revoked_quickbooks_authorization_fails_the_run_and_loses_no_link():
    with demo_company() as c:
        c.run()
        c.sb.qbo.add("Vendor", {"DisplayName": "Zeta Tools", "PrimaryEmailAddr": {"Address": "ap@zeta.example"}})
        orbit = c.sb.billcom.add("vendors", {"name": "Orbit Supply", "email": "ap@orbit.example",
                                             "accountType": "BUSINESS"})
        cursors_before = c.store.get_cursors()
        retries_before = c.store.get_retries()
        links_before = {l.key() for l in c.store.load_links()}

        def user_disconnects_the_app():
            c.sb.qbo.revoke_all_tokens()

        plan, result = _plan_then_execute(c, user_disconnects_the_app)
        assert sorted((i.line.record, i.line.direction) for i in plan.writes()) == [
            ("Vendor Orbit Supply", "billcom_to_qbo"), ("Vendor Zeta Tools", "qbo_to_billcom")]
        assert result.state == "failed"
        assert isinstance(result.error, ReconnectNeeded)
        assert "reconnect" in result.message.lower()
        # what was written before the failure is linked; nothing else moved
        zeta_b = _bc(c, "vendors", name="Zeta Tools")
        links_after = {l.key() for l in c.store.load_links()}
        assert links_before < links_after
        assert [k for k in links_after - links_before] == [
            ("vendor", _qbo(c, "Vendor", DisplayName="Zeta Tools")["Id"], zeta_b["id"])]
        assert "Orbit Supply" not in {v["DisplayName"] for v in c.sb.qbo.all("Vendor")}
        assert c.store.get_cursors() == cursors_before, "a failed run does not move the cursors"
        assert c.store.get_retries() == retries_before
        run = c.store.runs()[-1]
        assert (run.run_id, run.state) == (result.run_id, "failed")
        # the lock is released: after reconnecting, the next run finishes the work once
        access, refresh = c.sb.qbo.issue_tokens()
        c.config.qbo.access_token, c.config.qbo.refresh_token = access, refresh
        c.config.qbo.access_token_expires_at = c.clock.now() + 3000
        done = c.run()
        assert done.state == "done", done.message
        assert [l.action for l in _lines(done, record="Vendor Orbit Supply")] == ["create"]
        assert [l.action for l in _lines(done, record="Vendor Zeta Tools")] == []
        assert [v["name"] for v in c.sb.billcom.all("vendors")].count("Zeta Tools") == 1
        assert [v["DisplayName"] for v in c.sb.qbo.all("Vendor")].count("Orbit Supply") == 1
        assert orbit["id"] in {l.billcom_id for l in c.store.load_links() if l.object_type == "vendor"}


def test_quickbooks_going_down_during_a_stale_retry_fails_the_run_and_keeps_the_written_links():
    with demo_company() as c:
        c.run()
        hicks_q = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        pg_q = _qbo(c, "Vendor", DisplayName="Pacific Gas")
        c.sb.billcom.user_update("vendors", _bc(c, "vendors", name="Hicks Hardware")["id"],
                                 {"email": "ap@hicks.example"})
        c.sb.billcom.user_update("vendors", _bc(c, "vendors", name="Pacific Gas")["id"], {"email": "ap@pg.example"})
        cursors_before = c.store.get_cursors()

        def stale_then_outage():
            c.sb.qbo.user_update("Vendor", hicks_q["Id"], {"Notes": "called"})
            c.sb.qbo.inject("server_fault", count=1000, method="POST", path=r"/vendor$")

        _, result = _plan_then_execute(c, stale_then_outage)
        assert result.state == "failed"
        assert c.store.runs()[-1].state == "failed"
        # Pacific Gas went in the batch before the outage: written once and linked
        assert c.sb.qbo.get("Vendor", pg_q["Id"])["PrimaryEmailAddr"]["Address"] == "ap@pg.example"
        pg_link = next(l for l in c.store.load_links() if l.object_type == "vendor" and l.qbo_id == pg_q["Id"])
        assert pg_link.qbo_version == c.sb.qbo.get("Vendor", pg_q["Id"])["SyncToken"]
        assert pg_link.snapshot["qbo"]["email"] == "ap@pg.example"
        assert c.sb.qbo.get("Vendor", hicks_q["Id"])["PrimaryEmailAddr"]["Address"] == "billing@hicks.example"
        assert c.store.get_cursors() == cursors_before
        c.sb.qbo.clear_faults()
        again = c.run()
        assert again.state == "done", again.message
        assert [l.action for l in _lines(again, record="Vendor Hicks Hardware")] == ["update"]
        assert [l.action for l in _lines(again, record="Vendor Pacific Gas")] == []
        assert c.sb.qbo.get("Vendor", hicks_q["Id"])["PrimaryEmailAddr"]["Address"] == "ap@hicks.example"
