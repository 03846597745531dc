"""A Plan: one item per record that needs a decision, and the link map it was
planned against.

The planner builds a Plan; a preview is a Plan, rendered; the executor
carries one out. Directions and the actions that write are named here, for
both of them.
"""
from collections import defaultdict
from dataclasses import dataclass, field

from .config import OBJECT_TYPES
from .mapping.common import LIST_TYPES, NAME_TYPES
from .records import Record
from .store import RunLine

# Plan actions that write: create, update, and ending a twin (archive a
# document, void a payment) after its source ended.
WRITE_ACTIONS = ("create", "update", "archive", "void")
QBO_TO_BC = "qbo_to_billcom"
BC_TO_QBO = "billcom_to_qbo"
NO_DIRECTION = "none"

# Records that documents and payments refer to by the thousand: the twins of
# those a type's pages name are kept from one page of the type to the next
# (``_Side.twins``), at most TWINS_KEPT a side, rather than read again a page at
# a time. The bills of a mid-size company name about 2,900 of them (vendors,
# accounts, items, terms); past the bound, pages read again what is no longer kept.
REFERENCED_TYPES = frozenset(LIST_TYPES) | frozenset(NAME_TYPES)
TWINS_KEPT = 4096


class WrittenLink:
    """A link a run's own create added after its planning began. The run keeps
    only the twin's id for it (``_Side``: no later write of the same run needs
    its versions or values; the store has them all), so the link map of a large
    first sync stays small; a look-up hands it out as a WrittenLink. Planning
    counts such a record as the create it planned, never as a link it found,
    so a run decides what its preview showed."""
    __slots__ = ("object_type", "qbo_id", "billcom_id")
    qbo_version = billcom_version = snapshot = last_synced = None

    def __init__(self, object_type, qbo_id, billcom_id):
        self.object_type, self.qbo_id, self.billcom_id = object_type, qbo_id, billcom_id

    def key(self):
        return (self.object_type, self.qbo_id, self.billcom_id)


class _Side:
    """The links of one side by (object type, id): those this run added
    (``pinned``, kept for the whole run; a WrittenLink as its twin's id alone)
    and those read from the store for the current step (``seen``, None for an
    id known to have no link), dropped by ``LinkIndex.evict``; and the twins'
    ids of list and party records the pages of one type name (``twins``), for
    resolving references, dropped by ``LinkIndex.forget_twins``."""
    __slots__ = ("qbo", "index", "types", "seen", "twins", "twins_held")

    def __init__(self, qbo, index):
        self.qbo = qbo      # keyed by QuickBooks ids (else Bill.com ids)
        self.index = index
        self.types = {}     # pinned: {object type: {id: Link or twin id}}
        self.seen = {}      # read from the store: {object type: {id: Link or None}}
        self.twins = {}     # kept from page to page: {referenced type: {id: twin's id}}
        self.twins_held = 0

    def __setitem__(self, key, link):
        otype, rid = key
        if isinstance(link, WrittenLink):
            link = link.billcom_id if self.qbo else link.qbo_id
        self.types.setdefault(otype, {})[rid] = link
        self.twin_changed(otype, rid, link)

    def twin_changed(self, otype, rid, link):
        """A kept twin follows its link (``link``: a Link or the twin's id)."""
        kept = self.twins.get(otype)
        if kept is not None and rid in kept:
            kept[rid] = link if isinstance(link, str) else (link.billcom_id if self.qbo else link.qbo_id)

    def _link(self, otype, rid, found):
        if isinstance(found, str):
            return WrittenLink(otype, rid, found) if self.qbo else WrittenLink(otype, found, rid)
        return found

    def _find(self, otype, rid):
        """The pinned entry or stored link of ``rid`` (a Link, a twin id, or None)."""
        pinned = self.types.get(otype)
        if pinned:
            found = pinned.get(rid)
            if found is not None:
                return found
        seen = self.seen.get(otype)
        if seen is not None and rid in seen:
            return seen[rid]
        if not self.index.stored:
            return None
        self.index.fetch(otype, self.qbo, [rid])
        return self.seen[otype][rid]

    def get(self, key, default=None):
        found = self._find(key[0], key[1])
        return default if found is None else self._link(key[0], key[1], found)

    def twin_id(self, otype, rid):
        """The id of the linked twin on the other side, or None: what resolving
        a reference needs, without handing out a WrittenLink for it."""
        kept = self.twins.get(otype)
        if kept is not None:
            twin = kept.get(rid)
            if twin is not None:
                return twin
        found = self._find(otype, rid)
        if found is None or isinstance(found, str):
            twin = found
        else:
            twin = found.billcom_id if self.qbo else found.qbo_id
        if twin is not None and otype in REFERENCED_TYPES:
            self._keep_twin(otype, rid, twin)
        return twin

    def _keep_twin(self, otype, rid, twin):
        if self.twins_held >= TWINS_KEPT:   # bounded: start over rather than grow
            self.forget_twins()
        self.twins.setdefault(otype, {})[rid] = twin
        self.twins_held += 1

    def forget_twins(self):
        self.twins.clear()
        self.twins_held = 0

    def kept_twin(self, otype, rid):
        kept = self.twins.get(otype)
        return kept is not None and rid in kept

    def __getitem__(self, key):
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key):
        return self._find(key[0], key[1]) is not None

    def _unknown(self, otype, rids):
        """Those of ``rids`` neither pinned nor read from the store yet."""
        pinned, seen = self.types.get(otype) or {}, self.seen.get(otype) or {}
        return [rid for rid in rids if rid not in pinned and rid not in seen]

    def of_type(self, otype):
        """Every link of one object type: the pinned ones, and the store's the
        run has not replaced (read for the occasion, not kept)."""
        pinned = self.types.get(otype) or {}
        out = [self._link(otype, rid, found) for rid, found in pinned.items()]
        if self.index.stored:
            batch = self.index.batch
            for link in self.index.store.load_links([otype]):
                rid = link.qbo_id if self.qbo else link.billcom_id
                if rid not in pinned:
                    written = batch is not None and link.created_in == batch
                    out.append(WrittenLink(otype, link.qbo_id, link.billcom_id) if written else link)
        return out


