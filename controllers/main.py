import logging

from markupsafe import Markup, escape

from odoo import http
from odoo.http import request

from ..models import engine
from ..models.qbo_company import CALLBACK_PATH

_logger = logging.getLogger(__name__)


class QboOAuthController(http.Controller):

    @http.route(CALLBACK_PATH, type="http", auth="user", methods=["GET"], readonly=False)
    def qbo_oauth_callback(self, code=None, state=None, realmId=None, error=None, **kwargs):
        """Where Intuit sends the browser back after "Connect to QuickBooks".

        The ``state`` must be one this server issued to this user less than
        15 minutes ago; otherwise nothing is exchanged and nothing is stored."""
        env = request.env
        if not state:
            return self._page(400, env._("Missing state"), env._(
                "This authorization reply carries no state value, so it cannot be trusted. "
                "Start again with \"Connect to QuickBooks\"."))
        company = env["billcom_qbo.oauth_state"]._consume(state)
        if not company:
            _logger.warning("QuickBooks authorization refused: unknown or expired state (user %s).", env.uid)
            return self._page(403, env._("Authorization refused"), env._(
                "This authorization reply does not match a \"Connect to QuickBooks\" started by you in "
                "the last 15 minutes. Nothing was stored. Start again from the QuickBooks company."))
        if error:
            company.sudo().write({"state": "error", "last_error": error})
            return self._page(400, env._("QuickBooks did not authorize the connection"), error)
        if not code:
            return self._page(400, env._("Missing authorization code"), env._(
                "QuickBooks sent no authorization code. Start again with \"Connect to QuickBooks\"."))
        try:
            company._finish_authorization(code, realmId)
        except engine.REMOTE_FAILURES as exc:
            message = str(exc)
            company.sudo().write({"state": "error", "last_error": message})
            _logger.warning("QuickBooks company %s: authorization failed: %s", company.id, message)
            return self._page(502, env._("QuickBooks authorization failed"), message)
        return request.redirect(f"/odoo/action-billcom_qbo_sync.action_qbo_company/{company.id}")

    @staticmethod
    def _page(status, title, message):
        body = Markup(
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>%s</title></head>"
            "<body><h1>%s</h1><p>%s</p><p><a href='/odoo'>Back to Odoo</a></p></body></html>"
        ) % (escape(title), escape(title), escape(message))
        return request.make_response(str(body), headers=[("Content-Type", "text/html; charset=utf-8")],
                                     status=status)
