"""Both clients for one connection, built from its configuration."""
from .billcom.client import BillComClient
from .pacing import Clock
from .qbo.client import QBOClient


class Remote:
    """``pacing_board`` (``pacing.PacingBoard``) holds both accounts' rate windows and
    ``token_keeper`` (``tokens.TokenKeeper``) serializes QBO refreshes; pass them to
    share the limits and the refresh with other processes (default: this process)."""

    def __init__(self, config, on_tokens=None, clock=None, qbo_options=None, billcom_options=None,
                 pacing_board=None, token_keeper=None):
        self.config = config
        self.clock = clock or Clock()
        qbo_options = dict(qbo_options or {})
        billcom_options = dict(billcom_options or {})
        if pacing_board is not None:
            qbo_options.setdefault("pacing_board", pacing_board)
            billcom_options.setdefault("pacing_board", pacing_board)
        if token_keeper is not None:
            qbo_options.setdefault("token_keeper", token_keeper)
        self.qbo = QBOClient.from_account(config.qbo, on_tokens=self._tokens_changed, clock=self.clock,
                                          **qbo_options)
        self.billcom = BillComClient.from_account(config.billcom, clock=self.clock, **billcom_options)
        self._on_tokens = on_tokens

    def _tokens_changed(self, tokens):
        # keep the in-memory config current so a second client built from it works too
        self.config.qbo.refresh_token = tokens.refresh_token
        self.config.qbo.access_token = tokens.access_token
        self.config.qbo.access_token_expires_at = tokens.access_token_expires_at
        if self._on_tokens:
            self._on_tokens(tokens)
