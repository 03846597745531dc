"""The bridge between the Odoo models and the sync engine.

Everything the models, wizards and controllers need from ``sync_engine`` goes
through here (no other module of the add-on imports the engine): building the
engine's account objects, converting its timestamps, run lines and counts into
Odoo values, reading QuickBooks' company facts, and keeping secrets out of
anything that is stored or shown.
"""
import datetime
import decimal
import json

from ..sync_engine import config as engine_config  # noqa: F401  (re-exported)
from ..sync_engine import errors as engine_errors  # noqa: F401  (re-exported)
from ..sync_engine import rules as engine_rules  # noqa: F401  (re-exported)
from ..sync_engine import service as engine_service
from ..sync_engine import stages  # noqa: F401  (a run's stage in words)
from ..sync_engine.mapping import (PAYMENT_TYPES, search_text_of,  # noqa: F401  (re-exported)
                                   types_depending_on)
from ..sync_engine.pacing import PacingBoard, moved_stamp, window_wait  # noqa: F401  (implemented over PostgreSQL)
from ..sync_engine.tokens import StoredTokens, TokenKeeper  # noqa: F401  (implemented over PostgreSQL)
from ..sync_engine.plan import BC_TO_QBO, NO_DIRECTION, QBO_TO_BC
from ..sync_engine.secrets import Scrubber  # noqa: F401  (the models mask secrets with the engine's)
from ..sync_engine.store import Link, Store  # noqa: F401  (the Odoo store implements the engine's)

ALREADY_RUNNING = "A sync is already running for this connection."


def service():
    """The engine's service module: preview/run and the connection chores."""
    return engine_service


def epoch_to_datetime(value):
    """Engine timestamps (epoch seconds) -> naive UTC datetime, as Odoo stores them."""
    if value in (None, False, ""):
        return False
    return datetime.datetime.fromtimestamp(float(value), tz=datetime.UTC).replace(tzinfo=None)


def datetime_to_epoch(value):
    if not value:
        return None
    return value.replace(tzinfo=datetime.UTC).timestamp()


def iso_to_datetime(value):
    """An ISO 8601 string from the engine -> naive UTC datetime (False when unreadable)."""
    if not value:
        return False
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        try:
            moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return False
    if moment.tzinfo:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def datetime_to_iso(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def placeholder_billcom():
    """A Bill.com side for QuickBooks-only chores (OAuth, accounts, company facts)."""
    return engine_config.BillComAccount(
        base_url=engine_config.BILLCOM_SANDBOX, dev_key="", username="", password="", organization_id="")


def placeholder_qbo():
    """A QuickBooks side for Bill.com-only chores (test connection)."""
    return engine_config.QBOAccount(
        base_url=engine_config.QBO_SANDBOX, realm_id="", client_id="", client_secret="")


def placeholder_facts():
    today = datetime.date.today()
    return engine_config.OrgFacts(signup_date=today, start_date=today)


def make_config(qbo=None, billcom=None, facts=None, settings=None, name="connection"):
    return engine_config.ConnectionConfig(
        qbo=qbo or placeholder_qbo(),
        billcom=billcom or placeholder_billcom(),
        facts=facts or placeholder_facts(),
        settings=settings or engine_config.SyncSettings(),
        name=name,
    )


def is_billcom_error(error):
    """Whether an engine error came from Bill.com (else QuickBooks or the engine)."""
    return getattr(error, "side", None) == "Bill.com"



# What a remote chore (test connection, refresh accounts, revoke...) may raise
# that the user should see as a message: the engine's own errors and network errors.
REMOTE_FAILURES = (engine_errors.SyncError, OSError)


# ------------------------------------------------------------- run lines
# The fields of a run line kept in Odoo, and those that may carry a secret
# (what a remote side answered), masked before they are stored or shown.
LINE_FIELDS = ("object_type", "direction", "action", "record", "qbo_id", "billcom_id", "rule_code",
               "message", "field", "remote_error", "state", "currency")
SCRUBBED_LINE_FIELDS = ("record", "message", "field", "remote_error")
DIRECTIONS = (QBO_TO_BC, BC_TO_QBO, NO_DIRECTION)


def run_line_values(line, scrub=None):
    """Odoo values of an engine ``RunLine``: the same for a run's logged lines
    and a preview's planned lines. ``scrub`` masks secrets in the texts a remote
    side may have echoed (and in the field differences)."""
    vals = {}
    for name in LINE_FIELDS:
        value = getattr(line, name, None)
        if scrub and name in SCRUBBED_LINE_FIELDS:
            value = scrub(value)
        vals[name] = value if value is not None else False
    if vals["direction"] not in DIRECTIONS:
        vals["direction"] = NO_DIRECTION
    for name in ("qbo_id", "billcom_id"):
        if vals[name] is not False:
            vals[name] = str(vals[name])
    # a document's total or a payment's amount (Decimal in the engine), to the cent
    amount = getattr(line, "amount", None)
    vals["amount"] = float(decimal.Decimal(amount).quantize(decimal.Decimal("0.01"))) if amount is not None else 0.0
    vals["has_amount"] = amount is not None
    # as the SQLite store: values JSON cannot hold (amounts, dates) are kept as text
    diff = json.loads(json.dumps(line.diff, default=str)) if line.diff else None
    vals["diff"] = _scrub_json(diff, scrub) if diff and scrub else (diff or False)
    return vals


def scrub_run_line(line, scrub):
    """Mask secrets in an engine ``RunLine`` in place (a preview's lines, which
    are shown, not stored); returns the line."""
    for name in SCRUBBED_LINE_FIELDS:
        setattr(line, name, scrub(getattr(line, name, None)))
    if line.diff:
        line.diff = _scrub_json(json.loads(json.dumps(line.diff, default=str)), scrub)
    return line


def _scrub_json(value, scrub):
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrub_json(v, scrub) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_json(v, scrub) for v in value]
    return value


