"""Typed Bill.com errors, parsed from the v3 error array.

A v3 error response is an HTTP 4xx/5xx whose body is a JSON array::

    [{"timestamp": "...", "code": "BDC_1109", "severity": "ERROR",
      "category": "DOWNSTREAM", "message": "Session is invalid.  Please log in."}]

``BillComError.from_response`` turns such a body into the most specific class
below. The messages come from the response body only, so they never carry the
developer key, the session id or the password.
"""
import re

from ..errors import CONNECTION, MalformedResponse, RateLimited, ReconnectNeeded, RemoteError, RemoteUnavailable

SESSION_INVALID = "BDC_1109"
AUTH_CODES = frozenset({
    "BDC_1101",  # username/password do not match (or the other environment)
    "BDC_1102",  # invalid developer key
    "BDC_1103",  # inactive developer key
    "BDC_1104",  # developer terms not accepted
    "BDC_1107",  # organization locked out
    "BDC_1110",  # login locked
    "BDC_1111",  # no active user
    "BDC_1123",  # invalid organization id
})
QUOTA = "BDC_1144"
CONCURRENCY = "BDC_1322"
NO_DATA = "BDC_1120"

# "[3].name: ..." (bulk item 3) or "vendorId: ..." or "invoice.invoiceNumber: ..."
_FIELD_RE = re.compile(r"^\s*(?:\[(?P<index>\d+)\]\.?)?(?P<field>[A-Za-z_][\w.]*(?:\[\d+\][\w.]*)*)?\s*:\s")


def parse_error_array(body):
    """The list of error dicts in a v3 error body, or [] when it is not one."""
    if isinstance(body, dict):
        # tolerate a single error object or a wrapper some gateways produce
        if "code" in body or "message" in body:
            return [body]
        inner = body.get("errors") or body.get("error")
        if isinstance(inner, list):
            body = inner
        elif isinstance(inner, dict):
            return [inner]
        else:
            return []
    if not isinstance(body, list):
        return []
    return [item for item in body if isinstance(item, dict)]


class BillComError(RemoteError):
    """An error answered by Bill.com (or about talking to it)."""

    side = "Bill.com"

    def __init__(self, message, code=None, field=None, status=None, detail=None,
                 errors=None, index=None):
        super().__init__(message, code=code, field=field, status=status, detail=detail)
        self.errors = errors or []
        self.index = index  # position of the failing item in a bulk request

    @classmethod
    def from_response(cls, status, body, default_message=None):
        """Build the most specific error for an HTTP ``status`` and decoded ``body``."""
        errors = parse_error_array(body)
        first = errors[0] if errors else {}
        code = first.get("code")
        message = (first.get("message") or default_message
                   or f"Bill.com answered HTTP {status}").strip()
        field = index = None
        match = _FIELD_RE.match(message)
        if match:
            field = match.group("field")
            if match.group("index") is not None:
                index = int(match.group("index"))
        klass = error_class(status, code)
        detail = None
        if len(errors) > 1:
            detail = "; ".join(str(e.get("message", "")) for e in errors[1:])
        return klass(message, code=code, field=field, status=status, detail=detail,
                     errors=errors, index=index)


class SessionInvalid(BillComError):
    """BDC_1109: the session expired or was signed out; log in again."""

    retryable = True
    scope = CONNECTION


class BillComAuthError(BillComError, ReconnectNeeded):
    """The stored credentials were refused (BDC_1101/1102/1103/1123...)."""


class QuotaExceeded(BillComError, RateLimited):
    """BDC_1144: the hourly request quota of the developer key is used up."""


class TooManyConcurrent(BillComError, RateLimited):
    """BDC_1322: more than 3 requests in flight for this organization."""


class NotFound(BillComError):
    """The object (or the API path) does not exist."""


class BillComValidationError(BillComError):
    """Bill.com refused the request body or parameters (HTTP 400)."""


class BillComServerError(BillComError, RemoteUnavailable):
    """HTTP 5xx after bounded retries."""


class BillComUnavailable(BillComError, RemoteUnavailable):
    """Connection refused, dropped or timed out after bounded retries."""

    def __init__(self, message, outcome_unknown=False, **kwargs):
        super().__init__(message, **kwargs)
        # True when a write may have been applied although no answer came back
        self.outcome_unknown = outcome_unknown


class BillComMalformedResponse(BillComError, MalformedResponse):
    """Bill.com answered with something that is not the JSON expected."""


def error_class(status, code):
    if code == SESSION_INVALID:
        return SessionInvalid
    if code in AUTH_CODES:
        return BillComAuthError
    if code == QUOTA:
        return QuotaExceeded
    if code == CONCURRENCY:
        return TooManyConcurrent
    if status == 404 or code in (NO_DATA, "BDC_1121"):
        return NotFound
    if status == 401:
        return SessionInvalid
    if status == 429:
        return TooManyConcurrent
    if status and status >= 500:
        return BillComServerError
    if status and 400 <= status < 500:
        return BillComValidationError
    return BillComError
