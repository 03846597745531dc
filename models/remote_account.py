from odoo import fields, models


def environments(sandbox_label):
    """Where an account lives: production, the vendor's sandbox (``sandbox_label``) or a local URL."""
    return [
        ("production", "Production"),
        ("sandbox", sandbox_label),
        ("local", "Local sandbox URL"),
    ]


class RemoteAccountMixin(models.AbstractModel):
    """What a Bill.com organization and a QuickBooks company have in common: an account of one
    Odoo company, in one environment, with the last error its service gave.

    A model using it sets the sandbox label of ``environment`` and the help of ``local_base_url``."""
    _name = "billcom_qbo.remote_account.mixin"
    _description = "Remote accounting service account"
    _inherit = ["mail.thread"]
    _order = "name, id"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", string="Company", required=True, index=True,
        default=lambda self: self.env.company)
    environment = fields.Selection(environments("Sandbox"), required=True, default="production", tracking=True)
    local_base_url = fields.Char("Local API URL")
    last_error = fields.Text(readonly=True, copy=False)