class LinkIndex:
    """The link map, with lookups both ways: ``by_qbo[(object type, QuickBooks
    id)]``, ``by_bc[(object type, Bill.com id)]``.

    Over a store (``LinkIndex.over``), links are read a step at a time: the
    planner asks for the ids of a page at once (``prefetch``), any other look-up
    reads its one link, and ``evict`` forgets them when the step is carried
    out, so a run holds the links of its current page, never every link of the
    connection. A link this executor's create added is known again from the
    store by its ``created_in`` token (``batch``) and handed out as a
    WrittenLink. Links the planner adds (matches it planned) and links the run
    updated (as planning found them) are kept for the whole run."""

    FETCH_CHUNK = 500  # ids a store query asks for at once

    def __init__(self, links=(), store=None):
        self.store = store
        self.stored = False   # whether the store may hold a link (a first sync starts with none)
        self.batch = None     # the token the executor's creates carry (``Link.created_in``)
        self.by_qbo, self.by_bc = _Side(qbo=True, index=self), _Side(qbo=False, index=self)
        for link in links:
            self.add(link)

    @classmethod
    def over(cls, store):
        """The links of ``store``, read as they are asked for."""
        index = cls(store=store)
        index.stored = store.has_links()
        return index

    def add(self, link):
        self.by_qbo[(link.object_type, link.qbo_id)] = link
        self.by_bc[(link.object_type, link.billcom_id)] = link

    def has(self, object_type, side, remote_id):
        return (object_type, remote_id) in (self.by_qbo if side == "qbo" else self.by_bc)

    # ------------------------------------------------------------ the store
    def fetch(self, otype, qbo_side, rids):
        """Read the links of ``rids`` (ids of one side) from the store into both sides."""
        found = (self.by_qbo if qbo_side else self.by_bc).seen.setdefault(otype, {})
        for rid in rids:
            found[rid] = None
        for link in self.store.find_links(otype, "qbo" if qbo_side else "billcom", rids):
            self._seen(link, written=self.batch is not None and link.created_in == self.batch)

    def _seen(self, link, written):
        """Keep a link read from the store (or just saved) until ``evict``; one this
        executor's create added is kept as its twin's id, a WrittenLink when asked for."""
        otype = link.object_type
        self.by_qbo.seen.setdefault(otype, {})[link.qbo_id] = link.billcom_id if written else link
        self.by_bc.seen.setdefault(otype, {})[link.billcom_id] = link.qbo_id if written else link
        if otype in REFERENCED_TYPES:
            self.by_qbo.twin_changed(otype, link.qbo_id, link.billcom_id)
            self.by_bc.twin_changed(otype, link.billcom_id, link.qbo_id)

    def created(self, link):
        """A link this run's own create added, now in the store (or kept here without one)."""
        if self.store is None:
            self.add(WrittenLink(link.object_type, link.qbo_id, link.billcom_id))
            return
        self.stored = True
        self._seen(link, written=True)

    def prefetch(self, side, records):
        """Read at once the links of ``records`` (read on ``side``) and of what they
        refer to, but for references whose twins are kept from an earlier page."""
        if not self.stored or not records:
            return
        wanted = {}
        twins = (self.by_qbo if side == "qbo" else self.by_bc).twins
        for rec in records:
            if not isinstance(rec, Record):
                continue  # a record that could not be read: it gets an error line, no link
            wanted.setdefault(rec.object_type, set()).add(rec.remote_id)
            for ref in rec.refs:
                kept = twins.get(ref.object_type)   # _Side.kept_twin, asked of every reference
                if kept is None or ref.remote_id not in kept:
                    wanted.setdefault(ref.object_type, set()).add(ref.remote_id)
        for otype, rids in wanted.items():
            self.prefetch_ids(side, otype, rids)

    def prefetch_ids(self, side, otype, rids):
        """Read at once the links of ``rids`` (``side`` ids of ``otype``) not known yet."""
        if not self.stored:
            return
        qbo_side = side == "qbo"
        unknown = (self.by_qbo if qbo_side else self.by_bc)._unknown(otype, [rid for rid in rids if rid])
        for start in range(0, len(unknown), self.FETCH_CHUNK):
            self.fetch(otype, qbo_side, unknown[start:start + self.FETCH_CHUNK])

    def known(self, links):
        """What the map holds for each of ``links`` (about to be saved), by either
        side's id: asked in one query per side and type, before the store has them."""
        for otype in {link.object_type for link in links}:
            self.prefetch_ids("qbo", otype, [l.qbo_id for l in links if l.object_type == otype])
            self.prefetch_ids("billcom", otype, [l.billcom_id for l in links if l.object_type == otype])
        return [self.by_qbo.get((link.object_type, link.qbo_id))
                or self.by_bc.get((link.object_type, link.billcom_id)) for link in links]

    def evict(self):
        """Forget the links read from the store (a step has been carried out)."""
        self.by_qbo.seen.clear()
        self.by_bc.seen.clear()

    def forget_twins(self):
        """Forget the twins kept from page to page (the planner moves to another type)."""
        self.by_qbo.forget_twins()
        self.by_bc.forget_twins()

    # ------------------------------------------------------------- tokens
    @staticmethod
    def written(link):
        """Whether ``link`` was added by this run's own create (``WrittenLink``)."""
        return isinstance(link, WrittenLink)

    def qbo_token(self, ref):
        return f"{ref.object_type}|{ref.remote_id}"

    def billcom_token(self, ref):
        qbo_id = self.by_bc.twin_id(ref.object_type, ref.remote_id)
        if qbo_id is not None:
            return f"{ref.object_type}|{qbo_id}"
        return f"{ref.object_type}|bc:{ref.remote_id}"

    def token(self, record):
        return self.qbo_token if record.side == "qbo" else self.billcom_token

    def to_billcom(self, token):
        kind, rid = token.split("|", 1)
        if rid.startswith("bc:"):
            return rid[3:]
        return self.by_qbo.twin_id(kind, rid)

    def to_qbo(self, token):
        kind, rid = token.split("|", 1)
        if rid.startswith("bc:"):
            return self.by_bc.twin_id(kind, rid[3:])
        return rid


