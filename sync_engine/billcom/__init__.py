"""Bill.com v3 REST client: login/session, list pages with filters, writes, error parsing."""
from .client import PRODUCTION_BASE_URL, SANDBOX_BASE_URL, BillComClient, format_filters, format_sort
from .errors import (BillComAuthError, BillComError, BillComMalformedResponse, BillComServerError,
                     BillComUnavailable, BillComValidationError, NotFound, QuotaExceeded, SessionInvalid,
                     TooManyConcurrent)

__all__ = [
    "BillComClient", "format_filters", "format_sort", "BillComError", "BillComAuthError",
    "BillComMalformedResponse", "BillComServerError", "BillComUnavailable", "BillComValidationError",
    "NotFound", "QuotaExceeded", "SessionInvalid", "TooManyConcurrent", "PRODUCTION_BASE_URL", "SANDBOX_BASE_URL",
]
