"""The state the engine keeps between runs, behind a small interface.

``Store`` is what the engine needs: the link map (QBO id <-> Bill.com id per
object type, with the versions and the values last synced), cursors for
incremental reads, the run log, a per-connection lock so two runs never sync
the same connection at once, and the records to re-read after a failure.

``SQLiteStore`` is the embedded default. The Odoo add-on implements the same
interface over its models. Every method works on batches: no call per record.
"""
import json
import os
import sqlite3
import socket
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from .errors import SyncAlreadyRunning


class Link:
    """A QuickBooks record and its Bill.com twin, with what each side held at the
    last sync. A store hands the snapshot over as the JSON text it keeps, parsed
    only when read: a run reads the links of each page it plans but looks at the
    values of the few records that changed."""
    __slots__ = ("object_type", "qbo_id", "billcom_id", "qbo_version", "billcom_version", "stored_snapshot",
                 "last_synced", "created_in")

    def __init__(self, object_type, qbo_id, billcom_id, qbo_version=None, billcom_version=None, snapshot=None,
                 last_synced=None, created_in=None):
        self.object_type, self.qbo_id, self.billcom_id = object_type, qbo_id, billcom_id
        self.qbo_version = qbo_version           # QBO SyncToken after the last sync
        self.billcom_version = billcom_version   # Bill.com updatedTime after the last sync
        self.stored_snapshot = snapshot          # a dict, or its JSON text as a store keeps it
        self.last_synced = last_synced
        # the executor whose create made the link (a token of its own; kept by the
        # store from the link's first save): how a run knows its own creates again
        self.created_in = created_in

    @property
    def snapshot(self):
        """The canonical values both sides held at the last sync (a dict, or None)."""
        value = self.stored_snapshot
        return json.loads(value) if isinstance(value, str) else value

    @snapshot.setter
    def snapshot(self, value):
        self.stored_snapshot = value

    def key(self):
        return (self.object_type, self.qbo_id, self.billcom_id)

    def _fields(self):
        return (self.object_type, self.qbo_id, self.billcom_id, self.qbo_version, self.billcom_version,
                self.snapshot, self.last_synced)

    def __eq__(self, other):
        return isinstance(other, Link) and self._fields() == other._fields()

    __hash__ = None

    def __repr__(self):
        return (f"Link({self.object_type!r}, {self.qbo_id!r}, {self.billcom_id!r}, {self.qbo_version!r}, "
                f"{self.billcom_version!r}, {self.snapshot!r}, {self.last_synced!r})")


@dataclass
class RunLine:
    object_type: str
    direction: str          # 'qbo_to_billcom' | 'billcom_to_qbo' | 'none'
    action: str             # create | update | link | skip | conflict | error
    record: str             # what a finance user recognises: "Bill NW-2025-0042 (Northwind)"
    qbo_id: str = None
    billcom_id: str = None
    rule_code: str = None
    message: str = None
    field: str = None
    remote_error: str = None
    diff: dict = None       # field -> [old, new]
    state: str = "done"     # planned | done | failed
    amount: Decimal = None  # the document's total or the payment's amount, when it has one
    currency: str = None    # of ``amount``: "USD", "CAD"...

    def as_dict(self):
        """The line as JSON-ready values (the amount as exact text)."""
        out = asdict(self)
        if self.amount is not None:
            out["amount"] = str(self.amount)
        return out


@dataclass
class RunSummary:
    run_id: int
    trigger: str
    user: str
    started: str
    ended: str
    state: str
    counts: dict = field(default_factory=dict)
    message: str = None


