from odoo.tests import TransactionCase, tagged

from ..models.engine import engine_config


@tagged("post_install", "-at_install")
class TestInstall(TransactionCase):

    def test_object_types_match_engine(self):
        codes = self.env["billcom_qbo.object_type"].search([]).mapped("code")
        self.assertEqual(tuple(codes), engine_config.OBJECT_TYPES)

    def test_cron_installed(self):
        cron = self.env.ref("billcom_qbo_sync.ir_cron_daily_sync")
        self.assertTrue(cron.active)
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
