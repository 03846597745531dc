"""A run plans and carries out a type at a time and a page at a time, so it
holds the link map and one page, never every record; it still does exactly
what its preview showed, stops between batches and resumes without a twin
made twice."""
from sync_engine import planner as planner_module
from sync_engine.executor import Executor
from sync_engine.planner import Planner
from sync_engine.tests.qbo_support import bill, customer, vendor
from sync_engine.tests.sync_support import business_view, demo_company


def _key(line):
    return (line.object_type, line.direction, line.action, line.record, line.rule_code or "")


def _what(line):
    return (line.object_type, line.direction, line.action, line.rule_code or "")


def _assert_every_bill_names_its_vendor(c):
    """Every bill made in Bill.com names the vendor its QuickBooks bill names."""
    vendors = {v["id"]: v["name"] for v in c.sb.billcom.all("vendors")}
    q_vendors = {v["Id"]: v["DisplayName"] for v in c.sb.qbo.all("Vendor")}
    q_bills = {b.get("DocNumber"): q_vendors[b["VendorRef"]["value"]] for b in c.sb.qbo.all("Bill")}
    made_bills = {b["invoice"]["invoiceNumber"]: vendors[b["vendorId"]] for b in c.sb.billcom.all("bills")}
    assert made_bills and all(q_bills[number] == name for number, name in made_bills.items())


def _small_pages(monkeypatch, size=2):
    monkeypatch.setattr(planner_module, "PLAN_PAGE", size)


def test_a_run_carries_out_each_page_before_the_next_is_read(monkeypatch):
    _small_pages(monkeypatch)
    with demo_company() as c:
        steps, reads_before_first_write = [], None
        carry_out = Executor.carry_out

        def recorded(executor, items):
            nonlocal reads_before_first_write
            steps.append(len(items))
            if reads_before_first_write is None and c.writes():
                reads_before_first_write = len(c.sb.qbo.request_log())
            return carry_out(executor, items)

        monkeypatch.setattr(Executor, "carry_out", recorded)
        result = c.run(tie_out=False)
        assert result.state == "done", result.message
        assert len(steps) > len(c.config.object_types())   # more steps than types: pages
        assert max(steps) <= 2 * 2 + 10                    # a page of QuickBooks records, plus their Bill.com side
        # the first writes went out before every QuickBooks list was read
        assert reads_before_first_write is not None
        assert reads_before_first_write < len(c.sb.qbo.request_log())


def test_a_run_in_small_pages_does_what_the_whole_preview_showed(monkeypatch):
    with demo_company() as whole:
        preview = whole.service().preview()
        whole_result = whole.run(tie_out=False)
        whole_view = business_view(whole.sb)
    _small_pages(monkeypatch)
    with demo_company() as c:
        paged_preview = c.service().preview()
        # Bill.com ids differ from one sandbox to the next: compare what is done to what
        assert sorted(map(_what, paged_preview.lines)) == sorted(map(_what, preview.lines))
        result = c.run(tie_out=False)
        assert result.state == whole_result.state
        assert sorted(map(_key, result.lines)) == sorted(map(_key, paged_preview.lines))
        assert result.counts == whole_result.counts
        assert business_view(c.sb) == whole_view


def test_stopped_between_batches_mid_type_then_resumed_nothing_twice(monkeypatch):
    _small_pages(monkeypatch)
    with demo_company() as whole:
        whole.run(tie_out=False)
        expected = business_view(whole.sb)
    with demo_company() as c:
        calls = []

        def stop_on_the_third_batch(done, total, stage):
            calls.append((done, total, stage))
            assert done <= total
            return len(calls) < 3

        first = c.service(progress=stop_on_the_third_batch).run("manual", user="test", tie_out=False)
        assert first.state == "interrupted"
        c.clock.advance(3600)
        second = c.run(tie_out=False)
        assert second.state == "done", second.message
        assert business_view(c.sb) == expected


