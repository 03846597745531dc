"""Carries a Plan out, in dependency order, without deciding anything new.

* lists -> vendors/customers -> documents -> payments (``config.OBJECT_TYPES``);
* QBO writes go in batches of at most 30, each batch with a ``requestid``
  derived from the source records and their versions, so a retried batch is
  replayed by QBO instead of done twice;
* Bill.com writes use the bulk endpoints where they exist and otherwise run
  up to 3 at a time (the per-organization limit);
* each link is saved as soon as its write succeeds, before the next write, so
  a crash loses no link: the next run matches what an interrupted write created
  by its natural key (or the payment's origin mark) instead of creating it again;
* a record that fails becomes a run line naming the record, the field and the
  remote error, and the run goes on.
"""
import hashlib
import logging
import time
import uuid
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

from . import billcom_cursors
from .billcom.bulk_v2 import ENTITIES as BILLCOM_V2_BULK, BulkV2  # v2 bulk creates, 100 a call
from .billcom.client import BULK_CREATE as BILLCOM_BULK  # collections with a bulk create endpoint
from .billcom.client import BillComClient
from .billcom.client import MAX_IN_FLIGHT as BILLCOM_WORKERS
from .config import OBJECT_TYPES
from .errors import RECORD, RemoteError, SyncError
from .mapping import (DOCUMENT_TYPES, ENTITIES, LIST_TYPES, NAME_TYPES, billcom_body, billcom_payment_body,
                      neutral, qbo_body, qbo_payment_body, qbo_update_body, qbo_voided, read_billcom, read_qbo)
from .plan import BC_TO_QBO, NO_DIRECTION, QBO_TO_BC, WRITE_ACTIONS, LinkIndex
from .qbo.client import BATCH_MAX_ITEMS as QBO_BATCH_SIZE, BatchItem
from .qbo.errors import StaleObject
from .records import MappingError
from .rules import Code
from .secrets import Scrubber
from .store import Link

_log = logging.getLogger(__name__)

LINE_BATCH = 500  # run lines written to the store at a time
LINES_KEPT = 2000  # run lines a RunResult carries (every line is in the store)
IN_FLIGHT_WINDOW = 12  # Bill.com answers waiting to be recorded, at most


class StopRun(Exception):
    """Raised to stop a run between writes (progress said stop, or a test's k-th write)."""


@dataclass
class RunResult:
    run_id: int
    state: str                      # done | partial | failed | interrupted
    counts: dict = field(default_factory=dict)
    lines: list = field(default_factory=list)  # the first LINES_KEPT lines (all_lines: no more)
    message: str = None
    plan: object = None
    error: Exception = None         # what stopped a failed run (e.g. ReconnectNeeded), for the caller
    all_lines: bool = True          # whether ``lines`` holds every line of the run


