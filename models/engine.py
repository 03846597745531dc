"""The bridge between the Odoo models and the sync engine.

Everything the models need from ``sync_engine`` goes through here: building
the engine's account objects, converting its timestamps, and keeping secrets
out of anything that is stored or shown.
"""
import datetime

from odoo.exceptions import UserError

from ..sync_engine import config as engine_config
from ..sync_engine import errors as engine_errors  # noqa: F401  (re-exported)
from ..sync_engine import rules as engine_rules  # noqa: F401  (re-exported)
from ..sync_engine import service as engine_service
from ..sync_engine.secrets import Scrubber  # noqa: F401  (the models mask secrets with the engine's)

ALREADY_RUNNING = "A sync is already running for this connection."


class ConnectionBusy(UserError):
    """Another run holds the connection (rule ``schedule``: one sync at a time)."""

    def __init__(self, message=ALREADY_RUNNING):
        super().__init__(message)


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


# What a remote chore (test connection, refresh accounts, revoke...) may raise
# that the user should see as a message: the engine's own errors and network errors.
REMOTE_FAILURES = (engine_errors.SyncError, OSError)


def sync_service(config, store, on_tokens=None, progress=None, rule_book=None):
    """The engine's ``SyncService`` for one connection (the engine shares pacing per account)."""
    return service().SyncService(config, store, on_tokens=on_tokens, progress=progress, rule_book=rule_book)


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
