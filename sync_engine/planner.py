"""Change detection -> a Plan: one line per record that needs a decision.

The cron, the wizard's preview and the wizard's run all go through the same
planner. A plan only reads: it fetches what changed on each side since the
cursors (everything on a first sync), compares it with the link map and
applies the rules. It is made in steps (``Planner.steps``), one object type
at a time, dependencies first, and within a type one page of QuickBooks
records at a time: a run carries out each step before the next is read, so its
memory does not grow with the company; a preview (``Planner.plan``) gathers
every step into one Plan. The executor carries the steps out without deciding
anything new.

Change detection compares each side's canonical values with what that side
held at the last sync (kept in the link), so a payment that merely bumps a
bill's version on one side is not mistaken for an edit.
"""
import datetime
import logging
from collections import defaultdict

from . import billcom_cursors, qbo_cursor, rules
from .billcom_cursors import BillComWindow
from .qbo_cursor import QboWindow
from .mapping import (CREDIT_APPLICATION, CREDIT_TYPES, DOCUMENT_TYPES, ENTITIES, NAME_TYPES, PAYMENT_TYPES,
                      QBO_TYPE, diff, lines_total, name_key, neutral, read_billcom, read_qbo, record_money,
                      type_label)
from .billcom.errors import NotFound as BillComNotFound
from .mapping.common import forget_shared_refs
from .memory import give_back_freed_memory
from .errors import RECORD, RemoteError
from .later_events import LaterEvents
from .payment_planning import PaymentPlanning
from .planning_state import Facts, RunState, TypeState, newest_per_id
# the plan and its parts are re-exported for callers
from .plan import BC_TO_QBO, NO_DIRECTION, QBO_TO_BC, WRITE_ACTIONS, LinkIndex, Plan, PlanItem  # noqa: F401
from .qbo.errors import CDCSecondTooFull, CDCWindowTooOld, ObjectNotFound
from .records import MappingError, Record
from .rules import Code
from .store import Link, RunLine

_log = logging.getLogger(__name__)

CURSOR_OVERLAP = 120          # seconds re-read at each end of a window, so clock skew loses nothing
CDC_MAX_AGE = 29 * 86400      # QBO CDC looks back at most 30 days
PLAN_PAGE = 1000              # QuickBooks records planned (and in a run carried out) at a time

# Bill.com lists with no updatedTime filter (read whole; they are short)
UNFILTERABLE = {"payment-terms"}


