"""What callers (the command line, the Odoo add-on) use: preview and run a
connection's sync, plus the connection chores (OAuth, test connection).

    service = SyncService(config, store, on_tokens=save_tokens, progress=report)
    plan = service.preview()        # a Plan: writes nothing anywhere
    result = service.run("cron")    # plans the same way, carrying out each step as it is planned

``progress(done, total, stage)`` is called between write batches; returning
``False`` stops the run cleanly (state ``interrupted``); the next run resumes
where it stopped because links are saved as each write succeeds.

A run that finishes (``done`` or ``partial``) ends with the tie-out: its
verdict is appended to the run's message and kept with the run, and the
``TieOut`` itself is ``result.tie_out``.
"""
import logging

from .planner import Plan, Planner  # noqa: F401  (re-exported for callers)
from .errors import SyncError
from .executor import Executor, RunResult  # noqa: F401
from .memory import fewer_collections
from .reconcile import tie_out as compute_tie_out
from .remote import Remote
from .secrets import Scrubber

_log = logging.getLogger(__name__)


class SyncService:
    def __init__(self, config, store, on_tokens=None, progress=None, logger=None, clock=None,
                 remote=None, rule_book=None, pacing_board=None, token_keeper=None):
        self.config = config
        self.store = store
        self.rule_book = rule_book  # None: the rules as Bill.com documents them (rules.RuleBook)
        self.progress = progress
        self.logger = logger
        # pacing_board / token_keeper: the rate windows and the QBO refresh shared with the
        # other processes of the same accounts (see Remote); None: this process only
        self.remote = remote or Remote(config, on_tokens=on_tokens, clock=clock, pacing_board=pacing_board,
                                       token_keeper=token_keeper)

    def preview(self):
        """The Plan a run would carry out now. Sends no write to either side."""
        with fewer_collections():
            return Planner(self.config, self.store, self.remote, rule_book=self.rule_book).plan()

    def run(self, trigger="manual", user=None, stop_after_writes=None, tie_out=True):
        """Take the connection's lock, plan, apply the plan, log every record;
        then (``tie_out``) compare both books and add the verdict to the run."""
        run_id = self.store.begin_run(trigger, user)
        executor = Executor(self.config, self.store, self.remote, run_id,
                            progress=self.progress, stop_after_writes=stop_after_writes)
        # planned and carried out a type and a page at a time: the run holds the
        # link map and the current page, whatever the size of the company
        with fewer_collections():
            result = executor.run(planner=Planner(self.config, self.store, self.remote, rule_book=self.rule_book))
        result.tie_out = None
        if tie_out and result.state in ("done", "partial"):
            self._add_tie_out(result)
        return result

    def tie_out(self, deadline=None, resume=None):
        """The tie-out now, without running a sync (reads only); with ``deadline``
        (``time.monotonic()`` time) it stops there and says how far it got, and
        ``resume`` (a stopped report's ``resume_state``) goes on from there."""
        with fewer_collections():
            return compute_tie_out(self.config, self.store, self.remote, deadline=deadline, resume=resume)

    def _add_tie_out(self, result):
        """Append the tie-out's verdict to the run's message and keep it with the run.
        A tie-out that cannot be computed (network, a remote error) never fails the run."""
        verdict = agrees = None
        try:
            result.tie_out = self.tie_out()
            verdict, agrees = result.tie_out.verdict(), result.tie_out.agrees
            sentence = verdict + "."
        except Exception as exc:  # the run itself is finished and logged; only the proof is missing
            scrub = Scrubber(source=self.config.secrets)
            detail = str(exc) if isinstance(exc, SyncError) else repr(exc)
            sentence = scrub(f"The tie-out could not be computed: {detail}")
            _log.warning("run %s: %s", result.run_id, sentence)
        result.message = f"{result.message} {sentence}" if result.message else sentence
        try:
            if verdict is None:
                self.store.set_run_message(result.run_id, result.message)
            else:
                self.store.set_run_tie_out(result.run_id, result.message, verdict, agrees)
        except Exception:
            _log.exception("run %s: could not store the tie-out verdict", result.run_id)


def test_billcom_connection(config):
    """Log in to Bill.com and return the organization's name (or raise the exact error)."""
    remote = Remote(config)
    org = remote.billcom.organization()
    return org.get("name") or org.get("organizationName") or config.billcom.organization_id