def test_a_stop_during_bill_com_writes_keeps_the_link_of_every_write_already_sent():
    """Bill.com writes go 3 at a time: when a person stops the run at the first
    one done, those already sent still finish, and each keeps its link (no
    orphan in Bill.com for the next run to find again); none is sent after."""
    with demo_company(seed=None) as c:
        for n in range(9):
            customer(c.sb.qbo, f"Harbor Client {n}", PrimaryEmailAddr={"Address": f"client{n}@example.com"})

        def stop_at_the_first_customer(done, total, stage):
            return not stage.startswith("customer: Bill.com")

        first = c.service(progress=stop_at_the_first_customer).run("manual", user="test", tie_out=False)
        assert first.state == "interrupted"
        made = {x["id"] for x in c.sb.billcom.all("customers")}
        linked = {link.billcom_id for link in c.store.load_links(["customer"])}
        assert made and linked == made
        c.clock.advance(3600)
        second = c.run(tie_out=False)
        assert second.state == "done", second.message
        names = sorted(x["name"] for x in c.sb.billcom.all("customers"))
        assert names == sorted(f"Harbor Client {n}" for n in range(9))
        assert len(c.store.load_links(["customer"])) == 9


def test_links_the_run_writes_count_as_planned_creates_for_the_types_after(monkeypatch):
    """Vendors created this run are written before bills are planned; the bills
    are planned as a preview plans them (the vendor a planned create), and on an
    incremental day no look-up is spent on a twin that cannot exist."""
    _small_pages(monkeypatch)
    with demo_company() as c:
        c.run(tie_out=False)
        q = c.sb.qbo
        new_vendor = vendor(q, "Brand New Supply")
        bill(q, new_vendor, 40.0, DocNumber="BN-1")
        preview = c.service().preview()
        planned = {(l.object_type, l.action) for l in preview.lines if l.record and "Brand New" in l.record}
        assert planned == {("vendor", "create"), ("bill", "create")}
        c.sb.billcom.clear_log()
        result = c.run(tie_out=False)
        assert sorted(map(_key, result.lines)) == sorted(map(_key, preview.lines))
        twin = next(v for v in c.sb.billcom.all("vendors") if v["name"] == "Brand New Supply")
        looked_up = [r for r in c.sb.billcom.request_log() if r.method == "GET" and twin["id"] in str(r.query)]
        assert looked_up == []
        assert [b for b in c.sb.billcom.all("bills") if b["invoice"]["invoiceNumber"] == "BN-1"]


def test_planner_steps_and_plan_agree():
    with demo_company() as c:
        planner = Planner(c.config, c.store, c.service().remote)
        plan = planner.begin()
        stepped = [item.line for items in planner.steps(plan) for item in items]
        whole = Planner(c.config, c.store, c.service().remote).plan()
        assert sorted(map(_key, stepped)) == sorted(map(_key, whole.lines))


def test_a_daily_run_reads_the_links_of_each_page_not_every_link(monkeypatch):
    """The store answers for the ids of the page being planned; the run never
    loads every link of the connection, so its memory does not grow with them."""
    _small_pages(monkeypatch)
    with demo_company() as c:
        assert c.run(tie_out=False).state == "done"
        stored = len(c.store.load_links())
        q = c.sb.qbo
        hicks = next(v for v in q.all("Vendor") if v["DisplayName"] == "Hicks Hardware")
        bill(q, hicks, 61.25, DocNumber="HH-DAILY-1")
        loads, held = [], []
        load_links = c.store.load_links
        monkeypatch.setattr(c.store, "load_links",
                            lambda object_types=None: loads.append(object_types) or load_links(object_types))
        carry_out = Executor.carry_out

        def measured(executor, items):
            held.append(sum(len(ids) for ids in executor.links.by_qbo.seen.values()))
            return carry_out(executor, items)

        monkeypatch.setattr(Executor, "carry_out", measured)
        result = c.run(tie_out=False)
        assert result.state == "done", result.message
        made = [b for b in c.sb.billcom.all("bills") if b["invoice"]["invoiceNumber"] == "HH-DAILY-1"]
        hicks_bc = next(v for v in c.sb.billcom.all("vendors") if v["name"] == "Hicks Hardware")
        assert len(made) == 1 and made[0]["vendorId"] == hicks_bc["id"]  # its vendor found through the store
        assert None not in loads, "every link of the connection was loaded"
        assert loads == [], "every link of a type was loaded (no credit was applied in Bill.com)"
        assert stored > 30 and max(held) < stored / 2, (stored, held)