class Store:
    """Interface the engine uses. Implementations must make ``save_links``
    durable before returning: the executor calls it right after each write
    succeeds, so a crash afterwards never loses a link."""

    # links
    def load_links(self, object_types=None):
        """All links (optionally of some types) as a list of ``Link``."""
        raise NotImplementedError

    def find_links(self, object_type, side, ids):
        """The links of ``object_type`` whose ``side`` ("qbo" or "billcom") id is
        one of ``ids``. A store should answer from an index; this default reads
        every link of the type."""
        wanted = set(ids)
        return [link for link in self.load_links([object_type])
                if (link.qbo_id if side == "qbo" else link.billcom_id) in wanted]

    def has_links(self):
        """Whether the connection has any link (a first sync has none)."""
        return bool(self.load_links())

    def count_links(self):
        """How many links each object type has: ``{object_type: count}``."""
        return dict(Counter(link.object_type for link in self.load_links()))

    def link_page(self, object_type, after=None, limit=1000):
        """Up to ``limit`` links of ``object_type`` in QuickBooks id order, from the
        first whose id sorts after ``after`` (from the first of all when None). A
        store should answer from its index; this default reads every link of the type."""
        links = sorted(self.load_links([object_type]), key=lambda link: link.qbo_id)
        return [link for link in links if after is None or link.qbo_id > after][:limit]

    def link_pages(self, object_type, size=1000, after=None):
        """Every link of ``object_type`` (from the first whose QuickBooks id sorts
        after ``after``), a page of ``size`` at a time: a reader that walks a
        type this way holds one page, whatever the company's size."""
        while True:
            page = self.link_page(object_type, after, size)
            if page:
                yield page
            if len(page) < size:
                return
            after = page[-1].qbo_id

    def save_links(self, links):
        raise NotImplementedError

    # cursors
    def get_cursors(self):
        raise NotImplementedError

    def set_cursors(self, cursors):
        raise NotImplementedError

    # records to read again next run (failed or held back)
    def get_retries(self):
        raise NotImplementedError

    def set_retries(self, retries):
        raise NotImplementedError

    # runs
    def begin_run(self, trigger, user=None):
        """Take the connection's lock and open a run; raise SyncAlreadyRunning
        if another live run holds it."""
        raise NotImplementedError

    def add_run_lines(self, run_id, lines):
        raise NotImplementedError

    def update_progress(self, run_id, done, total, stage=None):
        pass

    def end_run(self, run_id, state, counts, message=None):
        """Close the run and release the lock."""
        raise NotImplementedError

    def set_run_tie_out(self, run_id, message, verdict, agrees):
        """Keep the tie-out of a closed run: its verdict line and whether the books
        agree (the message already ends with the verdict). Stores that keep no
        more than the message need not override this."""
        self.set_run_message(run_id, message)

    def set_run_message(self, run_id, message):
        """Replace a closed run's message (the tie-out's verdict is added after the run ends)."""
        raise NotImplementedError


SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    object_type TEXT NOT NULL,
    qbo_id TEXT NOT NULL,
    billcom_id TEXT NOT NULL,
    qbo_version TEXT,
    billcom_version TEXT,
    snapshot TEXT,
    last_synced TEXT,
    PRIMARY KEY (object_type, qbo_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS links_billcom ON links (object_type, billcom_id);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS retries (side TEXT, object_type TEXT, remote_id TEXT,
    PRIMARY KEY (side, object_type, remote_id));
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    trigger TEXT, user TEXT, started TEXT, ended TEXT,
    state TEXT, counts TEXT, message TEXT,
    progress_done INTEGER DEFAULT 0, progress_total INTEGER DEFAULT 0, stage TEXT
);
CREATE TABLE IF NOT EXISTS run_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL, object_type TEXT, direction TEXT, action TEXT,
    record TEXT, qbo_id TEXT, billcom_id TEXT, rule_code TEXT, message TEXT,
    field TEXT, remote_error TEXT, diff TEXT, state TEXT, amount TEXT, currency TEXT
);
CREATE INDEX IF NOT EXISTS run_lines_run ON run_lines (run_id);
CREATE TABLE IF NOT EXISTS lock (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    run_id INTEGER, host TEXT, pid INTEGER, taken REAL
);
"""


def _now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def in_list(values):
    """``"?,?,…"`` and ``values`` (at least one) padded to the next power of
    two by repeating the last (a value twice in an IN list matches its row
    once). SQLite prepares a statement for each distinct text and Python's
    sqlite3 keeps the last 128 prepared for the connection's life: IN lists
    of every length a large run meets held up to 128 statements of up to 500
    values, about 100 KB each. Padded, ten lengths serve every look-up."""
    values = list(values)
    size = 1 << (len(values) - 1).bit_length()
    return ",".join("?" * size), values + values[-1:] * (size - len(values))


def _serialized(method):
    """One store call at a time within a process (an in-memory database is one
    connection shared by all threads); other processes are kept apart by SQLite."""
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)
    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


class SQLiteStore(Store):
    """Embedded store: one SQLite file per connection (``:memory:`` for tests)."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.RLock()
        self._local = threading.local()
        self._memory = None
        if path == ":memory:":
            self._memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db().executescript(SCHEMA)
        self._upgrade()

    def _upgrade(self):
        """Columns added since a store file was made (the schema above only makes missing tables)."""
        db = self._db()
        for table, columns in (("run_lines", ("amount", "currency")), ("links", ("created_in",))):
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                if column not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    def _db(self):
        if self._memory is not None:
            return self._memory
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def close(self):
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # ------------------------------------------------------------ links
    @_serialized
    def load_links(self, object_types=None):
        if object_types:
            return self._read_links("object_type IN (%s)" % ",".join("?" * len(object_types)), object_types)
        return self._read_links("1", ())

    @_serialized
    def find_links(self, object_type, side, ids):
        ids = list(ids)
        if not ids:
            return []
        column = "qbo_id" if side == "qbo" else "billcom_id"
        marks, ids = in_list(ids)
        return self._read_links(f"object_type = ? AND {column} IN ({marks})", (object_type, *ids))

    @_serialized
    def has_links(self):
        return bool(self._read_links("1 LIMIT 1", ()))

    @_serialized
    def count_links(self):
        return dict(self._db().execute("SELECT object_type, COUNT(*) FROM links GROUP BY object_type"))

    @_serialized
    def link_page(self, object_type, after=None, limit=1000):
        # keyset on the primary key (object_type, qbo_id): each page is one index range
        if after is None:
            return self._read_links("object_type = ? ORDER BY qbo_id LIMIT ?", (object_type, limit))
        return self._read_links("object_type = ? AND qbo_id > ? ORDER BY qbo_id LIMIT ?",
                                (object_type, after, limit))

    def _read_links(self, condition, args):
        sql = ("SELECT object_type, qbo_id, billcom_id, qbo_version, billcom_version, snapshot, last_synced,"
               f" created_in FROM links WHERE {condition}")
        return [Link(t, q, b, qv, bv, s or None, ls, ci)
                for t, q, b, qv, bv, s, ls, ci in self._db().execute(sql, tuple(args))]

    @_serialized
    def save_links(self, links):
        if not links:
            return
        rows = [(l.object_type, l.qbo_id, l.billcom_id, l.qbo_version, l.billcom_version,
                 _snapshot_text(l),
                 l.last_synced or _now_iso(), l.created_in) for l in links]
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(  # created_in is kept from the first save
                "INSERT INTO links (object_type, qbo_id, billcom_id, qbo_version, billcom_version,"
                " snapshot, last_synced, created_in) VALUES (?,?,?,?,?,?,?,?)"
                " ON CONFLICT (object_type, qbo_id) DO UPDATE SET billcom_id=excluded.billcom_id,"
                " qbo_version=excluded.qbo_version, billcom_version=excluded.billcom_version,"
                " snapshot=excluded.snapshot, last_synced=excluded.last_synced", rows)
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise

    # ---------------------------------------------------------- cursors
    @_serialized
    def get_cursors(self):
        return dict(self._db().execute("SELECT name, value FROM cursors"))

    @_serialized
    def set_cursors(self, cursors):
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO cursors (name, value) VALUES (?, ?) ON CONFLICT (name)"
                       " DO UPDATE SET value=excluded.value", list(cursors.items()))
        db.execute("COMMIT")

    @_serialized
    def get_retries(self):
        return [tuple(r) for r in self._db().execute("SELECT side, object_type, remote_id FROM retries")]

    @_serialized
    def set_retries(self, retries):
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM retries")
        db.executemany("INSERT OR IGNORE INTO retries VALUES (?, ?, ?)", list(retries))
        db.execute("COMMIT")

    # ------------------------------------------------------------- runs
    @_serialized
    def begin_run(self, trigger, user=None):
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT run_id, host, pid FROM lock WHERE id = 1").fetchone()
            if row and row[0] is not None:
                run_id, host, pid = row
                holder_alive = host != socket.gethostname() or _pid_alive(pid)
                if holder_alive:
                    raise SyncAlreadyRunning(
                        f"A sync is already running for this connection (run {run_id}); "
                        "wait for it to finish.")
                # the holder died without closing its run: mark it and take over
                db.execute("UPDATE runs SET state='interrupted', ended=? WHERE id=? AND ended IS NULL",
                           (_now_iso(), run_id))
            cur = db.execute("INSERT INTO runs (trigger, user, started, state) VALUES (?,?,?,?)",
                             (trigger, user, _now_iso(), "running"))
            run_id = cur.lastrowid
            db.execute("INSERT INTO lock (id, run_id, host, pid, taken) VALUES (1,?,?,?,?)"
                       " ON CONFLICT (id) DO UPDATE SET run_id=excluded.run_id, host=excluded.host,"
                       " pid=excluded.pid, taken=excluded.taken",
                       (run_id, socket.gethostname(), os.getpid(), time.time()))
            db.execute("COMMIT")
            return run_id
        except Exception:
            db.execute("ROLLBACK")
            raise

    @_serialized
    def add_run_lines(self, run_id, lines):
        if not lines:
            return
        rows = [(run_id, l.object_type, l.direction, l.action, l.record, l.qbo_id, l.billcom_id,
                 l.rule_code, l.message, l.field, l.remote_error,
                 json.dumps(l.diff, sort_keys=True, default=str) if l.diff else None, l.state,
                 str(l.amount) if l.amount is not None else None, l.currency)
                for l in lines]
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO run_lines (run_id, object_type, direction, action, record, qbo_id,"
                       " billcom_id, rule_code, message, field, remote_error, diff, state, amount, currency)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.execute("COMMIT")

    @_serialized
    def update_progress(self, run_id, done, total, stage=None):
        self._db().execute("UPDATE runs SET progress_done=?, progress_total=?, stage=? WHERE id=?",
                           (done, total, stage, run_id))

    @_serialized
    def end_run(self, run_id, state, counts, message=None):
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE runs SET ended=?, state=?, counts=?, message=? WHERE id=?",
                   (_now_iso(), state, json.dumps(counts, sort_keys=True), message, run_id))
        db.execute("UPDATE lock SET run_id=NULL, pid=NULL WHERE id=1 AND run_id=?", (run_id,))
        db.execute("COMMIT")

    @_serialized
    def set_run_message(self, run_id, message):
        self._db().execute("UPDATE runs SET message=? WHERE id=?", (message, run_id))

    # ---------------------------------------------------- reading the log
    @_serialized
    def runs(self):
        rows = self._db().execute("SELECT id, trigger, user, started, ended, state, counts, message"
                                  " FROM runs ORDER BY id")
        return [RunSummary(i, t, u, s, e, st, json.loads(c) if c else {}, m)
                for i, t, u, s, e, st, c, m in rows]

    @_serialized
    def run_lines(self, run_id):
        rows = self._db().execute(
            "SELECT object_type, direction, action, record, qbo_id, billcom_id, rule_code, message,"
            " field, remote_error, diff, state, amount, currency FROM run_lines WHERE run_id=? ORDER BY id",
            (run_id,))
        return [RunLine(*r[:10], diff=json.loads(r[10]) if r[10] else None, state=r[11],
                        amount=Decimal(r[12]) if r[12] is not None else None, currency=r[13]) for r in rows]


def _snapshot_text(link):
    """A link's snapshot as the JSON text the store keeps (as loaded, when unchanged)."""
    value = link.stored_snapshot
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)