class Executor:
    def __init__(self, config, store, remote, run_id, progress=None, stop_after_writes=None):
        self.config = config
        self.store = store
        self.remote = remote
        self.run_id = run_id
        self.progress = progress
        self.stop_after_writes = stop_after_writes
        self.writes = 0
        self.scrub = Scrubber(source=config.secrets)
        self.lines = []             # the run's first LINES_KEPT lines; the store has them all
        self.tally, self.failed, self.emitted = Counter(), 0, 0
        self._unsaved_lines = []
        self.retries = set()
        self._defaults = None
        self._bulk_v2 = None
        self._stopping = False      # a Bill.com write stopped the run: settle what was sent, send nothing new

    # ------------------------------------------------------------ the run
    def run(self, make_plan=None, planner=None):
        """Carry out the plan ``planner`` gives step by step (``Planner.steps``:
        a type at a time, a page at a time, dependencies first), each step
        before the next is planned, so the run holds the link map and one page;
        or the whole Plan ``make_plan()`` returns."""
        state, message, plan, error = "done", None, None, None
        before = self._network_counters()
        try:
            if planner is not None:
                plan = planner.begin()
                self._start(plan)
                for items in planner.steps(plan):
                    self.carry_out(items)
            else:
                plan = make_plan()
                self._start(plan)
                self.carry_out(plan.items)
        except StopRun as stop:
            state, message = "interrupted", str(stop) or "Stopped; the next run resumes where this one stopped."
        except (SyncError, RemoteError) as exc:
            state, message, error = "failed", self.scrub(str(exc)), exc
            _log.warning("sync run %s failed: %s", self.run_id, message)
        except Exception as exc:  # a bug must still close the run and release the lock
            state, message, error = "failed", self.scrub(f"Unexpected error: {exc!r}"), exc
            _log.exception("sync run %s failed", self.run_id)
        failed = self.failed
        if state == "done":
            if failed:
                state = "partial"
                message = f"{failed} record(s) could not be synced; see the run lines."
            self.store.set_cursors(dict(plan.cursors, **self._billcom_cursors(plan), **self._qbo_cursor(plan)))
            self.store.set_retries(sorted(self.retries))
        self._flush_lines()
        note = self._network_note(before, self._network_counters())
        if note:
            message = f"{message} {note}" if message else note
        counts = self.counts()
        self.store.end_run(self.run_id, state, counts, message)
        result = RunResult(self.run_id, state, counts, self.lines, message, plan, error)
        result.all_lines = self.emitted <= LINES_KEPT
        return result

    def _start(self, plan):
        self.links = plan.links or LinkIndex.over(self.store)
        self.links.batch = f"{self.run_id}:{uuid.uuid4().hex[:12]}"
        self._window = getattr(plan, "billcom_window", None)
        self._qwindow = getattr(plan, "qbo_window", None)
        self.facts = plan.facts
        self.done = self.total = 0

    def carry_out(self, items):
        """One step of the plan, in dependency order. ``total`` (given to
        ``progress``) counts the writes planned so far: it grows as the run
        plans each type."""
        self._log_decisions(items)
        self.total += sum(1 for i in items if i.line.action in WRITE_ACTIONS or i.line.action == "link")
        by_type = {}
        for item in items:
            by_type.setdefault(item.object_type, []).append(item)
        for otype in OBJECT_TYPES:
            if otype in by_type:
                self.apply_type(otype, by_type.pop(otype))

    def _billcom_cursors(self, plan):
        """Each Bill.com collection's cursor past this run's own writes, when nobody
        else changed anything there meanwhile (see billcom_cursors)."""
        window = getattr(plan, "billcom_window", None)
        if window is None:
            return {}
        collections = list(dict.fromkeys(ENTITIES[t][1] for t in self.config.object_types()))
        return window.settle(self.remote.billcom, collections, v2=self.billcom_v2(),
                             linked_stamps=self._linked_billcom_stamps)

    def _linked_billcom_stamps(self, collection, ids):
        """{Bill.com id: updatedTime in ms} the links of ``ids`` keep (the check
        after the run: a link keeps the time Bill.com answered its write)."""
        out = {}
        for otype in (t for t in OBJECT_TYPES if ENTITIES[t][1] == collection):
            for link in self.store.find_links(otype, "billcom", ids):
                out[link.billcom_id] = billcom_cursors.parse_stamp(link.billcom_version)
        return out

    def _qbo_cursor(self, plan):
        """The QuickBooks CDC cursor past this run's own writes, when nobody else
        changed anything there meanwhile (see qbo_cursor)."""
        window = getattr(plan, "qbo_window", None)
        if window is None:
            return {}
        from .planner import _cdc_entities  # the planner reads CDC answers; one reading of them
        return window.settle(self.remote.qbo, _cdc_entities)

    def _wrote_billcom(self, otype, obj, linked=False):
        """Keep the updatedTime Bill.com gave this run's write (``linked``: the
        link saved for the write keeps it)."""
        window = getattr(self, "_window", None)
        if window is not None:
            window.wrote(ENTITIES[otype][1], obj, linked=linked)

    def _network_counters(self):
        q = self.remote.qbo.stats
        b = self.remote.billcom.stats.as_dict()
        return {"qbo_retries": q.get("retries", 0), "qbo_throttled": q.get("throttled_waits", 0),
                "qbo_throttle_seconds": q.get("throttle_wait_seconds", 0.0),
                "qbo_refreshes": q.get("token_refreshes", 0),
                "bc_relogins": b.get("relogins", 0), "bc_retries": dict(b.get("retries", {}))}

    @staticmethod
    def _network_note(before, after):
        """What the network and the APIs did to this run, in one sentence per side."""
        parts = []
        q = {k: after[k] - before[k] for k in ("qbo_retries", "qbo_throttled", "qbo_throttle_seconds",
                                                "qbo_refreshes")}
        q_text = []
        if q["qbo_throttled"]:
            q_text.append(f"throttled {q['qbo_throttled']} time(s), waited {q['qbo_throttle_seconds']:.0f} s")
        if q["qbo_retries"]:
            q_text.append(f"{q['qbo_retries']} request(s) retried")
        if q_text:
            parts.append("QuickBooks: " + ", ".join(q_text) + ".")
        b_text = []
        relogins = after["bc_relogins"] - before["bc_relogins"]
        if relogins:
            b_text.append(f"session expired, signed in again {relogins} time(s)")
        retries = {k: v - before["bc_retries"].get(k, 0) for k, v in after["bc_retries"].items()}
        retries = {k: v for k, v in retries.items() if v}
        if retries:
            b_text.append("retried " + ", ".join(f"{v}× {k}" for k, v in sorted(retries.items())))
        if b_text:
            parts.append("Bill.com: " + ", ".join(b_text) + ".")
        return " ".join(parts) or None

    def counts(self):
        return dict(self.tally)

    def _log_decisions(self, items):
        """Lines that need no write (skips, conflicts, bad data) are logged at once."""
        lines = []
        for item in items:
            if item.line.action in ("skip", "conflict", "error"):
                item.line.state = "done"
                lines.append(item.line)
                if item.retry_next_run:
                    self._retry(item)
        self._emit(lines)

    def _emit(self, lines):
        """Run lines go to the store in batches (links, not lines, are what must be
        durable at once); the last ones are written before the run closes."""
        self.scrub.refresh()   # once for the batch: the texts were all made by now
        for line in lines:
            for name in ("message", "remote_error", "record"):
                value = getattr(line, name)
                if value:
                    setattr(line, name, self.scrub.mask(value))
            action = "failed" if line.state == "failed" else line.action
            self.tally[f"{line.object_type}|{line.direction}|{action}"] += 1
            if line.state == "failed" or line.action == "error":
                self.failed += 1
            self.emitted += 1
            if len(self.lines) < LINES_KEPT:
                self.lines.append(line)
        self._unsaved_lines.extend(lines)
        if len(self._unsaved_lines) >= LINE_BATCH:
            self._flush_lines()

    def _flush_lines(self):
        if self._unsaved_lines:
            lines, self._unsaved_lines = self._unsaved_lines, []
            self.store.add_run_lines(self.run_id, lines)

    def _retry(self, item):
        line = item.line
        if line.qbo_id:
            self.retries.add(("qbo", line.object_type, line.qbo_id))
        if line.billcom_id:
            self.retries.add(("billcom", line.object_type, line.billcom_id))

    def _wrote(self):
        """Called right after each remote write returns, before its links are saved."""
        self.writes += 1
        if self.stop_after_writes is not None and self.writes >= self.stop_after_writes:
            raise StopRun(f"Stopped after write {self.writes}.")

    def _advance(self, n, stage):
        self.done += n
        if self.progress and self.progress(self.done, self.total, stage) is False:
            raise StopRun("Stopped between batches; the next run resumes where this one stopped.")

    # ------------------------------------------------------------ per type
    def apply_type(self, otype, items):
        links = [i for i in items if i.line.action == "link"]
        if links:
            self.save_matches(otype, links)
        ended = [i for i in items if i.line.action in ("archive", "void")]
        if ended:
            self.end_twins(otype, ended)
        for direction in (QBO_TO_BC, BC_TO_QBO):
            creates = [i for i in items if i.line.action == "create" and i.line.direction == direction]
            updates = [i for i in items if i.line.action == "update" and i.line.direction == direction]
            if direction == BC_TO_QBO:
                if creates:
                    self.qbo_writes(otype, creates, "create")
                if updates:
                    self.qbo_writes(otype, updates, "update")
            else:
                if creates:
                    self.billcom_creates(otype, creates)
                if updates:
                    self.billcom_updates(otype, updates)

    def end_twins(self, otype, items):
        """The twins of records that ended after they synced: a document archived
        in Bill.com (or deleted, voided in QuickBooks), a payment voided. One
        write each (they are few); the link is then marked closed so the next
        run leaves the pair alone and the tie-out expects both gone."""
        for item in items:
            try:
                self._end_twin(otype, item)
            except (RemoteError, MappingError) as exc:
                if isinstance(exc, RemoteError) and not _record_level(exc):
                    raise
                self._fail(item, exc)
            else:
                item.line.state = "done"
                link = self.links.by_qbo.get((otype, item.line.qbo_id))
                snapshot = dict((link.snapshot if link else None) or {}, closed=item.line.message)
                self._save([Link(otype, item.line.qbo_id, item.line.billcom_id,
                                 link.qbo_version if link else None, link.billcom_version if link else None,
                                 snapshot, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))])
            _release(item)
            self._emit([item.line])
            self._advance(1, f"{otype}: end twin")

    def _end_twin(self, otype, item):
        line = item.line
        if item.target is None and line.action == "archive":
            return  # already gone on the other side: only the link closes
        if line.direction == QBO_TO_BC:
            collection = ENTITIES[otype][1]
            if otype == "bill_payment":
                obj = self.remote.billcom.void_ap_payment(line.billcom_id)
            else:
                obj = self.remote.billcom.archive(collection, line.billcom_id)
            self._wrote_billcom(otype, obj)
        else:
            entity = ENTITIES[otype][0]
            current = self.remote.qbo.read(entity, line.qbo_id)
            if current.get("status") == "Deleted" or qbo_voided(current):  # nothing left to end
                return
            request_id = _request_id(otype, line.action, [(line.billcom_id, item.source.version)])
            if otype in ("invoice", "bill_payment", "received_payment"):
                self.remote.qbo.void(entity, line.qbo_id, current.get("SyncToken"), request_id)
            else:
                self.remote.qbo.delete(entity, line.qbo_id, current.get("SyncToken"), request_id)
        self._wrote()

    def save_matches(self, otype, items):
        """Records found on both sides: link them, write nothing."""
        new_links = []
        for item in items:
            q, b = (item.source, item.target) if item.source.side == "qbo" else (item.target, item.source)
            new_links.append(self._link(otype, q, b))
            item.line.state = "done"
            _release(item)
        self._save(new_links)
        self._emit([i.line for i in items])
        self._advance(len(items), f"{otype}: linked")

    def _link(self, otype, q, b, origin=None, qbo_values=None):
        """The link of a pair, with each side's neutral values as synced;
        ``qbo_values``: those of ``q`` when the write already worked them out."""
        snapshot = None
        if otype in ("bill_payment", "received_payment"):
            credits = _credit_keys(b.values.get("credits"))
            snapshot = {"credits": credits} if credits else None
        else:
            snapshot = {"qbo": qbo_values if qbo_values is not None else neutral(q.values, self.links.qbo_token),
                        "billcom": neutral(b.values, self.links.billcom_token)}
            known = self.links.by_qbo.get((otype, q.remote_id))
            origin = origin or ((known.snapshot or {}).get("origin") if known else None)
            if origin:  # the side the record was first entered on
                snapshot["origin"] = origin
        return Link(otype, q.remote_id, b.remote_id, q.version, b.version, snapshot,
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def _save(self, links):
        known_before = self.links.known(links)
        for link, known in zip(links, known_before):
            if known is None:
                link.created_in = self.links.batch  # how the store tells this run's creates later
        self.store.save_links(links)
        for link, known in zip(links, known_before):
            # the executor needs ids and versions, not the values; planning of the
            # types still to come reads the links as it found them (their snapshot),
            # and knows a link this run's create added as the create it planned
            if known is None:
                self.links.created(link)
            else:
                self.links.add(Link(link.object_type, link.qbo_id, link.billcom_id, link.qbo_version,
                                    link.billcom_version, known.stored_snapshot))

    def _fail(self, item, exc):
        item.line.state = "failed"
        if isinstance(exc, RemoteError):
            item.line.remote_error = self.scrub(str(exc))
            item.line.field = item.line.field or exc.field
            item.line.message = self.scrub(exc.message)
        elif isinstance(exc, MappingError):
            item.line.field = exc.field
            item.line.message = self.scrub(f"{exc.field}: {exc.message}")
        else:
            item.line.message = self.scrub(f"Unexpected error: {exc!r}")
        self._retry(item)

    # ------------------------------------------------------------ QBO side
    def qbo_defaults(self):
        """Accounts and items QBO needs for records that come from Bill.com without
        them (read once, only when such a record is written)."""
        if self._defaults is None:
            settings = self.config.settings
            ctx = {"ap_account_id": settings.ap_account_id, "ar_account_id": settings.ar_account_id}
            accounts = list(self.remote.qbo.query("select * from Account"))
            by_type = {}
            for acc in accounts:
                by_type.setdefault(acc.get("AccountType"), []).append(acc)
                if acc.get("Name") == "Uncategorized Expense":
                    ctx["expense_account_id"] = acc["Id"]
            ctx.setdefault("expense_account_id", next((a["Id"] for a in by_type.get("Expense", [])), None))
            services = [a for a in by_type.get("Income", []) if a.get("Name") == "Services"]
            ctx["income_account_id"] = (services or by_type.get("Income") or [{}])[0].get("Id")
            item = next(iter(self.remote.qbo.query("select * from Item where Type = 'Service'")), None)
            ctx["service_item_id"] = item["Id"] if item else None
            self._defaults = ctx
        return dict(self._defaults)

    def _qbo_ctx(self, otype, item):
        ctx = self.qbo_defaults() if otype in DOCUMENT_TYPES + ("item",) else {
            "ap_account_id": self.config.settings.ap_account_id, "ar_account_id": self.config.settings.ar_account_id}
        ctx["keep_classes"] = not item.drop_classes
        ctx["class_per_txn"] = otype == "invoice" and self.facts.get("class_per_txn")
        return ctx

    def _qbo_request(self, otype, item, operation):
        """(entity, body) for one record going to QBO."""
        entity = ENTITIES[otype][0]
        if otype in ("bill_payment", "received_payment"):
            return entity, self._qbo_payment_body(otype, item)
        ctx = self._qbo_ctx(otype, item)
        resolve = self._resolver(self.links.to_qbo, "QuickBooks")
        if operation == "create":
            return entity, qbo_body(otype, self._values(item), resolve, ctx)
        current = item.target
        if current is None:  # not changed in QBO: its version is the one we last saw
            link = self.links.by_qbo.get((otype, item.line.qbo_id))
            current = _Current(item.line.qbo_id, link.qbo_version if link else None)
        return entity, qbo_update_body(otype, item.values, resolve, ctx, current)

    def _resolver(self, lookup, side):
        def resolve(token):
            found = lookup(token)
            if not found:
                kind, rid = token.split("|", 1)
                raise MappingError(kind, f"{kind} {rid.replace('bc:', '')} has no {side} twin yet")
            return found
        return resolve

    def _qbo_payment_body(self, otype, item):
        resolve = self._resolver(self.links.to_qbo, "QuickBooks")
        return qbo_payment_body(otype, item.values, resolve, self.config.settings, item.source.remote_id,
                                item.source.facts.get("reference"))

    def qbo_writes(self, otype, items, operation):
        """Create or update records in QBO, 30 to a batch, one requestid a batch."""
        for start in range(0, len(items), QBO_BATCH_SIZE):
            chunk = items[start:start + QBO_BATCH_SIZE]
            batch, ready = [], []
            for n, item in enumerate(chunk):
                try:
                    entity, body = self._qbo_request(otype, item, operation)
                except MappingError as exc:
                    self._fail(item, exc)
                    continue
                batch.append(BatchItem(f"b{n}", operation, entity, body))
                ready.append((f"b{n}", item))
            results = {}
            if batch:
                request_id = _request_id(otype, operation, [(i.source.remote_id, i.source.version)
                                                            for _, i in ready])
                try:
                    results = self.remote.qbo.batch(batch, request_id=request_id)
                except RemoteError as exc:
                    if not _record_level(exc):
                        raise
                    for _, item in ready:
                        self._fail(item, exc)
                    ready = []
                self._wrote()
            new_links = []
            stale = []
            for bid, item in ready:
                result = results.get(bid)
                if isinstance(result, RemoteError) or result is None:
                    if isinstance(result, StaleObject) and operation == "update":
                        stale.append(item)
                        continue
                    self._fail(item, result or RemoteError("no result for this record in the batch"))
                    continue
                new_links.append(self._written_qbo(otype, item, result))
            self._save(new_links)
            for item in stale:  # our version was old (e.g. a payment touched it): re-read once
                self._retry_stale_update(otype, item)
            self._emit([i.line for i in chunk])
            self._advance(len(chunk), f"{otype}: QuickBooks {operation}")

    def _written_qbo(self, otype, item, obj):
        item.line.state = "done"
        window = getattr(self, "_qwindow", None)
        if window is not None:
            window.wrote(ENTITIES[otype][0], obj)
        q = read_qbo(otype, obj)
        item.line.qbo_id = q.remote_id
        link = self._link(otype, q, item.source if item.source.side == "billcom" else item.target,
                          origin="billcom" if item.line.action == "create" else None)
        _release(item)
        return link

    def _retry_stale_update(self, otype, item):
        entity = ENTITIES[otype][0]
        try:
            current = read_qbo(otype, self.remote.qbo.read(entity, item.line.qbo_id))
            if self._changed_in_qbo_since_the_last_sync(otype, current):
                # a person edited it in QuickBooks between planning and writing:
                # the same case the planner holds as a conflict, never overwritten
                item.line.action, item.line.rule_code = "conflict", Code.CONFLICT
                item.line.direction = NO_DIRECTION
                item.line.message = ("Changed in QuickBooks while this run was writing the Bill.com change; "
                                     "held until one side is corrected or a master side is set.")
                item.line.state = "done"
                self._retry(item)
                return
            item.target = current
            _, body = self._qbo_request(otype, item, "update")
            obj = self.remote.qbo.update(entity, body, request_id=_request_id(
                otype, "update", [(item.source.remote_id, item.source.version), ("qbo", current.version)]))
        except (RemoteError, MappingError) as exc:
            if isinstance(exc, RemoteError) and not _record_level(exc):
                raise
            self._fail(item, exc)
            return
        self._wrote()
        self._save([self._written_qbo(otype, item, obj)])

    def _changed_in_qbo_since_the_last_sync(self, otype, current):
        """Whether QuickBooks now holds other synced values than at the last sync
        (unless QuickBooks is the master side, whose version would win anyway)."""
        link = self.links.by_qbo.get((otype, current.remote_id))
        snapshot = (link.snapshot or {}).get("qbo") if link else None
        if snapshot is None or self.config.settings.master_side == "billcom":
            return False
        return neutral(current.values, self.links.qbo_token) != snapshot

    # -------------------------------------------------------- Bill.com side
    def billcom_creates(self, otype, items):
        collection = ENTITIES[otype][1]
        bodies, unwritable = [], []
        for item in items:
            try:
                bodies.append((item, self._billcom_body(otype, item)))
            except MappingError as exc:
                self._fail(item, exc)
                unwritable.append(item.line)
        self._emit(unwritable)
        if otype in ("bill_payment", "received_payment"):
            self._billcom_each(otype, bodies, self._record_payment)
        elif self._v2_takes(collection):
            self._billcom_v2_creates(otype, collection, bodies)
        elif collection in BILLCOM_BULK:
            limit = self.remote.billcom.bulk_limit(collection)
            chunks = [bodies[start:start + limit] for start in range(0, len(bodies), limit)]
            bulk = self.remote.billcom.bulk_create

            def settle(chunk, created, exc):
                if exc is not None:
                    if not _record_level(exc):
                        raise exc
                    if not self._stopping:  # all-or-nothing: nothing was created; find the bad record one by one
                        self._billcom_each(otype, chunk, lambda body: self.remote.billcom.create(collection, body))
                    return
                self._wrote()
                links = [self._written_billcom(otype, item, obj) for (item, _), obj in zip(chunk, created)]
                self._save(links)
                self._emit([item.line for item, _ in chunk])
                self._advance(len(chunk), f"{otype}: Bill.com create")

            self._in_flight(chunks, lambda c: bulk(collection, [b for _, b in c]), settle)
        else:
            self._billcom_each(otype, bodies, lambda body: self.remote.billcom.create(collection, body))

    def _v2_takes(self, collection):
        """Whether v2 bulk creates ``collection``: the connection asks for it, and a v2
        call (100 records, then a v3 page to read them back) costs fewer requests than
        v3 would (one a record for customers and invoices, 20 a call for vendors; not
        bills, which v3 takes 100 a call with nothing to read back)."""
        bulk = self.billcom_v2() if collection in BILLCOM_V2_BULK else None
        if bulk is None:
            return False
        if collection not in BILLCOM_BULK:
            return True
        return 2 * self.remote.billcom.bulk_limit(collection) < bulk.limit

    def billcom_v2(self):
        """Bill.com's v2 bulk creates (vendors, customers, bills, invoices), when the connection
        asks for them (setting ``billcom_v2_bulk``; see doc/billcom-v2-bulk.md), else None."""
        if self._bulk_v2 is None:
            wanted = self.config.settings.billcom_v2_bulk
            client = self.remote.billcom
            self._bulk_v2 = BulkV2(client) if wanted and isinstance(client, BillComClient) else False
        return self._bulk_v2 or None

    def _billcom_v2_creates(self, otype, collection, bodies):
        """Up to 100 records a v2 call; each record's own outcome decides its line
        and link (a record the call did not account for was looked up, or created
        on its own through v3, by ``BulkV2``)."""
        bulk = self.billcom_v2()
        chunks = [bodies[start:start + bulk.limit] for start in range(0, len(bodies), bulk.limit)]

        def settle(chunk, outcomes, exc):
            if exc is not None:
                if not _record_level(exc):
                    raise exc
                for item, _ in chunk:
                    self._fail(item, exc)
                self._emit([item.line for item, _ in chunk])
                return
            self._wrote()
            links = []
            for (item, _), outcome in zip(chunk, outcomes):
                if outcome.obj is not None:
                    links.append(self._written_billcom(otype, item, outcome.obj))
                else:
                    self._fail(item, outcome.error)
            self._save(links)
            self._emit([item.line for item, _ in chunk])
            self._advance(len(chunk), f"{otype}: Bill.com create")

        self._in_flight(chunks, lambda c: bulk.create(collection, [b for _, b in c]), settle)

    def _billcom_body(self, otype, item):
        resolve = self._resolver(self.links.to_billcom, "Bill.com")
        if otype in ("bill_payment", "received_payment"):
            return billcom_payment_body(otype, item.values, resolve, item.source.remote_id)
        return billcom_body(otype, self._values(item), resolve)

    def _values(self, item):
        """The neutral values a create writes (worked out now, not kept in the plan)."""
        if item.values is None:
            item.values = neutral(item.source.values, self.links.token(item.source))
        return item.values

    def _record_payment(self, body):
        if "payments" in body:
            return self.remote.billcom.record_ap_payment(body)
        return self.remote.billcom.record_ar_payment(body)

    def _in_flight(self, jobs, call, settle):
        """Run ``call(job)`` 3 at a time (Bill.com's limit per organization) and
        ``settle(job, result, error)`` each in job order, holding at most a small
        window of answers in memory. Only this thread touches the store.

        When a settle stops the run (a person's stop, a connection-level error),
        no job is sent any more, but the writes already sent are settled: one
        that Bill.com made keeps its link, never an orphan the next run has to
        find again. Then the first reason to stop is raised."""
        stop = None
        with ThreadPoolExecutor(max_workers=BILLCOM_WORKERS) as pool:
            pending = deque()

            def settle_next():
                nonlocal stop
                job, future = pending.popleft()
                if future.cancelled():
                    return   # never sent
                try:
                    settle(*_outcome(job, future))
                except Exception as exc:   # noqa: BLE001 - kept, raised once the writes sent are settled
                    if stop is None:
                        stop, self._stopping = exc, True
                        for _, waiting in pending:
                            waiting.cancel()   # not sent yet: it stays unsent (a running one cannot be)

            for job in jobs:
                if stop is not None:
                    break
                pending.append((job, pool.submit(call, job)))
                if len(pending) >= IN_FLIGHT_WINDOW:
                    settle_next()
            while pending:
                settle_next()
        if stop is not None:
            self._stopping = False
            raise stop

    def _billcom_each(self, otype, pairs, write):
        """Single writes, 3 in flight; each link saved as its write finishes."""
        def settle(pair, obj, exc):
            item = pair[0]
            if exc is not None:
                if isinstance(exc, RemoteError) and not _record_level(exc):
                    raise exc
                self._fail(item, exc)
                self._emit([item.line])
                return
            self._wrote()
            self._save([self._written_billcom(otype, item, obj)])
            self._emit([item.line])
            self._advance(1, f"{otype}: Bill.com write")

        self._in_flight(pairs, lambda pair: write(pair[1]), settle)

    def _written_billcom(self, otype, item, obj):
        item.line.state = "done"
        self._wrote_billcom(otype, obj, linked=True)
        b = read_billcom(otype, obj)
        item.line.billcom_id = b.remote_id
        from_qbo = item.source.side == "qbo"  # then the values written are the QuickBooks side's, neutral
        link = self._link(otype, item.source if from_qbo else item.target, b,
                          origin="qbo" if item.line.action == "create" else None,
                          qbo_values=item.values if from_qbo else None)
        _release(item)
        return link

    def billcom_updates(self, otype, items):
        collection = ENTITIES[otype][1]
        resolve = self._resolver(self.links.to_billcom, "Bill.com")
        pairs, unwritable = [], []
        for item in items:
            try:
                body = billcom_body(otype, item.values, resolve)
            except MappingError as exc:
                self._fail(item, exc)
                unwritable.append(item.line)
                continue
            pairs.append((item, body))
        self._emit(unwritable)

        def write(item_body):
            item, body = item_body
            bid = item.line.billcom_id
            billcom = self.remote.billcom
            obj = billcom.update(collection, bid, body) if otype != "term" else billcom.get(collection, bid)
            if otype in LIST_TYPES + NAME_TYPES and "active" in item.values:
                archived = bool(obj.get("archived"))
                if item.values["active"] and archived:
                    obj = billcom.restore(collection, bid)
                elif not item.values["active"] and not archived:
                    obj = billcom.archive(collection, bid)
            return obj

        self._billcom_each(otype, [(item, (item, body)) for item, body in pairs], write)


def _release(item):
    """A written record's line stays in the run; its values need not."""
    item.source = item.target = item.values = None


def _outcome(job, future):
    """(job, result, error) of a finished future; errors other than remote or
    mapping ones (bugs) are raised."""
    try:
        return job, future.result(), None
    except (RemoteError, MappingError) as exc:
        return job, None, exc


def _credit_keys(credits):
    """{"<Bill.com document id>|<Bill.com credit id>": amount} of the credits a
    payment carried, kept on its link: what is already in QuickBooks."""
    out = {}
    for credit in credits or ():
        if credit.get("document") is not None:
            key = f"{credit['document'].remote_id}|{credit['credit'].remote_id}"
            out[key] = str(Decimal(out.get(key, 0)) + Decimal(credit["amount"]))
    return out


class _Current:
    def __init__(self, remote_id, version):
        self.remote_id, self.version = remote_id, version


def _request_id(otype, operation, sources):
    """A requestid from the source records and their versions: the same write
    retried (even by another run) carries the same id; a new version a new one."""
    digest = hashlib.sha256(repr((otype, operation, sorted(sources))).encode()).hexdigest()
    return digest[:36]


def _record_level(exc):
    """Errors about one record (validation, duplicates, not found) vs errors about
    the whole connection (auth, throttling, outage), which stop the run."""
    return not isinstance(exc, RemoteError) or exc.scope == RECORD
