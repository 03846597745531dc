"""Both clients for one connection, built from its configuration."""
from .billcom.client import BillComClient
from .pacing import Clock
from .qbo.client import QBOClient


class Remote:
    def __init__(self, config, on_tokens=None, clock=None, qbo_options=None, billcom_options=None):
        self.config = config
        self.clock = clock or Clock()
        self.qbo = QBOClient.from_account(config.qbo, on_tokens=self._tokens_changed, clock=self.clock,
                                          **(qbo_options or {}))
        self.billcom = BillComClient.from_account(config.billcom, clock=self.clock, **(billcom_options or {}))
        self._on_tokens = on_tokens

    def _tokens_changed(self, tokens):
        # keep the in-memory config current so a second client built from it works too
        self.config.qbo.refresh_token = tokens.refresh_token
        self.config.qbo.access_token = tokens.access_token
        self.config.qbo.access_token_expires_at = tokens.access_token_expires_at
        if self._on_tokens:
            self._on_tokens(tokens)
