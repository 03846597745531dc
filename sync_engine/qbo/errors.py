"""QuickBooks Online errors, typed by what the caller should do next.

Every class is a subclass of the engine's shared errors (``sync_engine.errors``)
with ``side = "QuickBooks"``. ``error_from_fault`` turns a parsed QBO ``Fault``
(``{"type": ..., "Error": [{"Message", "Detail", "code", "element"}]}``) into
the matching instance; messages come from response bodies only, never from
tokens, secrets or request headers.
"""
from ..errors import CONNECTION, MalformedResponse, RateLimited, ReconnectNeeded, RemoteError, RemoteUnavailable


class QBOError(RemoteError):
    """Base of every QuickBooks error; carries the fault type, all error entries
    and Intuit's transaction id (``intuit_tid``) for support cases."""

    side = "QuickBooks"

    def __init__(self, message, code=None, field=None, status=None, detail=None, fault_type=None,
                 errors=None, intuit_tid=None):
        super().__init__(message, code=code, field=field, status=status, detail=detail)
        self.fault_type = fault_type
        self.errors = errors or []
        self.intuit_tid = intuit_tid


class QBOAuthError(QBOError):
    """QuickBooks refused the app's credentials or the access token (401/403)."""

    scope = CONNECTION


class QBOReconnectNeeded(QBOAuthError, ReconnectNeeded):
    """The refresh token no longer works (``invalid_grant``): reconnect the company."""


class QBOThrottled(QBOError, RateLimited):
    """HTTP 429 (or a 403 throttle body) after every allowed wait."""


class QBOServerError(QBOError, RemoteUnavailable):
    """5xx, SystemFault, timeouts and dropped connections after bounded retries."""


class QBOMalformedResponse(QBOError, MalformedResponse):
    """A body that is not the JSON QuickBooks should send."""


class QBOValidationError(QBOError):
    """A ValidationFault or another 4xx: the request must change before it can succeed."""


class StaleObject(QBOValidationError):
    """5010: the SyncToken sent is not the current one; re-read, re-apply, retry."""


class ObjectNotFound(QBOValidationError):
    """610: the object does not exist, was deleted or made inactive."""


class DuplicateName(QBOValidationError):
    """6240: the DisplayName is already used by a customer, vendor or employee."""


class InvalidReference(QBOValidationError):
    """2500: a reference (VendorRef, AccountRef, ...) points at nothing usable."""


class CDCWindowTooOld(QBOValidationError):
    """Change data capture only looks back 30 days; older cursors need a full read."""


class CDCSecondTooFull(QBOValidationError):
    """More changes share one second than a change data capture answer holds
    (1,000), and a window cannot be split below a second: only a full read
    sees them all."""


AUTH_CODES = {"100", "120", "3100", "3200"}
_BY_CODE = {"5010": StaleObject, "610": ObjectNotFound, "6240": DuplicateName, "2500": InvalidReference,
            "3001": QBOThrottled}


def error_from_fault(fault, status=None, intuit_tid=None):
    """The typed error for a parsed ``Fault`` (capitalised keys)."""
    errors = [e for e in (fault or {}).get("Error") or [] if isinstance(e, dict)]
    first = errors[0] if errors else {}
    code = str(first.get("code")) if first.get("code") not in (None, "") else None
    message = first.get("Message") or "QuickBooks reported an error"
    detail = first.get("Detail") or None
    field = first.get("element") or None
    fault_type = (fault or {}).get("type")
    if code in _BY_CODE:
        cls = _BY_CODE[code]
    elif code in AUTH_CODES or status in (401, 403) or fault_type in ("AuthenticationFault", "AuthorizationFault",
                                                                       "AUTHENTICATION", "AUTHORIZATION"):
        cls = QBOAuthError
    elif fault_type == "SystemFault" or (status or 0) >= 500 or (code and code.isdigit() and int(code) >= 10000):
        cls = QBOServerError
    else:
        cls = QBOValidationError
    return cls(message, code=code, field=field, status=status, detail=detail, fault_type=fault_type,
               errors=errors, intuit_tid=intuit_tid)
