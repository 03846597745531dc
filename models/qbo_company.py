import datetime
import hashlib
import logging
import secrets

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import LazyTranslate

from . import engine
from .pacing import PgBoard

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

# Warn this long before the refresh token (or its hard limit) runs out.
TOKEN_WARNING_DAYS = 30
# How long a "Connect to QuickBooks" authorization may take.
OAUTH_STATE_LIFETIME = datetime.timedelta(minutes=15)
CALLBACK_PATH = "/billcom_qbo_sync/oauth/callback"


class QboCompany(models.Model):
    _name = "billcom_qbo.qbo_company"
    _description = "QuickBooks Online company"
    _inherit = ["billcom_qbo.remote_account.mixin"]
    _sandbox_label = _lt("Intuit sandbox")

    local_token_url = fields.Char("Local token URL")
    local_authorize_url = fields.Char("Local authorization URL")
    local_revoke_url = fields.Char("Local revocation URL")
    realm_id = fields.Char(
        "Realm ID", copy=False, tracking=True,
        help="QuickBooks company id, returned by Intuit when you connect.")

    # --- OAuth 2.0 credentials: system administrators only, never copied
    client_id = fields.Char("Client ID", groups="base.group_system", copy=False)
    client_secret = fields.Char("Client secret", groups="base.group_system", copy=False)
    access_token = fields.Char(groups="base.group_system", copy=False)
    refresh_token = fields.Char(groups="base.group_system", copy=False)
    access_token_expires_at = fields.Datetime("Access token expires", readonly=True, copy=False)
    refresh_token_expires_at = fields.Datetime("Refresh token expires", readonly=True, copy=False)
    refresh_token_hard_expires_at = fields.Datetime(
        "Refresh token hard expiry", readonly=True, copy=False,
        help="After this date Intuit requires a new authorization, whatever the rotations.")
    connected_at = fields.Datetime("Connected at", readonly=True, copy=False)
    has_refresh_token = fields.Boolean(compute="_compute_has_refresh_token")

    # --- read from QuickBooks
    company_name = fields.Char("QuickBooks company name", readonly=True, copy=False)
    class_tracking_per_txn = fields.Boolean("Classes per transaction", readonly=True, copy=False)
    class_tracking_per_line = fields.Boolean("Classes per line", readonly=True, copy=False)
    track_departments = fields.Boolean("Tracks departments/locations", readonly=True, copy=False)
    department_terminology = fields.Char("Department terminology", readonly=True, copy=False)
    account_ids = fields.One2many("billcom_qbo.qbo_account", "qbo_company_id", string="Accounts")
    account_count = fields.Integer(compute="_compute_account_count")

    state = fields.Selection(
        [("draft", "Not connected"), ("connected", "Connected"),
         ("reconnect", "Reconnect needed"), ("error", "Error")],
        default="draft", required=True, readonly=True, copy=False, tracking=True)
    token_warning = fields.Char(compute="_compute_token_warning")

    # ------------------------------------------------------------------ compute
    @api.depends_context("uid")
    def _compute_has_refresh_token(self):
        for company, sudo_company in zip(self, self.sudo()):
            company.has_refresh_token = bool(sudo_company.refresh_token)

    @api.depends("account_ids")
    def _compute_account_count(self):
        for company in self:
            company.account_count = len(company.account_ids)

    @api.depends("state", "refresh_token_expires_at", "refresh_token_hard_expires_at")
    def _compute_token_warning(self):
        now = fields.Datetime.now()
        soon = now + datetime.timedelta(days=TOKEN_WARNING_DAYS)
        for company in self:
            company.token_warning = company._token_warning(now, soon)

    def _token_warning(self, now, soon):
        if self.state == "reconnect":
            return self.env._("QuickBooks refused the stored authorization: reconnect to QuickBooks.")
        if self.state == "draft":
            return False
        ends = [d for d in (self.refresh_token_expires_at, self.refresh_token_hard_expires_at) if d]
        if not ends:
            return False
        end = min(ends)
        if end <= now:
            return self.env._("The QuickBooks authorization expired on %(date)s: reconnect to QuickBooks.",
                              date=fields.Datetime.to_string(end))
        if end <= soon:
            return self.env._(
                "The QuickBooks authorization expires on %(date)s (in %(days)s days): reconnect to "
                "QuickBooks before then, or the daily sync stops.",
                date=fields.Datetime.to_string(end), days=(end - now).days)
        return False

    # --------------------------------------------------------- engine objects
    def _api_urls(self):
        """(base_url, token_url, authorize_url, revoke_url) for the environment."""
        self.ensure_one()
        urls = engine.engine_config
        if self.environment == "local":
            if not self.local_base_url:
                raise UserError(self.env._("Set the local API URL of QuickBooks company %s.", self.display_name))
            base = self.local_base_url.rstrip("/")
            return (base, self.local_token_url or urls.QBO_TOKEN_URL,
                    self.local_authorize_url or urls.QBO_AUTHORIZE_URL,
                    self.local_revoke_url or urls.QBO_REVOKE_URL)
        base = urls.QBO_SANDBOX if self.environment == "sandbox" else urls.QBO_PRODUCTION
        return (base, urls.QBO_TOKEN_URL, urls.QBO_AUTHORIZE_URL, urls.QBO_REVOKE_URL)

    def _engine_account(self):
        """The engine's ``QBOAccount`` with the stored credentials."""
        self.ensure_one()
        company = self.sudo()
        base_url, token_url, authorize_url, revoke_url = company._api_urls()
        return engine.engine_config.QBOAccount(
            base_url=base_url, realm_id=company.realm_id or "", client_id=company.client_id or "",
            client_secret=company.client_secret or "", refresh_token=company.refresh_token or None,
            token_url=token_url, revoke_url=revoke_url, authorize_url=authorize_url,
            access_token=company.access_token or None,
            access_token_expires_at=engine.datetime_to_epoch(company.access_token_expires_at))

    def _engine_config(self):
        """A configuration for QuickBooks-only chores (OAuth, accounts, preferences)."""
        return engine.make_config(qbo=self._engine_account(), name=self.name)

    def _check_credentials(self):
        self.ensure_one()
        company = self.sudo()
        if not (company.client_id and company.client_secret):
            raise UserError(self.env._(
                "Set the client ID and client secret of your Intuit app on QuickBooks company %s first "
                "(system administrators only).", self.display_name))

    # ------------------------------------------------------------------ tokens
    def _save_tokens(self, tokens, commit=True):
        """Store a TokenSet the moment it arrives and commit it: Intuit rotates
        refresh tokens, and a rotated token that is not saved loses the connection."""
        self.ensure_one()
        vals = {
            "access_token": tokens.access_token,
            "access_token_expires_at": engine.epoch_to_datetime(tokens.access_token_expires_at),
        }
        if tokens.refresh_token:
            vals["refresh_token"] = tokens.refresh_token
        for name in ("refresh_token_expires_at", "refresh_token_hard_expires_at"):
            value = getattr(tokens, name, None)
            if value:
                vals[name] = engine.epoch_to_datetime(value)
        if getattr(tokens, "realm_id", None):
            vals["realm_id"] = tokens.realm_id
        if self.state in ("draft", "reconnect", "error"):
            vals.update(state="connected", last_error=False)
        self.sudo().write(vals)
        if commit:
            self.env["ir.cron"]._commit_progress()
        _logger.info("QuickBooks company %s: tokens saved.", self.id)

    def _token_saver(self, keeper=None):
        """``on_tokens`` for the engine. With a ``PgKeeper``, a refresh made under
        its lock is written in the locking transaction (committed as the lock is
        released), since this transaction may not take the row the keeper holds."""
        company = self

        def on_tokens(tokens):
            locked = keeper.company() if keeper is not None else None
            if locked is not None:
                locked._save_tokens(tokens, commit=False)
                company.invalidate_recordset()
            else:
                company._save_tokens(tokens)
        return on_tokens

    def _sharing(self):
        """(on_tokens, the rest of what a chore on this company shares with the
        workers): its requests count against the same limits as every worker's.
        Its tokens are saved in this transaction (a chore writes the company's
        row afterwards, which a refresh committed elsewhere would make fail)."""
        return self._token_saver(), {"pacing_board": PgBoard(self.env)}

    def _mark_reconnect(self, message):
        self.sudo().write({"state": "reconnect", "last_error": message})

    # ----------------------------------------------------------------- actions
    def action_connect(self):
        """Start the OAuth 2.0 authorization: keep a one-time ``state`` server-side
        and send the browser to Intuit's consent page."""
        self.ensure_one()
        self.check_access("write")
        self._check_credentials()
        state = self.env["billcom_qbo.oauth_state"]._issue(self)
        url = engine.service().qbo_authorization_url(self._engine_config(), self._redirect_uri(), state)
        return {"type": "ir.actions.act_url", "url": url, "target": "self"}

    def _redirect_uri(self):
        return self.get_base_url().rstrip("/") + CALLBACK_PATH

    def _finish_authorization(self, code, realm_id):
        """Called by the OAuth callback once its state checked out."""
        self.ensure_one()
        service = engine.service()
        config = self._engine_config()
        service.qbo_exchange_code(config, code, self._redirect_uri(), realm_id=realm_id,
                                  on_tokens=self._token_saver())
        self.sudo().write({"realm_id": realm_id or config.qbo.realm_id,
                           "connected_at": fields.Datetime.now(),
                           "state": "connected", "last_error": False})
        self._read_company_facts()

    def _read_company_facts(self):
        """The company's name and preferences as the engine reads them."""
        self.ensure_one()
        on_tokens, sharing = self._sharing()
        self.sudo().write(engine.qbo_company_facts(self._engine_config(), on_tokens=on_tokens, **sharing))

    def _refresh_company_facts(self):
        """Read the company facts again as a run starts.

        The engine takes the class-tracking preferences from QuickBooks itself,
        when a decision needs them (its configuration has no place for them), so
        the form is brought up to date with what the run decides with. A failure
        here is left to the run, which reports it with the run's own words."""
        self.ensure_one()
        try:
            self._read_company_facts()
        except engine.REMOTE_FAILURES as exc:
            scrub = engine.Scrubber(self._engine_config().secrets())
            _logger.info("QuickBooks company %s: preferences not read before the run: %s",
                         self.id, scrub(str(exc)))
            return False
        return True

    def action_read_preferences(self):
        self.ensure_one()
        self.check_access("write")
        return self._run_chore(self._read_company_facts, self.env._("QuickBooks preferences read."))

    def action_refresh_accounts(self):
        """Fill the cached chart of accounts used to pick bank, deposit, A/P and A/R accounts."""
        self.ensure_one()
        self.check_access("write")

        def refresh():
            on_tokens, sharing = self._sharing()
            rows = engine.service().qbo_accounts(self._engine_config(), on_tokens=on_tokens, **sharing)
            self.env["billcom_qbo.qbo_account"].sudo()._replace_accounts(self, rows)
        return self._run_chore(refresh, self.env._("QuickBooks accounts refreshed."))

    def action_disconnect(self):
        """Revoke the authorization at Intuit and forget the tokens."""
        self.ensure_one()
        self.check_access("write")
        error = None
        if self.has_refresh_token:
            try:
                engine.service().qbo_revoke(self._engine_config())
            except engine.REMOTE_FAILURES as exc:
                error = str(exc)
        self.sudo().write({
            "access_token": False, "refresh_token": False, "access_token_expires_at": False,
            "refresh_token_expires_at": False, "refresh_token_hard_expires_at": False,
            "connected_at": False, "state": "draft", "last_error": False,
        })
        if error:
            return self._notify(self.env._("Disconnected here, but Intuit did not confirm the revocation: %s",
                                           error), "warning")
        return self._notify(self.env._("Disconnected from QuickBooks."), "success")

    def action_view_accounts(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("QuickBooks accounts"),
            "res_model": "billcom_qbo.qbo_account",
            "view_mode": "list",
            "domain": [("qbo_company_id", "=", self.id)],
            "context": {"default_qbo_company_id": self.id},
        }

    # ----------------------------------------------------------------- helpers
    def _run_chore(self, func, success_message):
        """Run a remote chore and turn the engine's exact error into a notification."""
        try:
            func()
        except engine.engine_errors.ReconnectNeeded as exc:
            self._mark_reconnect(str(exc))
            return self._notify(str(exc), "danger")
        except engine.REMOTE_FAILURES as exc:
            self.sudo().write({"last_error": str(exc)})
            return self._notify(str(exc), "danger")
        self.sudo().write({"last_error": False})
        return self._notify(success_message, "success", reload=True)

    def _notify(self, message, kind, reload=False):
        action = {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": self.display_name, "message": message, "type": kind,
                       "sticky": kind == "danger"},
        }
        if reload:
            action["params"]["next"] = {"type": "ir.actions.client", "tag": "soft_reload"}
        return action