def test_a_first_sync_keeps_the_links_of_its_page_not_every_link_it_made(monkeypatch):
    """The links a first sync makes are in the store as soon as they are made;
    the run finds them there again (for the bills' vendors, say) instead of
    keeping each one until it ends; the twins it keeps from page to page stay
    within their bound, and with a bound this small it still does what its
    preview showed."""
    from sync_engine import plan as plan_module
    _small_pages(monkeypatch)
    monkeypatch.setattr(plan_module, "TWINS_KEPT", 3)
    held, twins = [], []
    carry_out = Executor.carry_out

    def measured(executor, items):
        links = executor.links
        held.append(sum(len(ids) for side in (links.by_qbo, links.by_bc) for book in (side.types, side.seen)
                        for ids in book.values()))
        twins.append(max(links.by_qbo.twins_held, links.by_bc.twins_held))
        return carry_out(executor, items)

    monkeypatch.setattr(Executor, "carry_out", measured)
    with demo_company() as c:
        preview = c.service().preview()
        result = c.run(tie_out=False)
        assert result.state == "done", result.message
        assert sorted(map(_key, result.lines)) == sorted(map(_key, preview.lines))
        made = len(c.store.load_links())
        assert made > 30 and max(held) < made / 2, (made, held)
        assert 0 < max(twins) <= 3, twins
        _assert_every_bill_names_its_vendor(c)


def test_a_run_collects_garbage_less_often_and_leaves_the_process_as_it_found_it():
    import gc
    import threading
    from sync_engine.memory import RUN_COLLECTION_THRESHOLD, fewer_collections

    before = gc.get_threshold()
    during = []
    with demo_company() as c:
        result = c.service(progress=lambda *a: during.append(gc.get_threshold()) or True).run(tie_out=False)
        assert result.state == "done", result.message
    assert during and all(t[0] == RUN_COLLECTION_THRESHOLD for t in during)
    assert gc.get_threshold() == before

    # runs of two connections overlapping in one server: the first to end leaves
    # the other's setting alone, the last gives the process its own back
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with fewer_collections():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with fewer_collections():
            second_in.set()
            first_out.wait(5)
            seen["after the first ended"] = gc.get_threshold()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen["after the first ended"][0] == RUN_COLLECTION_THRESHOLD
    assert gc.get_threshold() == before


def _store_asked(monkeypatch, c):
    """[(type planned, object type, id)] the store was asked for a link of, in order."""
    asked, planning = [], [None]
    find_links = c.store.find_links

    def counted(object_type, side, ids):
        ids = list(ids)
        asked.extend((planning[0], object_type, rid) for rid in ids)
        return find_links(object_type, side, ids)

    type_steps = Planner._type_steps

    def noted(planner, otype, plan):
        planning[0] = otype
        yield from type_steps(planner, otype, plan)

    monkeypatch.setattr(c.store, "find_links", counted)
    monkeypatch.setattr(Planner, "_type_steps", noted)
    return asked


def test_the_store_is_asked_once_for_the_vendor_of_bills_on_many_pages(monkeypatch):
    _small_pages(monkeypatch)
    with demo_company() as c:
        q = c.sb.qbo
        hicks = next(v for v in q.all("Vendor") if v["DisplayName"] == "Hicks Hardware")
        for n in range(8):   # four pages of two bills, all naming Hicks Hardware
            bill(q, hicks, 10 + n, DocNumber=f"HH-PAGE-{n}")
        asked = _store_asked(monkeypatch, c)
        preview = c.service().preview()
        result = c.run(tie_out=False)
        assert result.state == "done", result.message
        assert sorted(map(_key, result.lines)) == sorted(map(_key, preview.lines))
        hicks_bc = next(v for v in c.sb.billcom.all("vendors") if v["name"] == "Hicks Hardware")
        made = [b for b in c.sb.billcom.all("bills") if b["invoice"]["invoiceNumber"].startswith("HH-PAGE-")]
        assert len(made) == 8 and {b["vendorId"] for b in made} == {hicks_bc["id"]}
        while_bills = [a for a in asked if a[:2] == ("bill", "vendor") and a[2] == str(hicks["Id"])]
        assert len(while_bills) == 1, while_bills
