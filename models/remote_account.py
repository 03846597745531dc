from odoo import fields, models
from odoo.tools import LazyTranslate

_lt = LazyTranslate(__name__)


class RemoteAccountMixin(models.AbstractModel):
    """What a Bill.com organization and a QuickBooks company have in common: an account of one
    Odoo company, in one environment, with the last error its service gave.

    A model using it names its service's sandbox in ``_sandbox_label``."""
    _name = "billcom_qbo.remote_account.mixin"
    _description = "Remote accounting service account"
    _inherit = ["mail.thread"]
    _order = "name, id"
    _sandbox_label = _lt("Sandbox")

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", string="Company", required=True, index=True,
        default=lambda self: self.env.company)
    environment = fields.Selection("_environment_selection", required=True, default="production", tracking=True)
    local_base_url = fields.Char("Local API URL", help="Base URL of a local sandbox of the service (testing only).")
    last_error = fields.Text(readonly=True, copy=False)

    def _environment_selection(self):
        """Where the account lives: production, the vendor's sandbox or a local URL."""
        return [
            ("production", self.env._("Production")),
            ("sandbox", self.env._(self._sandbox_label)),
            ("local", self.env._("Local sandbox URL")),
        ]