class QboAccount(models.Model):
    """A cached copy of a QuickBooks account, so connections can pick their
    bank, deposit, A/P and A/R accounts from a list."""
    _name = "billcom_qbo.qbo_account"
    _description = "QuickBooks Online account"
    _order = "classification, account_type, name, id"

    qbo_company_id = fields.Many2one("billcom_qbo.qbo_company", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="qbo_company_id.company_id", store=True, index=True)
    qbo_id = fields.Char("QuickBooks ID", required=True)
    name = fields.Char(required=True)
    account_type = fields.Char(index=True)
    account_sub_type = fields.Char()
    classification = fields.Char()
    active = fields.Boolean(default=True)

    _qbo_id_uniq = models.Constraint(
        "UNIQUE(qbo_company_id, qbo_id)", "A QuickBooks account appears only once per company.")

    @api.depends("name", "account_type")
    def _compute_display_name(self):
        for account in self:
            account.display_name = (f"{account.name} ({account.account_type})"
                                    if account.account_type else account.name)

    def _replace_accounts(self, qbo_company, rows):
        """Upsert the accounts QuickBooks returned; archive those it no longer has."""
        existing = {a.qbo_id: a for a in self.with_context(active_test=False).search(
            [("qbo_company_id", "=", qbo_company.id)])}
        to_create = []
        seen = set()
        for row in rows:
            qbo_id = str(row["id"])
            seen.add(qbo_id)
            vals = {"name": row.get("name") or qbo_id, "account_type": row.get("account_type"),
                    "account_sub_type": row.get("account_sub_type"),
                    "classification": row.get("classification"), "active": bool(row.get("active", True))}
            if qbo_id in existing:
                existing[qbo_id].write(vals)
            else:
                to_create.append(dict(vals, qbo_company_id=qbo_company.id, qbo_id=qbo_id))
        self.create(to_create)
        gone = [a for key, a in existing.items() if key not in seen]
        if gone:
            self.browse([a.id for a in gone]).write({"active": False})


