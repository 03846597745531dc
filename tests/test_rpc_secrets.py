"""Secrets over RPC: what a browser or an external script can ask for."""
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException

from .common import SandboxMixin

QBO_SECRETS = ["client_secret", "access_token", "refresh_token"]
BILLCOM_SECRETS = ["dev_key", "password"]


@tagged("post_install", "-at_install")
class TestSecretsOverRpc(SandboxMixin, HttpCase):

    def setUp(self):
        super().setUp()
        # no network needed: the records point at nothing and are never synced
        qbo_company = self.create_qbo_company(access_token="an-access-token-1234")
        self.connection = self.create_connection(qbo_company=qbo_company)
        new_test_user(self.env, login="plain_user", groups="base.group_user")
        new_test_user(self.env, login="rpc_sync_user", groups="billcom_qbo_sync.group_sync_user")
        self.qbo_id = self.connection.qbo_company_id.id
        self.org_id = self.connection.billcom_org_id.id

    def call(self, model, method, args, kwargs=None):
        return self.make_jsonrpc_request("/web/dataset/call_kw", {
            "model": model, "method": method, "args": args, "kwargs": kwargs or {}})

    def test_no_secret_field_can_be_read_over_json_rpc(self):
        qbo, org = self.connection.qbo_company_id.sudo(), self.connection.billcom_org_id.sudo()
        secrets = {qbo.client_secret, qbo.access_token, qbo.refresh_token, org.dev_key, org.password} - {False}
        self.assertEqual(len(secrets), 5)
        for login in ("plain_user", "rpc_sync_user"):
            self.authenticate(login, login)
            for model, rid, names in (("billcom_qbo.qbo_company", self.qbo_id, QBO_SECRETS),
                                      ("billcom_qbo.billcom_org", self.org_id, BILLCOM_SECRETS)):
                for name in names:
                    with self.assertRaises(JsonRpcException, msg=f"{login} read {model}.{name}"):
                        self.call(model, "read", [[rid], [name]])
                    with self.assertRaises(JsonRpcException, msg=f"{login} search_read {model}.{name}"):
                        self.call(model, "search_read", [[]], {"fields": [name]})
                try:
                    everything = self.call(model, "read", [[rid]])
                except JsonRpcException:
                    everything = []  # a plain user may not read the record at all
                blob = repr(everything)
                self.assertFalse(set(names) & set(everything[0]) if everything else set())
                for secret in secrets:
                    self.assertNotIn(secret, blob)