class Planner(PaymentPlanning, LaterEvents):
    def __init__(self, config, store, remote, clock=None, rule_book=None):
        self.config = config
        self.store = store
        self.remote = remote
        self.clock = clock or remote.clock
        self.types = config.object_types()
        self.rules = rule_book or rules.RuleBook()  # the rules this connection follows

    # ------------------------------------------------------------- facts
    def connection_facts(self):
        facts = self.config.facts
        mode = self.rules.payment_sync_mode(facts.signup_date, facts.under_accountant_console)
        credits = self.rules.credit_memo_start_date(facts.start_date)
        return Facts(self.remote, {"payment_sync_mode": mode.value, "payment_rule": mode,
                                   "credit_memos_sync": credits.allowed, "credit_rule": credits})

    # --------------------------------------------------------------- plan
    def plan(self):
        """The whole Plan: every step of ``steps`` gathered (a preview)."""
        plan = self.begin()
        for items in self.steps(plan):
            plan.items.extend(items)
        return plan

    def begin(self):
        """A Plan with no items yet: the connection facts, the link map, the
        cursors and the windows of this read. ``steps`` then gives its items."""
        plan = Plan()
        plan.facts = self.connection_facts()
        plan.links = LinkIndex.over(self.store)
        self.run = RunState(dict(self.store.get_cursors() or {}))
        self._start_reads(plan)
        return plan

    def steps(self, plan):
        """The plan's items in dependency order (``config.OBJECT_TYPES``), one
        object type at a time and, within a type, one page of QuickBooks records
        at a time (``PLAN_PAGE``): a list of PlanItems per step. A run carries
        out each step before it asks for the next, so it holds the current page
        and its links, the links the run added, and never every record or every
        link; a preview gathers every step.

        Decisions are the same either way: where the planner consults links of
        earlier types, a link the run's own create just added (``LinkIndex.written``)
        counts as the create it planned (``_planned``), as a preview counts it."""
        for otype in self.types:
            plan.links.forget_twins()  # those the pages of the type before named
            for items in self._type_steps(otype, plan):
                if items:
                    yield items
                    self._forget_written(plan.links)
                plan.links.evict()  # the step is carried out: its links are in the store
                forget_shared_refs()
                give_back_freed_memory()

    # -------------------------------------------------------------- reads
    def _start_reads(self, plan):
        """Cursors and windows; on an incremental day, the one CDC call (it
        answers for every entity at once and is small)."""
        run, now = self.run, self.clock.now()
        cursors = run.cursors
        qbo_since = cursors.get("qbo")
        # what this read sees from the start of the next window on: the executor
        # moves the CDC cursor past the run's own writes (qbo_cursor)
        qwindow = plan.qbo_window = QboWindow(now - CURSOR_OVERLAP, [ENTITIES[t][0] for t in self.types])
        plan.full_read["qbo"] = True
        if qbo_since and now - float(qbo_since) < CDC_MAX_AGE:
            settled = cursors.get(qbo_cursor.KEY)  # a QuickBooks time, every change up to it accounted for
            start = float(settled) if settled else float(qbo_since) - CURSOR_OVERLAP
            since = datetime.datetime.fromtimestamp(start, datetime.timezone.utc)
            try:
                result = self.remote.qbo.cdc([ENTITIES[t][0] for t in self.types], since)
            except (CDCWindowTooOld, CDCSecondTooFull) as exc:
                # change data capture cannot answer for this window: every page is read
                # instead, so no change is missed and the next run is incremental again
                _log.info("QuickBooks changes read in full: %s", exc)
            else:
                plan.full_read["qbo"] = False
                run.cdc = defaultdict(list)
                for entity, objects in _cdc_entities(result):
                    otype = QBO_TYPE.get(entity)
                    if otype in self.types:
                        for obj in objects:
                            qwindow.saw(entity, obj)
                            run.cdc[otype].append(obj)
        plan.cursors["qbo"] = str(now)
        plan.full_read["billcom"] = run.full_billcom_read
        # what this read sees from the start of the next window on: the executor
        # moves each collection's cursor past the run's own writes (billcom_cursors)
        plan.billcom_window = BillComWindow(now - CURSOR_OVERLAP)
        plan.cursors["billcom"] = str(now)
        # records that failed last time are read again by id, whatever the cursors say
        for side, otype, rid in self.store.get_retries() or []:
            if otype not in self.types:
                continue
            if side == "billcom" and rid.startswith(CREDIT_APPLICATION):
                # a credit application is found again from its document
                otype, rid = ("bill" if otype == "bill_payment" else "invoice"), rid.split(":")[1]
                if otype not in self.types:
                    continue
            run.retries[otype].append((side, rid))

    def _billcom_records(self, otype, plan):
        """The Bill.com records of ``otype`` changed since the cursor (all on a first sync)."""
        collection = ENTITIES[otype][1]
        filters = None
        if self.run.bc_since and collection not in UNFILTERABLE:
            settled = self.run.cursors.get(billcom_cursors.key(collection))
            if settled:  # a time Bill.com stamped, every record up to it accounted for
                filters = [("updatedTime", "gte", settled)]
            else:
                stamp = datetime.datetime.fromtimestamp(float(self.run.bc_since) - CURSOR_OVERLAP,
                                                        datetime.timezone.utc)
                filters = [("updatedTime", "gt", stamp.strftime("%Y-%m-%dT%H:%M:%S.000Z"))]
        window = plan.billcom_window
        records = [self._read("billcom", otype, window.saw(collection, obj) or obj)
                   for obj in self.remote.billcom.list(collection, filters=filters)]
        plan.read += len(records)
        return records

    def _qbo_pages(self, otype, plan):
        """The QuickBooks records of ``otype`` that changed (all on a full read),
        ``PLAN_PAGE`` at a time."""
        entity = ENTITIES[otype][0]
        if self.run.cdc is not None:
            objects = self.run.cdc.pop(otype, [])
            if objects:
                plan.read += len(objects)
                yield [self._read("qbo", otype, obj) for obj in objects]
            return
        qwindow, page = plan.qbo_window, []
        for obj in self.remote.qbo.query(f"select * from {entity}"):
            qwindow.saw(entity, obj)
            page.append(self._read("qbo", otype, obj))
            if len(page) >= PLAN_PAGE:
                plan.read += len(page)
                yield page
                page = []
        if page:
            plan.read += len(page)
            yield page

    def _retried(self, otype, side, read_ids, plan):
        """([Record], [PlanItem]): the records of ``otype`` on ``side`` that failed
        last time and were not among ``read_ids`` (read again by id), and a skip
        line for each that is gone or unreadable."""
        records, items = [], []
        links = plan.links
        for retry_side, rid in self.run.retries.get(otype, ()):
            if retry_side != side or rid in read_ids:
                continue
            read_ids.add(rid)  # the same record held twice is read once
            try:
                if side == "qbo":
                    obj = self.remote.qbo.read(ENTITIES[otype][0], rid)
                else:
                    obj = self.remote.billcom.get(ENTITIES[otype][1], rid)
            except (ObjectNotFound, BillComNotFound, RemoteError) as exc:
                if isinstance(exc, RemoteError) and exc.scope != RECORD:
                    raise  # the connection or the remote side is down: the run stops and says so
                where = "QuickBooks" if side == "qbo" else "Bill.com"
                gone = isinstance(exc, (ObjectNotFound, BillComNotFound))
                linked = (links.by_qbo if side == "qbo" else links.by_bc).get((otype, rid))
                if gone and linked is not None and side == "qbo":
                    # a synced QuickBooks record deleted since: plan it as the deletion it
                    # is (Bill.com archives rather than deletes, so it has no such case)
                    records.append(Record(otype, side, rid, "", {}, f"{type_label(otype)} {rid}",
                                          facts={"deleted": True}))
                    continue
                # gone or unreadable: say so once on a line, and do not try it again
                items.append(PlanItem(RunLine(
                    otype, QBO_TO_BC if side == "qbo" else BC_TO_QBO, "skip", f"{where} {otype.replace('_', ' ')} {rid}",
                    qbo_id=rid if side == "qbo" else None, billcom_id=rid if side == "billcom" else None,
                    rule_code=Code.DELETED if gone else Code.BAD_DATA, state="planned",
                    message=(f"Held from an earlier run, but it no longer exists in {where}; "
                             + ("its twin is left as it is." if linked is not None else "nothing to do.")
                             if gone else f"Held from an earlier run, and {where} would not give it back: {exc}"))))
                continue
            records.append(self._read(side, otype, obj))
        plan.read += len(records)
        return records, items

    def _forget_written(self, links):
        """Planned creates the run has since written are known by their links now."""
        self.run.planned = {key for key in self.run.planned if not links.has(*key)}

    def attachments(self, entity, remote_id):
        """How many attachments a QBO document has (rule no_attachments). Read once,
        and only when a document is about to be sent, so a quiet day costs nothing."""
        if self.run.attachment_index is None:
            counts = defaultdict(int)
            for att in self.remote.qbo.query("select * from Attachable"):
                for ref in att.get("AttachableRef") or []:
                    entity_ref = ref.get("EntityRef") or {} if isinstance(ref, dict) else {}
                    counts[(entity_ref.get("type"), str(entity_ref.get("value")))] += 1
            self.run.attachment_index = counts
        return self.run.attachment_index.get((entity, remote_id), 0)

    def _read(self, side, otype, obj):
        try:
            return read_qbo(otype, obj) if side == "qbo" else read_billcom(otype, obj)
        except MappingError as err:
            err.side = side
            err.remote_id = (obj.get("Id") if side == "qbo" else obj.get("id")) if isinstance(obj, dict) else None
            return err

    # ------------------------------------------------------------ per type
    def _type_steps(self, otype, plan):
        """The steps of one object type: what was read in Bill.com is held for
        the whole type (it is what changed there; on a first sync, what is there),
        QuickBooks is planned a page at a time, then the Bill.com records no
        QuickBooks record accounted for."""
        bc_records = self._billcom_records(otype, plan)
        retried, gone = self._retried(otype, "billcom", {getattr(r, "remote_id", None) for r in bc_records}, plan)
        bc_records += retried
        if gone:
            yield gone
        state = TypeState(otype, plan, bc_records)
        start = (self._payments_start if otype in PAYMENT_TYPES else self._records_start)(state)
        if start:
            yield start
        pages = self._qbo_pages(otype, plan)
        wanted = {rid for side, rid in self.run.retries.get(otype, ()) if side == "qbo"}
        read_ids = set()
        for page in _with_last(pages, lambda: self._retried(otype, "qbo", read_ids, plan)):
            records, items = page if isinstance(page, tuple) else (page, [])
            if wanted:
                read_ids.update(r.remote_id for r in records if getattr(r, "remote_id", None) in wanted)
            plan_page = self._payments_page if otype in PAYMENT_TYPES else self._records_page
            items = items + plan_page(state, records)
            yield _with_money(items, records, state.bc_records)
        if otype == "customer" and state.deferred:
            # sub-customers after every parent, as QuickBooks needs them
            deferred, state.deferred = sorted(state.deferred, key=lambda r: r.facts.get("level", 0)), None
            yield _with_money(self._records_page(state, deferred), deferred, state.bc_records)
        end = (self._payments_end if otype in PAYMENT_TYPES else self._records_end)(state)
        yield _with_money(end, [], state.bc_records)

    def _records_start(self, state):
        """Lists, vendors/customers, documents: the Bill.com side, before any
        QuickBooks page (bad data, names QuickBooks would refuse, exclusions,
        natural keys of records with no twin)."""
        otype, links, items = state.otype, state.links, []
        links.prefetch("billcom", state.bc_records)
        b_ok = []
        for rec in state.bc_records:
            (items.append(self._error_item(otype, rec, BC_TO_QBO)) if isinstance(rec, MappingError)
             else b_ok.append(rec))
        b_ok = newest_per_id(b_ok)
        if otype in ("bill", "invoice"):  # what credit applications are found from (later_events)
            self.run.bc_documents[otype] = [r for r in b_ok if r.facts.get("credits_applied")]
        state.bc_by_id = {r.remote_id: r for r in b_ok}
        held, state.duplicates = self._name_clashes(otype, b_ok, links)
        for rid, verdict in held.items():
            rec = state.bc_by_id[rid]
            items.append(PlanItem(self._line(otype, BC_TO_QBO, "skip", rec, rule_code=verdict.code,
                                             message=verdict.message), retry_next_run=True))
        b_ok = [r for r in b_ok if r.remote_id not in held]
        b_ok, state.bc_excluded = self._excluded(otype, b_ok, "billcom", links)
        state.b_ok = b_ok
        # natural keys of unlinked records on each side, to match instead of duplicating
        for rec in b_ok:
            if (otype, rec.remote_id) not in links.by_bc and rec.natural_key:
                state.bc_unlinked.setdefault(self._key(rec, links), rec)
        state.bc_keys = set(state.bc_unlinked)
        return items

    def _records_page(self, state, records):
        """One page of QuickBooks records of a list, vendor/customer or document type."""
        otype, links, facts, items = state.otype, state.links, state.facts, []
        links.prefetch("qbo", records)
        q_ok = []
        for rec in records:
            (items.append(self._error_item(otype, rec, QBO_TO_BC)) if isinstance(rec, MappingError)
             else q_ok.append(rec))
        q_ok = newest_per_id(q_ok)
        if otype in self._names_asked_later():
            for rec in q_ok:
                if not rec.deleted:
                    self.run.qbo_names.note(otype, name_key(rec.values["name"]), "")
        if otype == "customer" and state.deferred is not None:  # parents before their sub-customers
            state.deferred.extend(r for r in q_ok if r.facts.get("level", 0))
            q_ok = [r for r in q_ok if not r.facts.get("level", 0)]
        kept = []
        for q in q_ok:
            recs = state.duplicates.get(q.natural_key) if q.natural_key else None
            if recs and (otype, q.remote_id) not in links.by_qbo:
                verdict = self.rules.unique_name(q.values["name"], [r.values["name"] for r in recs], "qbo")
                items.append(PlanItem(self._line(otype, QBO_TO_BC, "skip", q, rule_code=verdict.code,
                                                 message=verdict.message), retry_next_run=True))
            else:
                kept.append(q)
        q_ok, excluded = self._excluded(otype, kept, "qbo", links)
        items += self._excluded_items(otype, excluded, state)
        for rec in q_ok if state.bc_keys else ():  # only a Bill.com record of that key can ask for it
            if (otype, rec.remote_id) not in links.by_qbo and rec.natural_key:
                key = self._key(rec, links)
                if key in state.bc_keys:
                    state.q_unlinked.setdefault(key, rec)
        page_items = []
        for q in q_ok:
            link = links.by_qbo.get((otype, q.remote_id))
            if link:
                b = state.bc_by_id.get(link.billcom_id)
                if b is not None:
                    state.handled_bc.add(b.remote_id)
                item = self._linked(otype, q, b, link, links, facts)
                if item:
                    page_items.append(item)
                continue
            page_items.append(self._new_from_qbo(otype, q, state.bc_unlinked, links, facts, state.handled_bc))
        page_items = [i for i in page_items if i is not None]
        if not self.run.full_billcom_read:
            self._look_up_twins(otype, page_items, links)
        return items + page_items

    def _records_end(self, state):
        """The Bill.com records no QuickBooks record accounted for."""
        otype, links, facts = state.otype, state.links, state.facts
        links.prefetch("billcom", [b for b in state.b_ok if b.remote_id not in state.handled_bc])
        items = self._excluded_items(otype, state.bc_excluded, state)
        for b in state.b_ok:
            if b.remote_id in state.handled_bc:
                continue
            link = links.by_bc.get((otype, b.remote_id))
            if link:
                item = self._linked(otype, None, b, link, links, facts)
                if item:
                    items.append(item)
                continue
            items.append(self._new_from_billcom(otype, b, state.q_unlinked, links, facts))
        return [i for i in items if i is not None]

    def _excluded(self, otype, records, side, links):
        """Records a person chose not to sync (or whose twin they chose): (kept,
        [(record, verdict, pair)]); each gets a skip line and nothing else."""
        excluded = self.config.settings.excluded
        if not excluded:
            return records, []
        by_side = links.by_qbo if side == "qbo" else links.by_bc
        twin_side = "billcom" if side == "qbo" else "qbo"
        keep, out = [], []
        for rec in records:
            verdict = self.rules.excluded(otype, side, rec.remote_id, excluded)
            link = by_side.get((otype, rec.remote_id))
            if verdict.allowed and link is not None:
                twin = link.billcom_id if twin_side == "billcom" else link.qbo_id
                verdict = self.rules.excluded(otype, twin_side, twin, excluded)
            if verdict.allowed:
                keep.append(rec)
                continue
            out.append((rec, verdict, link.qbo_id if link is not None else (side, rec.remote_id)))
        return keep, out

    def _excluded_items(self, otype, excluded, state):
        """One line for a linked pair, whichever side was read (QuickBooks first)."""
        items = []
        for rec, verdict, pair in excluded:
            if pair not in state.reported:
                state.reported.add(pair)
                direction = QBO_TO_BC if rec.side == "qbo" else BC_TO_QBO
                items.append(PlanItem(self._line(otype, direction, "skip", rec, rule_code=verdict.code,
                                                 message=verdict.message)))
        return items

    def _name_clashes(self, otype, b_ok, links):
        """New Bill.com records whose names QuickBooks would take for one already
        there (it ignores case and surrounding spaces): two unlinked Bill.com
        records with one name, or one named like a record linked to another
        twin. Each is held with rule duplicate_name (and the QuickBooks record
        of that name too, see ``_records_page``), instead of being linked to the
        wrong twin or refused by QuickBooks on every run.
        ({Bill.com id: Verdict}, {name key: [Bill.com records sharing it]})"""
        if otype in DOCUMENT_TYPES or otype in PAYMENT_TYPES:
            return {}, {}
        names = defaultdict(list)       # name key -> unlinked Bill.com records
        for rec in b_ok:
            if (otype, rec.remote_id) not in links.by_bc and rec.natural_key:
                names[rec.natural_key].append(rec)
        if not names:
            return {}, {}
        linked = {}                     # name key -> name of a linked QuickBooks record
        # QBO display names are unique across vendors and customers too
        kinds = NAME_TYPES if otype in NAME_TYPES else (otype,)
        for link in (link for kind in kinds for link in links.by_qbo.of_type(kind)):
            if link.snapshot:
                name = (link.snapshot.get("qbo") or {}).get("name")
                if name:
                    owner = link.billcom_id if link.object_type == otype else None
                    linked.setdefault((name_key(name),), (name, owner))
        out, duplicates = {}, {}
        for key, recs in names.items():
            clash = linked.get(key)
            if len(recs) > 1:
                duplicates[key] = recs
                for rec in recs:
                    others = [r.values["name"] for r in recs if r is not rec]
                    out[rec.remote_id] = self.rules.unique_name(rec.values["name"], others, "qbo")
            elif clash and clash[1] != recs[0].remote_id:
                out[recs[0].remote_id] = self.rules.unique_name(recs[0].values["name"], [clash[0]], "qbo")
            elif not clash:
                # a QuickBooks record of the other kind read this run (its link, if
                # this run made it, keeps no name)
                taken = next((kind for kind in kinds if kind != otype and self.run.qbo_names.has(kind, key[0], "")),
                             None)
                if taken:
                    out[recs[0].remote_id] = self.rules.name_taken(recs[0].values["name"], taken)
        return out, duplicates

    def _names_asked_later(self):
        """Vendor and customer types whose QuickBooks names a type planned after
        them checks a Bill.com name against (QBO names are unique across both)."""
        later = [t for t in self.types if t in NAME_TYPES]
        return later[:-1]

    def _look_up_twins(self, otype, items, links):
        """Before planning a create in Bill.com on an incremental day, look the
        record up there by its natural key: a twin older than the cursor (entered
        by hand, or written by a run whose link was lost) is linked, not duplicated."""
        creates = [i for i in items if i.line.action == "create" and i.line.direction == QBO_TO_BC
                   and otype not in PAYMENT_TYPES and i.source.natural_key]
        if not creates:
            return
        billcom = self.remote.billcom
        collection = ENTITIES[otype][1]

        def look_up(item):
            rec = item.source
            if otype not in DOCUMENT_TYPES:
                return billcom.find_by_name(collection, rec.values["name"])
            party_type = "vendor" if otype in ("bill", "vendor_credit") else "customer"
            party = links.by_qbo.get((party_type, rec.values[party_type].remote_id))
            if party is None or links.written(party):
                return None  # its vendor or customer is new too: no twin can exist
            owner = party.billcom_id
            number = rec.values["number"]
            if otype == "bill":
                return billcom.find_bill(owner, number)
            if otype == "invoice":
                return billcom.find_invoice(owner, number)
            return billcom.find_credit(collection, owner, number)

        for item, found in zip(creates, billcom.map_concurrently(look_up, creates)):
            if isinstance(found, Exception):
                raise found
            if not found or (otype, found.get("id")) in links.by_bc:
                continue
            try:
                twin = read_billcom(otype, found)
            except MappingError:
                continue
            rec = item.source
            links.add(Link(otype, rec.remote_id, twin.remote_id))
            self.run.planned.discard((otype, "qbo", rec.remote_id))
            item.line = self._line(otype, NO_DIRECTION, "link", rec, billcom_id=twin.remote_id,
                                   message="Found in Bill.com by its natural key: linked, nothing written.")
            item.target, item.values = twin, None

    def _key(self, rec, links):
        key = rec.natural_key
        if rec.object_type in DOCUMENT_TYPES:
            party_type, party_id, number = key
            ref_token = (links.qbo_token if rec.side == "qbo" else links.billcom_token)(
                rec.values[party_type])
            return (ref_token, number)
        return key

    def _line(self, otype, direction, action, rec, qbo_id=None, billcom_id=None, **kw):
        """The run line of ``rec`` (its own id on its side, the twin's when known)."""
        if rec.side == "qbo":
            qbo_id = rec.remote_id
        else:
            billcom_id = rec.remote_id
        if "amount" not in kw:
            kw["amount"], kw["currency"] = record_money(rec)
        return RunLine(otype, direction, action, rec.label, qbo_id, billcom_id, state="planned", **kw)

    def _error_item(self, otype, err, direction):
        side = "QuickBooks" if err.side == "qbo" else "Bill.com"
        line = RunLine(object_type=otype, direction=direction, action="error",
                       record=err.record or f"{side} {otype} {err.remote_id}",
                       qbo_id=err.remote_id if err.side == "qbo" else None,
                       billcom_id=err.remote_id if err.side == "billcom" else None,
                       rule_code=Code.BAD_DATA, field=err.field,
                       message=f"Cannot read this {side} record: {err.field} {err.message}",
                       state="planned")
        return PlanItem(line, retry_next_run=True)

    # --- rules that stop a new record
    def _gate_new(self, otype, rec, facts, direction):
        """The rule verdict that keeps a new record out, or None."""
        if otype in CREDIT_TYPES and not facts["credit_memos_sync"]:
            return facts["credit_rule"]
        if rec.deleted or not rec.facts.get("active", True):
            return rules.Verdict(False, Code.INACTIVE, "Inactive or deleted; nothing to create on the other side.")
        if otype in DOCUMENT_TYPES:
            verdict = self.rules.non_usd(rec.facts.get("currency"))
            if not verdict.allowed:
                return verdict
            if rec.facts.get("voided"):
                return rules.Verdict(False, Code.VOIDED, "Voided; nothing to send.")
            if direction == QBO_TO_BC and otype in ("bill", "invoice"):
                verdict = self.rules.paid_in_qbo(rec.facts["total"], rec.facts["balance"])
                if not verdict.allowed:
                    return verdict
            if direction == BC_TO_QBO and otype == "bill":
                verdict = self.rules.approved_only(self.config.settings.sync_only_approved_bills,
                                              rec.facts.get("approval_status"))
                if not verdict.allowed:
                    return verdict
            if not rec.values.get("number") and otype in ("bill", "invoice"):
                return rules.Verdict(False, Code.BAD_DATA, "A bill or invoice number is required to sync.",
                                     retry_next_run=True)
            verdict = self._money_verdict(otype, rec, direction)
            if verdict:
                return verdict
        if otype in NAME_TYPES and rec.facts.get("currency", "USD") != "USD":
            return self.rules.non_usd(rec.facts.get("currency"))
        verdict = self.rules.target_accepts(otype, rec.values, _target(direction))
        if not verdict.allowed:
            return verdict
        return None

    def _money_verdict(self, otype, rec, direction):
        """A document goes only with the total it has at its source: its lines,
        discount and tax must add up to that total, and the target must be able to
        hold each of them (rules document_total and shape_not_carried)."""
        values = rec.values
        verdict = self.rules.document_total(lines_total(values), values.get("discount"), values.get("tax"),
                                            rec.facts["total"], rec.side)
        if not verdict.allowed:
            return verdict
        verdict = self.rules.carried_shape(otype, values, _target(direction))
        return None if verdict.allowed else verdict

    def _missing_refs(self, rec, links):
        """References that will not exist on the other side: neither linked nor
        created earlier in this plan."""
        twins = links.by_qbo if rec.side == "qbo" else links.by_bc
        planned, side, missing = self.run.planned, rec.side, []
        for ref in rec.refs:
            if twins.twin_id(ref.object_type, ref.remote_id) or (ref.object_type, side, ref.remote_id) in planned:
                continue
            missing.append(ref)
        return missing

    def _new_from_qbo(self, otype, q, bc_unlinked, links, facts, handled_bc):
        return self._new_record(otype, q, QBO_TO_BC, bc_unlinked, links, facts, handled_bc)

    def _new_from_billcom(self, otype, b, q_unlinked, links, facts):
        return self._new_record(otype, b, BC_TO_QBO, q_unlinked, links, facts)

    def _new_record(self, otype, rec, direction, other_unlinked, links, facts, handled_other=None):
        """A record with no twin yet: skipped by a rule, linked to the twin found by
        its natural key (nothing written), skipped for a missing reference, or created."""
        verdict = self._gate_new(otype, rec, facts, direction)
        if verdict:
            return PlanItem(self._line(otype, direction, "skip", rec, rule_code=verdict.code,
                                       message=verdict.message), retry_next_run=verdict.retry_next_run)
        match = other_unlinked.pop(self._key(rec, links), None) if rec.natural_key and other_unlinked else None
        if match is not None:
            q, b = (rec, match) if rec.side == "qbo" else (match, rec)
            if handled_other is not None:
                handled_other.add(match.remote_id)
            # provisional: later types already see the pair as linked (a bill of a matched vendor)
            links.add(Link(otype, q.remote_id, b.remote_id))
            return PlanItem(self._line(otype, NO_DIRECTION, "link", rec, qbo_id=q.remote_id, billcom_id=b.remote_id,
                                       message="Already on both sides: linked, nothing written."),
                            source=rec, target=match)
        missing = self._missing_refs(rec, links)
        if missing:
            ref = missing[0]
            return PlanItem(self._line(otype, direction, "skip", rec, rule_code=Code.MISSING_REFERENCE,
                                       field=ref.object_type,
                                       message=f"Its {ref.object_type} {ref.name or ref.remote_id} is not synced."),
                            retry_next_run=True)
        verdict = self._note_on_create(otype, rec, facts)
        self.run.planned.add((otype, rec.side, rec.remote_id))
        # the values to write are worked out when the write is made: a plan of a
        # large first sync would otherwise hold every record twice
        return PlanItem(self._line(otype, direction, "create", rec, rule_code=verdict and verdict.code,
                                   message=verdict and verdict.message), source=rec,
                        drop_classes=bool(verdict and not verdict.allowed))  # only class_per_line refuses

    def _note_on_create(self, otype, rec, facts):
        """A rule that changes how a record is created: attachments left behind
        (QBO -> Bill.com), invoice classes dropped (Bill.com -> QBO)."""
        if rec.side == "qbo" and otype in DOCUMENT_TYPES:
            count = self.attachments(ENTITIES[otype][0], rec.remote_id)
            return self.rules.no_attachments(count) if count else None
        if rec.side == "billcom" and otype == "invoice" and _has_classes(rec.values):
            verdict = self.rules.class_per_line(facts["class_per_line"], BC_TO_QBO)
            return None if verdict.allowed else verdict
        return None

    def _linked(self, otype, q, b, link, links, facts):
        """A record that already has a twin: update, conflict or nothing."""
        snap = link.snapshot or {}
        if snap.get("closed"):
            return None  # ended on both sides by an earlier run
        if snap.get("manual"):
            # a person paired them ("Link to an existing record"): once both are read,
            # keep them as a pair from now on, as a match by natural key is kept
            if q is None or b is None:
                return None
            return PlanItem(self._line(otype, NO_DIRECTION, "link", q, qbo_id=q.remote_id, billcom_id=b.remote_id,
                                       message="Linked by a person: nothing written; later changes sync."),
                            source=q, target=b)
        if otype in DOCUMENT_TYPES:
            ended = self._document_ended(otype, q, b, link)
            if ended is not None:
                return ended
        q_vals = neutral(q.values, links.qbo_token) if q is not None and not q.deleted else None
        b_vals = neutral(b.values, links.billcom_token) if b is not None else None
        q_changed = q is not None and (q.deleted or q_vals != snap.get("qbo"))
        b_changed = b is not None and b_vals != snap.get("billcom")
        if not q_changed and not b_changed:
            return None
        rec = q if q is not None else b
        if q is not None and q.deleted:
            return PlanItem(RunLine(otype, QBO_TO_BC, "skip", f"{rec.label}", link.qbo_id, link.billcom_id,
                                    rule_code=Code.DELETED, state="planned",
                                    message="Deleted in QuickBooks; the Bill.com copy is left as it is."))
        if otype in DOCUMENT_TYPES and otype in CREDIT_TYPES and not facts["credit_memos_sync"]:
            return None
        direction = QBO_TO_BC if q_changed else BC_TO_QBO
        if q_changed and b_changed:
            settings = self.config.settings
            master = (settings.record_masters or {}).get(f"{otype}|{link.qbo_id}") or settings.master_side
            if not master:
                changes = {"QuickBooks": diff(snap.get("qbo"), q_vals), "Bill.com": diff(snap.get("billcom"), b_vals)}
                return PlanItem(RunLine(otype, NO_DIRECTION, "conflict", rec.label, link.qbo_id, link.billcom_id,
                                        rule_code=Code.CONFLICT, state="planned",
                                        message="Changed in both QuickBooks and Bill.com since the last sync; "
                                                "held until one side is corrected or a master side is set.",
                                        diff={f"{side}: {k}": v for side, d in changes.items() for k, v in d.items()}),
                                source=q, target=b)
            direction = QBO_TO_BC if master == "qbo" else BC_TO_QBO
        if direction == QBO_TO_BC:
            source, target, values, old = q, b, q_vals, snap.get("qbo")
        else:
            source, target, values, old = b, q, b_vals, snap.get("billcom")
        if otype in DOCUMENT_TYPES and source.facts.get("currency", "USD") != "USD":
            verdict = self.rules.non_usd(source.facts.get("currency"))
            return PlanItem(RunLine(otype, direction, "skip", rec.label, link.qbo_id, link.billcom_id,
                                    rule_code=verdict.code, message=verdict.message, state="planned"))
        changes = diff(old, values)
        if otype in DOCUMENT_TYPES and set(changes) == set():
            return None
        verdict = self._money_verdict(otype, source, direction) if otype in DOCUMENT_TYPES else None
        if verdict:
            return PlanItem(RunLine(otype, direction, "skip", rec.label, link.qbo_id, link.billcom_id,
                                    rule_code=verdict.code, message=verdict.message, diff=changes,
                                    state="planned"))
        code = message = None
        if otype == "invoice" and direction == BC_TO_QBO and _has_classes(values):
            verdict = self.rules.class_per_line(facts["class_per_line"], BC_TO_QBO)
            if not verdict.allowed:
                code, message = verdict.code, verdict.message
        line = RunLine(otype, direction, "update", rec.label, link.qbo_id, link.billcom_id,
                       rule_code=code, message=message, diff=changes, state="planned")
        return PlanItem(line, source=source, target=target, values=values, drop_classes=code is not None)


