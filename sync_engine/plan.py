"""A Plan: one item per record that needs a decision, and the link map it was
planned against.

The planner builds a Plan; a preview is a Plan, rendered; the executor
carries one out. Directions and the actions that write are named here, for
both of them.
"""
from collections import defaultdict
from dataclasses import dataclass, field

from .config import OBJECT_TYPES
from .store import RunLine

# Plan actions that write: create, update, and ending a twin (archive a
# document, void a payment) after its source ended.
WRITE_ACTIONS = ("create", "update", "archive", "void")
QBO_TO_BC = "qbo_to_billcom"
BC_TO_QBO = "billcom_to_qbo"
NO_DIRECTION = "none"


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
    """The links of one side by (object type, id), kept per object type; a
    WrittenLink is kept as its twin's id alone."""
    __slots__ = ("qbo", "types")

    def __init__(self, qbo):
        self.qbo = qbo      # keyed by QuickBooks ids (else Bill.com ids)
        self.types = {}

    def __setitem__(self, key, link):
        otype, rid = key
        if isinstance(link, WrittenLink):
            link = link.billcom_id if self.qbo else link.qbo_id
        self.types.setdefault(otype, {})[rid] = link

    def _link(self, otype, rid, found):
        if isinstance(found, str):
            return WrittenLink(otype, rid, found) if self.qbo else WrittenLink(otype, found, rid)
        return found

    def get(self, key, default=None):
        found = self.types.get(key[0])
        found = found.get(key[1]) if found else None
        return default if found is None else self._link(key[0], key[1], found)

    def twin_id(self, otype, rid):
        """The id of the linked twin on the other side, or None: what resolving
        a reference needs, without handing out a WrittenLink for it."""
        found = self.types.get(otype)
        found = found.get(rid) if found else None
        if found is None or isinstance(found, str):
            return found
        return found.billcom_id if self.qbo else found.qbo_id

    def __getitem__(self, key):
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key):
        found = self.types.get(key[0])
        return bool(found) and key[1] in found

    def __len__(self):
        return sum(len(links) for links in self.types.values())

    def of_type(self, otype):
        """The links of one object type."""
        return [self._link(otype, rid, found) for rid, found in (self.types.get(otype) or {}).items()]

    def values(self):
        return [link for otype in list(self.types) for link in self.of_type(otype)]


class LinkIndex:
    """The link map in memory, with lookups both ways: ``by_qbo[(object type,
    QuickBooks id)]``, ``by_bc[(object type, Bill.com id)]``."""

    def __init__(self, links=()):
        self.by_qbo, self.by_bc = _Side(qbo=True), _Side(qbo=False)
        for link in links:
            self.add(link)

    def add(self, link):
        self.by_qbo[(link.object_type, link.qbo_id)] = link
        self.by_bc[(link.object_type, link.billcom_id)] = link

    def has(self, object_type, side, remote_id):
        return (object_type, remote_id) in (self.by_qbo if side == "qbo" else self.by_bc)

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
