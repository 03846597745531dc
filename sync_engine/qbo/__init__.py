"""QuickBooks Online REST client: OAuth2 refresh, query pages, CDC, batch, requestid, Fault parsing."""
from .client import (ACCOUNTING_SCOPE, AUTHORIZE_URL, PRODUCTION_BASE_URL, REVOKE_URL, SANDBOX_BASE_URL, TOKEN_URL,
                     BatchItem, CDCResult, QBOClient, TokenSet, quote, to_epoch)
from .errors import (CDCSecondTooFull, CDCWindowTooOld, DuplicateName, InvalidReference, ObjectNotFound,
                     QBOAuthError, QBOError, QBOMalformedResponse, QBOReconnectNeeded, QBOServerError, QBOThrottled,
                     QBOValidationError, StaleObject, error_from_fault)

__all__ = [
    "QBOClient", "TokenSet", "BatchItem", "CDCResult", "quote", "to_epoch", "error_from_fault",
    "ACCOUNTING_SCOPE", "AUTHORIZE_URL", "TOKEN_URL", "REVOKE_URL", "PRODUCTION_BASE_URL", "SANDBOX_BASE_URL",
    "QBOError", "QBOAuthError", "QBOReconnectNeeded", "QBOThrottled", "QBOServerError", "QBOMalformedResponse",
    "QBOValidationError", "StaleObject", "ObjectNotFound", "DuplicateName", "InvalidReference", "CDCWindowTooOld",
    "CDCSecondTooFull",
]