def _with_last(pages, last):
    """The pages, then ``last()`` (called only once the pages are done)."""
    yield from pages
    yield last()


def _with_money(items, qbo_records, bc_records):
    """Give each line the amount of its record (a document's total, a payment's
    amount) where the line was made without it: its source, else its twin, else
    the record it names on the side it comes from. Returns ``items``."""
    by_side = {"qbo": {r.remote_id: r for r in qbo_records if not isinstance(r, MappingError)},
               "billcom": {r.remote_id: r for r in bc_records if not isinstance(r, MappingError)}}
    for item in items:
        line = item.line
        if line.amount is not None:
            continue
        sides = ("billcom", "qbo") if line.direction == BC_TO_QBO else ("qbo", "billcom")
        named = [by_side[side].get(line.qbo_id if side == "qbo" else line.billcom_id) for side in sides]
        for rec in (item.source, item.target, *named):
            amount, currency = record_money(rec)
            if amount is not None:
                line.amount, line.currency = amount, currency
                break
    return items


def _target(direction):
    return "billcom" if direction == QBO_TO_BC else "qbo"


def _has_classes(values):
    if values.get("class"):
        return True
    return any(line.get("class") for line in values.get("lines") or [])


def _cdc_entities(result):
    """(entity name, [objects]) pairs from whatever the QBO client's cdc() returns."""
    if hasattr(result, "entities"):
        result = result.entities
    if isinstance(result, dict):
        return list(result.items())
    return list(result)
