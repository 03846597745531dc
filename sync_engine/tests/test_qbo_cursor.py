"""The QuickBooks CDC cursor after a run that wrote more records to QuickBooks
than one CDC answer holds: the next quiet day is one CDC call, and a change a
person made in QuickBooks while the run was writing is still read."""
from sync_engine import qbo_cursor
from sync_engine.tests.sync_support import demo_company

MANY = 1050  # more than one CDC answer holds (1,000 objects)


def _add_billcom_vendors(c, n=MANY):
    for i in range(n):
        c.sb.billcom.add("vendors", {"name": f"Probe Vendor {i:04d}", "email": f"v{i}@example.com"})


def _cdc_calls(c):
    return [r.path for r in c.sb.qbo.request_log() if "/v3/company/" in r.path]


def test_the_quiet_day_after_a_large_sync_to_quickbooks_is_one_cdc_call():
    with demo_company() as c:
        _add_billcom_vendors(c)
        first = c.run(tie_out=False)
        assert first.state == "done"
        assert len(c.lines(first, object_type="vendor", action="create", direction="billcom_to_qbo")) >= MANY
        assert c.store.get_cursors()[qbo_cursor.KEY]  # moved past the run's own writes
        c.sb.qbo.clear_log()
        quiet = c.run(tie_out=False)
        assert quiet.state == "done"
        assert [l for l in quiet.lines if l.action in ("create", "update", "link")] == []
        calls = _cdc_calls(c)
        assert len(calls) == 1 and calls[0].endswith("/cdc"), calls


def test_a_change_made_in_quickbooks_while_the_run_writes_is_read_by_the_next_run():
    edits = []
    with demo_company() as c:
        _add_billcom_vendors(c)
        q = c.sb.qbo

        def person_at_work(done, total, stage):
            if edits or not stage.startswith("vendor: QuickBooks create"):
                return True
            ours = [v for v in q.all("Vendor") if v.get("DisplayName", "").startswith("Probe Vendor")]
            edited = q.user_update("Vendor", ours[0]["Id"], {"PrimaryEmailAddr": {"Address": "new@probe.example"}})
            entered = q.add("Vendor", {"DisplayName": "Entered During The Run",
                                       "PrimaryEmailAddr": {"Address": "hand@probe.example"}})
            edits.extend([edited, entered])
            return True

        first = c.service(progress=person_at_work).run("manual", user="test", tie_out=False)
        c.clock.advance(3600)
        assert first.state == "done" and edits
        edited, entered = edits
        second = c.run(tie_out=False)
        moved = {(l.object_type, l.direction, l.action, l.qbo_id) for l in second.lines
                 if l.action in ("create", "update")}
        assert ("vendor", "qbo_to_billcom", "update", str(edited["Id"])) in moved, moved
        assert ("vendor", "qbo_to_billcom", "create", str(entered["Id"])) in moved, moved
        names = {v["name"]: v for v in c.sb.billcom.all("vendors")}
        assert names[edited["DisplayName"]]["email"] == "new@probe.example"
        assert "Entered During The Run" in names


def test_the_stamp_book_finds_each_version_noted_and_no_other(monkeypatch):
    monkeypatch.setattr(qbo_cursor.StampBook, "CHUNK", 32)   # four digests a chunk: many chunks a bucket
    book = qbo_cursor.StampBook()
    for n in range(2000):
        book.note("bills", f"b{n}", n)
    assert all(book.has("bills", f"b{n}", n) for n in range(2000))
    assert not any(book.has("bills", f"b{n}", n + 1) for n in range(2000))
    assert not book.has("vendors", "b1", 1)
    assert (book.count("bills"), book.count()) == (2000, 2000)


def test_the_stamp_book_takes_no_match_astride_two_digests(monkeypatch):
    # digests chosen by hand: the bytes of two neighbours hold a third one at an odd offset
    monkeypatch.setattr(qbo_cursor.StampBook, "_digest", staticmethod(lambda where, obj_id, version:
                                                                       bytes.fromhex(obj_id)))
    book = qbo_cursor.StampBook()
    book.note("bills", "0011223300556677", "")
    book.note("bills", "008899aabbccddee", "")
    assert book.has("bills", "008899aabbccddee", "")
    assert not book.has("bills", "00556677008899aa", "")   # bytes 4..11 of bucket 0


def test_the_planning_window_keeps_every_record_changed_in_it_whatever_its_time_zone():
    import datetime
    start = int(datetime.datetime(2026, 12, 3, 6, 0, tzinfo=datetime.timezone.utc).timestamp())
    window = qbo_cursor.QboWindow(start, ["Bill"])

    def bill(rid, stamp):
        return {"Id": rid, "SyncToken": "0", "MetaData": {"LastUpdatedTime": stamp}}

    records = {
        "in the window, on the day before in Baker Island time": bill("1", "2026-12-02T18:30:00-12:00"),
        "in the window, in UTC": bill("2", "2026-12-03T06:30:00Z"),
        "with no time at all": {"Id": "3", "SyncToken": "0"},
        "with a time that is not one": bill("4", "yesterday"),
        "a minute before the window, in Kiribati time": bill("5", "2026-12-03T19:59:00+14:00"),
        "years before": bill("6", "2015-07-24T10:35:08-07:00"),
        "two days before, near midnight in Baker Island time": bill("7", "2026-12-01T23:59:59-12:00"),
    }
    for obj in records.values():
        window.saw("Bill", obj)
    kept = {what for what, obj in records.items() if window.seen.has("Bill", obj["Id"], "0")}
    assert kept == {"in the window, on the day before in Baker Island time", "in the window, in UTC",
                    "with no time at all", "with a time that is not one"}
