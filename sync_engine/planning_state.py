"""What the planner keeps while it plans: one object per run (``RunState``),
one per object type (``TypeState``), and the connection facts (``Facts``).

The planner itself holds only its configuration; everything a plan learns
while reading lives here, so a new plan starts from nothing left over.
"""
from collections import defaultdict

from .qbo_cursor import StampBook


class RunState:
    """One plan's memory, from ``Planner.begin`` to its last step."""

    def __init__(self, cursors):
        self.cursors = cursors          # the store's cursors when the plan began
        self.bc_since = cursors.get("billcom")
        self.full_billcom_read = not self.bc_since
        self.cdc = None                 # object type -> QuickBooks changes, on an incremental day
        self.retries = defaultdict(list)  # object type -> [(side, remote id)] that failed last time
        self.planned = set()            # (object_type, side, remote_id) of records to be created this run
        self.gone = {}                  # (object_type, side, remote_id) -> why a synced document ended this run
        self.bc_documents = {}          # bill / invoice -> Bill.com records read this run that apply credits
        self.qbo_names = StampBook()    # (vendor / customer, name key) read in QuickBooks this run
        self.memo_room = {}             # credit memo -> (customer, credit drawn in Bill.com not yet in QuickBooks)
        self.attachment_index = None    # (entity, id) -> attachments, read once when first needed


class Facts(dict):
    """Connection facts; QBO's class-tracking preferences are read only when a
    decision needs them, so a quiet day costs no extra request."""

    def __init__(self, remote, values):
        super().__init__(values)
        self._remote = remote

    def __missing__(self, key):
        if key in ("class_per_line", "class_per_txn"):
            prefs = self._remote.qbo.preferences().get("AccountingInfoPrefs", {})
            self["class_per_line"] = bool(prefs.get("ClassTrackingPerTxnLine"))
            self["class_per_txn"] = bool(prefs.get("ClassTrackingPerTxn"))
            return self[key]
        raise KeyError(key)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default


class TypeState:
    """What planning one object type keeps from page to page: the Bill.com
    side (read whole: what changed there), and of the QuickBooks side only
    what the Bill.com side may still ask for."""

    def __init__(self, otype, plan, bc_records):
        self.otype, self.links, self.facts = otype, plan.links, plan.facts
        self.bc_records = bc_records
        self.b_ok, self.bc_by_id, self.bc_excluded = [], {}, []
        self.duplicates = {}
        self.bc_unlinked, self.bc_keys, self.q_unlinked = {}, set(), {}
        self.handled_bc, self.reported = set(), set()
        self.deferred = []          # sub-customers, planned after every page
        # payments
        self.b_by_origin, self.origins, self.bc_ids = {}, set(), set()
        self.q_by_id, self.q_by_origin = {}, {}


def newest_per_id(records):
    """One record per id (CDC may return an object more than once); the newest wins."""
    out = {}
    for rec in records:
        out[rec.remote_id] = rec
    return list(out.values())