def qbo_authorization_url(config, redirect_uri, state):
    """The Intuit consent URL for "Connect to QuickBooks"; the caller keeps ``state``
    and refuses a callback that does not bring it back."""
    return Remote(config).qbo.authorization_url(redirect_uri, state, authorize_url=config.qbo.authorize_url)


def qbo_exchange_code(config, code, redirect_uri, realm_id=None, on_tokens=None):
    """Exchange the callback's authorization code; returns the TokenSet (also given to on_tokens)."""
    if realm_id:
        config.qbo.realm_id = realm_id
    return Remote(config, on_tokens=on_tokens).qbo.exchange_code(code, redirect_uri)


def qbo_revoke(config):
    Remote(config).qbo.revoke()


def qbo_company_facts(config, on_tokens=None, **sharing):
    """Company name and the preferences the rules read (class tracking, departments).
    ``sharing``: the ``pacing_board`` and ``token_keeper`` of the other processes."""
    qbo = Remote(config, on_tokens=on_tokens, **sharing).qbo
    prefs = qbo.preferences().get("AccountingInfoPrefs", {})
    info = qbo.company_info()
    return {
        "company_name": info.get("CompanyName"),
        "class_tracking_per_txn": bool(prefs.get("ClassTrackingPerTxn")),
        "class_tracking_per_line": bool(prefs.get("ClassTrackingPerTxnLine")),
        "track_departments": bool(prefs.get("TrackDepartments")),
        "department_terminology": prefs.get("DepartmentTerminology") or "Department",
    }


def qbo_accounts(config, on_tokens=None, **sharing):
    """The QBO chart of accounts, for choosing the bank, deposit, A/P and A/R accounts."""
    qbo = Remote(config, on_tokens=on_tokens, **sharing).qbo
    return [{"id": a["Id"], "name": a.get("FullyQualifiedName") or a["Name"],
             "account_type": a.get("AccountType"), "account_sub_type": a.get("AccountSubType"),
             "classification": a.get("Classification"), "active": a.get("Active", True)}
            for a in qbo.query("select * from Account")]


# what a twin search reads at most on a side (a person waits for the answer)
TWIN_SEARCH_SCAN = 1000
QBO_NAME_FIELD = {"Vendor": "DisplayName", "Customer": "DisplayName"}  # the others are called Name


def twin_candidates(config, object_type, side, text, on_tokens=None, limit=20, **sharing):
    """Records of ``object_type`` on ``side`` ("qbo" or "billcom") whose name or
    number starts with ``text``, for a person to pick the twin of a record
    ("Link to an existing record"): [{"id", "label", "amount", "currency"}].
    Reads only; names are filtered by the remote side where it can, documents
    by reading at most ``TWIN_SEARCH_SCAN`` of them."""
    from .mapping import DOCUMENT_TYPES, ENTITIES, MappingError, read_billcom, read_qbo, record_money
    remote = Remote(config, on_tokens=on_tokens, **sharing)
    entity, collection = ENTITIES[object_type]
    text = (text or "").strip()
    wanted = text.lower()
    if side == "qbo":
        quoted = text.replace("\\", "\\\\").replace("'", "\\'")
        if object_type in DOCUMENT_TYPES:
            where = f" where DocNumber like '{quoted}%'" if text else ""
        else:
            where = f" where {QBO_NAME_FIELD.get(entity, 'Name')} like '{quoted}%'" if text else ""
        objects, read = remote.qbo.query(f"select * from {entity}{where}"), read_qbo
    else:
        filters = [("name", "sw", text)] if text and object_type not in DOCUMENT_TYPES else None
        objects, read = remote.billcom.list(collection, filters=filters), read_billcom
    found = []
    for scanned, obj in enumerate(objects):
        if scanned >= TWIN_SEARCH_SCAN or len(found) >= limit:
            break
        try:
            record = read(object_type, obj)
        except MappingError:
            continue  # a record that cannot be read cannot be a twin either
        if record.deleted:
            continue
        names = [str(record.label)] + [str(part) for part in (record.natural_key or ()) if part]
        if wanted and not any(wanted in name.lower() for name in names):
            continue
        amount, currency = record_money(record)
        found.append({"id": str(record.remote_id), "label": record.label,
                      "amount": amount, "currency": currency})
    return found