# ---------------------------------------------------------------- counts
# A run's counts, as the engine's executor closes a run with them (and as a
# run keeps them): {"<object type>|<direction>|<action>": n}.
def count_key(object_type, direction, action):
    return f"{object_type}|{direction}|{action}"


def split_count_key(key):
    """(object type, direction, action) of a run's count key."""
    parts = str(key).split("|")
    parts += [""] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def plan_counts(plan):
    """A preview's counts in the run's key format, so one summary renders both."""
    return {count_key(*key): n for key, n in plan.counts().items()}


def line_totals(lines):
    """Totals of engine run lines that carry an amount, in the counts' key
    format: {"<object type>|<direction>|<action>": {"<currency>": "<exact amount>"}}."""
    totals = {}
    for line in lines:
        amount = getattr(line, "amount", None)
        if amount is None:
            continue
        key = count_key(line.object_type, line.direction, line.action)
        per_currency = totals.setdefault(key, {})
        currency = line.currency or "USD"
        per_currency[currency] = str(decimal.Decimal(per_currency.get(currency, "0")) + decimal.Decimal(amount))
    return totals


# --------------------------------------------------------- company facts
# What the QuickBooks company form shows of QuickBooks' preferences.
QBO_COMPANY_FACTS = ("company_name", "class_tracking_per_txn", "class_tracking_per_line",
                     "track_departments", "department_terminology")


def qbo_company_facts(config, on_tokens=None, **sharing):
    """The QuickBooks company's name and preferences (class tracking per
    transaction or per line, departments), as the engine reads them: the
    add-on never parses QuickBooks' Preferences itself."""
    facts = service().qbo_company_facts(config, on_tokens=on_tokens, **sharing)
    return {key: facts.get(key) for key in QBO_COMPANY_FACTS}


def sync_service(config, store, on_tokens=None, progress=None, rule_book=None, pacing_board=None,
                 token_keeper=None):
    """The engine's ``SyncService`` for one connection. ``pacing_board`` and
    ``token_keeper`` share the rate windows and the QuickBooks token refresh with
    every other worker (see ``models/pacing.py``)."""
    return service().SyncService(config, store, on_tokens=on_tokens, progress=progress, rule_book=rule_book,
                                 pacing_board=pacing_board, token_keeper=token_keeper)


class ConnectionRules(engine_rules.RuleBook):
    """The engine's rule book for one connection: each rule asks the
    connection's ``_rule_<code>`` method, whose default is the engine's rule, so
    a module inheriting ``billcom_qbo.connection`` changes a rule by overriding
    that method."""

    def __init__(self, connection):
        self.connection = connection


def _ask_connection(name):
    def rule(self, *args, **kwargs):
        return getattr(self.connection, f"_rule_{name}")(*args, **kwargs)
    rule.__name__ = rule.__qualname__ = name
    rule.__doc__ = f"The connection's _rule_{name}."
    return rule


for _name in engine_rules.RULE_NAMES:
    setattr(ConnectionRules, _name, _ask_connection(_name))


# ---------------------------------------------------------------- tie-out
def _money_text(amount):
    """An engine amount (Decimal, or None when the record is missing) -> exact text with cents."""
    if amount is None:
        return False
    return str(decimal.Decimal(amount).quantize(decimal.Decimal("0.01")))


def tie_out_line_values(difference, scrub=None):
    """Odoo values of a tie-out ``Difference`` (the amounts as exact text and as
    numbers); ``scrub`` masks secrets in the texts a remote side may have echoed."""
    scrub = scrub or (lambda text: text)
    qbo_text, billcom_text = _money_text(difference.qbo_value), _money_text(difference.billcom_value)
    qbo_amount = float(qbo_text) if qbo_text else 0.0
    billcom_amount = float(billcom_text) if billcom_text else 0.0
    return {
        "object_type": difference.object_type or False,
        "record": scrub(difference.record) or False,
        "qbo_id": str(difference.qbo_id) if difference.qbo_id not in (None, "") else False,
        "billcom_id": str(difference.billcom_id) if difference.billcom_id not in (None, "") else False,
        "field": difference.field or False,
        "qbo_value": qbo_text,
        "billcom_value": billcom_text,
        "qbo_amount": qbo_amount,
        "billcom_amount": billcom_amount,
        "gap": qbo_amount - billcom_amount,
        "cause": scrub(difference.cause) or False,
    }
