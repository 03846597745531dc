"""One rate limit per remote account across every Odoo worker and server.

The engine paces its requests on a ``PacingBoard`` and serializes QuickBooks
token refreshes with a ``TokenKeeper`` (see ``sync_engine.pacing`` and
``sync_engine.tokens``). Here both live in PostgreSQL, which every worker of
every server sharing the database sees:

* ``PgBoard``: one row per rate key (a QuickBooks realm's requests, a Bill.com
  organization's sign-ins...) with its recent request times, updated under the
  row's lock in a short transaction of its own, so a preview in one worker and
  a sync in another count against the same windows (a request is taken before
  it goes and restamped when its answer is back);
* ``PgKeeper``: the QuickBooks company's row locked (``FOR NO KEY UPDATE``) in a
  transaction of its own while a client refreshes; the tokens read under that
  lock are adopted when another worker refreshed first, and new tokens are
  written and committed before the lock is released.
"""
import contextlib
import json

from odoo import SUPERUSER_ID, api, fields, models, sql_db

from . import engine

# a lock held by a transaction of the same worker must not hang a refresh forever
LOCK_TIMEOUT = "30s"


class PacingWindow(models.Model):
    _name = "billcom_qbo.pacing_window"
    _description = "Request window of a remote account"
    _log_access = False

    key = fields.Char(required=True, readonly=True)
    history = fields.Json(readonly=True, help="Times (epoch seconds) of the requests still in a window.")
    held_until = fields.Float(readonly=True, help="The remote side asked to wait until then (epoch seconds).")

    _key_uniq = models.Constraint("UNIQUE(key)", "One request window per key.")


class PgBoard(engine.PacingBoard):
    """The engine's pacing board in the ``billcom_qbo_pacing_window`` table."""

    def __init__(self, env):
        self.dbname = env.cr.dbname

    @contextlib.contextmanager
    def _window(self, key):
        # a connection of its own, whatever thread asks (the Bill.com client has
        # several requests in flight) and whatever transaction the caller is in;
        # the block commits when it ends
        with sql_db.db_connect(self.dbname).cursor() as cr:
            # wait on the row and read its latest version (Odoo's cursors are
            # REPEATABLE READ, which would fail on the other workers' updates)
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute("""
                INSERT INTO billcom_qbo_pacing_window (key, history, held_until) VALUES (%s, '[]', 0)
                ON CONFLICT (key) DO NOTHING
            """, [key])
            cr.execute("SELECT history, held_until FROM billcom_qbo_pacing_window WHERE key = %s FOR UPDATE",
                       [key])
            history, held_until = cr.fetchone()
            yield cr, [float(t) for t in (history or [])], float(held_until or 0.0)

    def take(self, key, limits, now):
        with self._window(key) as (cr, history, held_until):
            longest = max((float(s) for _, s in limits), default=0.0)
            history = [t for t in history if t > now - longest]
            wait = engine.window_wait(history, limits, now, held_until)
            if wait <= 0:
                history.append(now)
                cr.execute("UPDATE billcom_qbo_pacing_window SET history = %s::jsonb, held_until = 0 WHERE key = %s",
                           [json.dumps(history), key])
            return max(wait, 0.0)

    def restamp(self, key, taken, now):
        with self._window(key) as (cr, history, _held_until):
            moved = engine.moved_stamp(history, taken, now)
            if moved is not None:
                cr.execute("UPDATE billcom_qbo_pacing_window SET history = %s::jsonb WHERE key = %s",
                           [json.dumps(moved), key])

    def penalize(self, key, until):
        with self._window(key) as (cr, _history, held_until):
            cr.execute("UPDATE billcom_qbo_pacing_window SET held_until = %s WHERE key = %s",
                       [max(held_until, float(until)), key])


class PgKeeper(engine.TokenKeeper):
    """The engine's token keeper over a ``billcom_qbo.qbo_company`` row."""

    def __init__(self, qbo_company):
        qbo_company.ensure_one()
        self.registry = qbo_company.env.registry
        self.company_id = qbo_company.id
        self.env = None  # while refreshing: an environment on the locking transaction

    @contextlib.contextmanager
    def refreshing(self):
        with self.registry.cursor() as cr:
            if isinstance(cr, sql_db.Cursor):  # not a test cursor, which lives inside the test's transaction
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            cr.execute("""
                SELECT refresh_token, access_token, access_token_expires_at
                  FROM billcom_qbo_qbo_company WHERE id = %s FOR NO KEY UPDATE
            """, [self.company_id])
            refresh_token, access_token, expires_at = cr.fetchone()
            self.env = api.Environment(cr, SUPERUSER_ID, {})
            try:
                yield engine.StoredTokens(refresh_token or None, access_token or None,
                                          engine.datetime_to_epoch(expires_at))
            finally:
                self.env = None

    def company(self):
        """The QuickBooks company in the locking transaction (None outside ``refreshing``)."""
        if self.env is None:
            return None
        return self.env["billcom_qbo.qbo_company"].browse(self.company_id)
