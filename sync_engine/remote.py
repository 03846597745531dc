"""Both clients for one connection, built from its configuration."""
from .billcom.client import BillComClient
from .pacing import Clock
from .qbo.client import QBOClient


class Remote:
    def __init__(self, config, on_tokens=None, clock=None, qbo_options=None, billcom_options=None):
        self.config = config
        self.clock = clock or Clock()
        q = config.qbo
        self.qbo = QBOClient(
            q.base_url, q.realm_id, q.client_id, q.client_secret, q.refresh_token, q.token_url,
            revoke_url=q.revoke_url, access_token=q.access_token,
            access_token_expires_at=q.access_token_expires_at, on_tokens=self._tokens_changed,
            clock=self.clock, **(qbo_options or {}))
        b = config.billcom
        self.billcom = BillComClient(b.base_url, b.dev_key, b.username, b.password, b.organization_id,
                                     clock=self.clock, **(billcom_options or {}))
        self._on_tokens = on_tokens

    def _tokens_changed(self, tokens):
        # keep the in-memory config current so a second client built from it works too
        self.config.qbo.refresh_token = tokens.refresh_token
        self.config.qbo.access_token = tokens.access_token
        self.config.qbo.access_token_expires_at = tokens.access_token_expires_at
        if self._on_tokens:
            self._on_tokens(tokens)
