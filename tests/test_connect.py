import urllib.parse

import requests

from odoo.tests import HttpCase, tagged

from .common import LiveSandboxMixin

CALLBACK = "/billcom_qbo_sync/oauth/callback"


@tagged("post_install", "-at_install")
class TestConnect(LiveSandboxMixin, HttpCase):
    """Connecting: the QuickBooks OAuth 2.0 authorization with its state check,
    disconnecting, and the Bill.com test connection."""

    seed_sandboxes = False

    def setUp(self):
        super().setUp()
        self.admin = self.env.ref("base.user_admin")
        self.qbo = self.create_qbo_company(refresh_token=False, realm_id=False, state="draft")
        self.authenticate("admin", "admin")

    def start_authorization(self):
        """Press "Connect to QuickBooks" as admin: the consent URL and its state."""
        action = self.qbo.with_user(self.admin).action_connect()
        self.assertEqual(action["type"], "ir.actions.act_url")
        url = action["url"]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        self.assertTrue(url.startswith(self.qbo_sb.authorize_url))
        self.assertEqual(query["redirect_uri"], [self.base_url() + CALLBACK])
        return url, query["state"][0]

    def consent(self, url):
        """The user says yes on Intuit's page: the redirect back to Odoo, as a path."""
        reply = requests.get(url, allow_redirects=False, timeout=10)
        self.assertIn(reply.status_code, (302, 303), reply.text)
        location = urllib.parse.urlsplit(reply.headers["Location"])
        return f"{location.path}?{location.query}"

    def assertNoTokens(self):
        self.env.invalidate_all()
        qbo = self.qbo.sudo()
        self.assertFalse(qbo.refresh_token)
        self.assertFalse(qbo.access_token)
        self.assertEqual(qbo.state, "draft")

    def assertNoCodeExchange(self):
        """Odoo did not trade an authorization code for tokens at Intuit."""
        self.assertFalse([r for r in self.qbo_sb.request_log() if r.method == "POST"], "no code exchange")

    # ------------------------------------------------------------ refused
    def test_callback_without_state_refused(self):
        reply = self.url_open(f"{CALLBACK}?code=abc&realmId=123")
        self.assertEqual(reply.status_code, 400)
        self.assertNoTokens()
        self.assertFalse(self.qbo_sb.request_log(), "QuickBooks was not contacted")

    def test_callback_with_wrong_state_refused(self):
        url, state = self.start_authorization()
        callback = self.consent(url)
        forged = callback.replace(urllib.parse.quote(state), "forged-state-value").replace(state, "forged-state-value")
        self.assertNotIn(state, forged)
        self.qbo_sb.clear_log()
        reply = self.url_open(forged)
        self.assertEqual(reply.status_code, 403)
        self.assertIn("Authorization refused", reply.text)
        self.assertNoTokens()
        self.assertNoCodeExchange()

    def test_callback_with_expired_state_refused(self):
        url, state = self.start_authorization()
        callback = self.consent(url)
        self.env["billcom_qbo.oauth_state"].sudo().search([]).write({"expires_at": "2000-01-01 00:00:00"})
        self.qbo_sb.clear_log()
        reply = self.url_open(callback)
        self.assertEqual(reply.status_code, 403)
        self.assertNoTokens()
        self.assertNoCodeExchange()

    def test_state_of_another_user_refused(self):
        url, state = self.start_authorization()
        callback = self.consent(url)
        other = self.make_manager("other_manager")
        self.authenticate(other.login, other.login)
        reply = self.url_open(callback)
        self.assertEqual(reply.status_code, 403)
        self.assertNoTokens()

    # ------------------------------------------------------------ accepted
    def test_callback_with_good_state_connects(self):
        url, state = self.start_authorization()
        callback = self.consent(url)
        reply = self.url_open(callback, allow_redirects=False)
        self.assertIn(reply.status_code, (302, 303), reply.text)
        self.env.invalidate_all()
        qbo = self.qbo.sudo()
        self.assertEqual(qbo.state, "connected")
        self.assertTrue(qbo.refresh_token)
        self.assertTrue(qbo.access_token)
        self.assertTrue(qbo.access_token_expires_at)
        self.assertTrue(qbo.refresh_token_expires_at)
        self.assertTrue(qbo.refresh_token_hard_expires_at)
        self.assertFalse(qbo.token_warning)
        self.assertEqual(qbo.realm_id, self.qbo_sb.realm_id)
        self.assertTrue(qbo.company_name, "company facts read after connecting")
        self.assertFalse(self.env["billcom_qbo.oauth_state"].sudo().search([]), "the state is used once")
        # the same state cannot be replayed
        reply = self.url_open(callback)
        self.assertEqual(reply.status_code, 403)

    def test_refresh_accounts_and_disconnect(self):
        self.qbo.sudo().write({"refresh_token": self.qbo_sb.initial_refresh_token,
                               "realm_id": self.qbo_sb.realm_id, "state": "connected"})
        self.qbo.account_ids.unlink()
        self.env.flush_all()
        with self.registry.cursor() as cr:
            qbo = self.qbo.with_env(self.env(cr=cr, user=self.admin))
            self.assertNotified(qbo.action_refresh_accounts(), "success")
        self.env.invalidate_all()
        types = set(self.qbo.account_ids.mapped("account_type"))
        self.assertTrue({"Bank", "Accounts Payable", "Accounts Receivable"} <= types, types)
        # the rotated refresh token was kept
        self.assertTrue(self.qbo.sudo().refresh_token)
        with self.registry.cursor() as cr:
            qbo = self.qbo.with_env(self.env(cr=cr, user=self.admin))
            self.assertNotified(qbo.action_disconnect(), "success")
        self.env.invalidate_all()
        self.assertNoTokens()

    def test_billcom_test_connection(self):
        org = self.create_billcom_org()
        self.env.flush_all()
        with self.registry.cursor() as cr:
            result = org.with_env(self.env(cr=cr, user=self.admin)).action_test_connection()
        self.assertNotified(result, "success")
        self.env.invalidate_all()
        self.assertEqual(org.state, "connected")
        self.assertTrue(org.billcom_name)
        self.assertIn(org.billcom_name, result["params"]["message"])

        org.sudo().password = "not-the-password"
        self.env.flush_all()
        with self.registry.cursor() as cr:
            result = org.with_env(self.env(cr=cr, user=self.admin)).action_test_connection()
        self.assertNotified(result, "danger")
        self.env.invalidate_all()
        self.assertEqual(org.state, "error")
        self.assertTrue(org.last_error)
        self.assertIn(org.last_error, result["params"]["message"])
        self.assertNoSecretIn([result["params"]["message"], org.last_error], {"not-the-password"})

    def make_manager(self, login):
        from odoo.tests import new_test_user
        return new_test_user(self.env, login=login, groups="billcom_qbo_sync.group_sync_manager,base.group_system")
