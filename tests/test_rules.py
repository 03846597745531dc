"""Rules are methods of the connection: a module that inherits
``billcom_qbo.connection`` and overrides ``_rule_<code>`` changes what the
engine decides, in the preview and in the run."""
from unittest.mock import patch

from odoo.tests import tagged

from ..models.engine import engine_rules
from .common import SyncCase


def _send_whatever_the_balance(self, total, balance, already_linked=False):
    """A company policy an integrator might add: partly paid bills go to Bill.com too."""
    return engine_rules.Verdict(True, "paid_in_qbo", "Sent whatever its balance (company policy).")


@tagged("post_install", "-at_install")
class TestRuleMethods(SyncCase):

    def assertPreviewAction(self, record, action, rule_code=None):
        with self.new_cursor() as env:
            self.assertPlanned(self.preview(env).line_ids, record, action, rule_code)

    def test_the_engine_follows_the_connections_rule_methods(self):
        self.assertPreviewAction("Bill HH-2150 (Hicks Hardware)", "skip", "paid_in_qbo")
        # what an inheriting module's override puts on the model class
        connection_class = type(self.env["billcom_qbo.connection"])
        with patch.object(connection_class, "_rule_paid_in_qbo", _send_whatever_the_balance):
            self.assertPreviewAction("Bill HH-2150 (Hicks Hardware)", "create")
        self.assertPreviewAction("Bill HH-2150 (Hicks Hardware)", "skip", "paid_in_qbo")

    def test_every_rule_has_a_method_on_the_connection(self):
        connection = self.connection
        for name in engine_rules.RULE_NAMES:
            self.assertTrue(callable(getattr(connection, f"_rule_{name}", None)), name)
        verdict = connection._rule_non_usd("CAD")
        self.assertEqual((verdict.allowed, verdict.code), (False, "non_usd"))