class OauthState(models.Model):
    """One-time ``state`` values of pending "Connect to QuickBooks" authorizations.

    Only a hash is stored; the callback refuses any state that is missing,
    unknown, issued to another user, or expired."""
    _name = "billcom_qbo.oauth_state"
    _description = "Pending QuickBooks authorization"

    qbo_company_id = fields.Many2one("billcom_qbo.qbo_company", required=True, ondelete="cascade")
    user_id = fields.Many2one("res.users", required=True, ondelete="cascade")
    state_hash = fields.Char(required=True, index=True)
    expires_at = fields.Datetime(required=True)

    @staticmethod
    def _hash(state):
        return hashlib.sha256(state.encode("utf-8")).hexdigest()

    def _issue(self, qbo_company):
        state = secrets.token_urlsafe(32)
        self.sudo().create({
            "qbo_company_id": qbo_company.id,
            "user_id": self.env.uid,
            "state_hash": self._hash(state),
            "expires_at": fields.Datetime.now() + OAUTH_STATE_LIFETIME,
        })
        return state

    def _consume(self, state):
        """The QuickBooks company the state was issued for (and forget the state),
        or an empty recordset when the state is unknown, someone else's or expired."""
        pending = self.sudo().search([("state_hash", "=", self._hash(state))], limit=1)
        if not pending:
            return self.env["billcom_qbo.qbo_company"]
        company = pending.qbo_company_id
        valid = pending.user_id.id == self.env.uid and pending.expires_at > fields.Datetime.now()
        pending.unlink()
        return company if valid else self.env["billcom_qbo.qbo_company"]

    @api.autovacuum
    def _gc_expired(self):
        self.sudo().search([("expires_at", "<", fields.Datetime.now())]).unlink()