@dataclass
class PlanItem:
    """One planned action with what the executor needs to carry it out. The
    executor decides from these fields only, never from the rule code."""
    line: RunLine
    source: object = None        # Record on the side the change comes from
    target: object = None        # Record on the other side, when known (updates, links)
    values: dict = None          # neutral values to write
    retry_next_run: bool = False  # held: read it again next run even if it did not change
    drop_classes: bool = False    # write it without classes (rule class_per_line)

    def __post_init__(self):
        if self.line.action == "conflict":  # a held record is looked at again every run
            self.retry_next_run = True

    @property
    def object_type(self):
        return self.line.object_type


@dataclass
class Plan:
    items: list = field(default_factory=list)
    cursors: dict = field(default_factory=dict)
    facts: dict = field(default_factory=dict)
    full_read: dict = field(default_factory=dict)
    retries: list = field(default_factory=list)
    links: object = None          # the link map as planning saw it (matches included)
    billcom_window: object = None  # Bill.com records seen since planning began (billcom_cursors)
    qbo_window: object = None      # the same for QuickBooks (qbo_cursor)
    read: int = 0                  # records read from both sides

    @property
    def lines(self):
        return [item.line for item in self.items]

    def writes(self):
        return [i for i in self.items if i.line.action in WRITE_ACTIONS]

    def counts(self):
        """{(object_type, direction, action): n}"""
        out = defaultdict(int)
        for item in self.items:
            out[(item.line.object_type, item.line.direction, item.line.action)] += 1
        return dict(out)

    def render(self, width=100):
        """The preview as text: counts per object type and direction, then every
        line that is not a plain create (skips with their rule, conflicts, updates
        with their field differences, errors)."""
        out = ["Plan: %d record(s), %d to create or update" % (len(self.items), len(self.writes()))]
        mode = self.facts.get("payment_sync_mode")
        if mode:
            out.append(f"Payment sync: {mode.replace('_', '-')}. "
                       f"Credit memos: {'sync' if self.facts.get('credit_memos_sync') else 'do not sync'}.")
        out.append(f"{'object type':<18}{'direction':<18}{'action':<10}{'count':>7}")
        for (otype, direction, action), n in sorted(self.counts().items(),
                                                    key=lambda kv: (OBJECT_TYPES.index(kv[0][0]), kv[0][1:])):
            out.append(f"{otype:<18}{direction:<18}{action:<10}{n:>7}")
        detail = [i.line for i in self.items if i.line.action != "create" or i.line.rule_code]
        if detail:
            out.append("")
            out.append("Details:")
        for line in detail:
            why = f"[{line.rule_code}] " if line.rule_code else ""
            out.append(f"- {line.action:<8} {line.record}: {why}{line.message or ''}".rstrip()[:width * 3])
            for name, (old, new) in sorted((line.diff or {}).items()):
                out.append(f"      {name}: {old!r} -> {new!r}")
        return "\n".join(out)
