"""How the QuickBooks Online client reads QBO's answers: token responses,
Faults (JSON in either spelling, or the XML throttle body), entity bodies,
query pages, change data capture and batch responses, and the shapes they are
read into (``TokenSet``, ``CDCResult``)."""
import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from .errors import QBOMalformedResponse, error_from_fault

_META_KEYS = ("startPosition", "maxResults", "totalCount")


# ----------------------------------------------------------------- value objects
@dataclass
class TokenSet:
    """What a token response grants; every one reaches ``on_tokens`` at once."""

    access_token: str = field(repr=False)
    access_token_expires_at: float
    refresh_token: str = field(repr=False)
    refresh_token_expires_at: float
    refresh_token_hard_expires_at: float = None
    realm_id: str = None


@dataclass
class CDCResult:
    """Changes since a point in time. ``entities`` maps each entity name to its
    changed objects (active ones by LastUpdatedTime, then deleted stubs);
    ``checkpoint`` (epoch seconds) is where the next call should start."""

    entities: dict
    checkpoint: float
    requests: int = 0

    @property
    def checkpoint_iso(self):
        return _iso_utc(self.checkpoint)

    def active(self, entity):
        return [o for o in self.entities.get(entity, []) if o.get("status") != "Deleted"]

    def deleted(self, entity):
        return [o for o in self.entities.get(entity, []) if o.get("status") == "Deleted"]

    def count(self):
        return sum(len(v) for v in self.entities.values())


# ----------------------------------------------------------------- wire parsing
def _iso_utc(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")


def to_epoch(value):
    """datetime (naive = UTC) | epoch number | ISO string -> epoch seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def quote(value):
    """A string literal for the query language: backslash-escaped, in single quotes."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def _normalize_fault(fault):
    """The 401 body's lower-camel ``fault`` -> the usual capitalised shape."""
    errors = []
    for err in fault.get("error") or fault.get("Error") or []:
        errors.append({"Message": err.get("message", err.get("Message")),
                       "Detail": err.get("detail", err.get("Detail")),
                       "code": err.get("code"), "element": err.get("element")})
    return {"type": fault.get("type"), "Error": errors}


def parse_xml_fault(text):
    """``<IntuitResponse><Fault type=..><Error code=..>`` -> capitalised Fault dict, or None."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return None
    fault = None
    for node in root.iter():
        if node.tag.split("}")[-1] == "Fault":
            fault = node
            break
    if fault is None:
        return None
    errors = []
    for err in fault:
        if err.tag.split("}")[-1] != "Error":
            continue
        entry = {"code": err.get("code"), "element": err.get("element")}
        for child in err:
            entry[child.tag.split("}")[-1]] = (child.text or "").strip()
        errors.append(entry)
    return {"type": fault.get("type"), "Error": errors}


def find_fault(payload):
    """The Fault in a parsed JSON body (either spelling), normalised, or None."""
    if not isinstance(payload, dict):
        return None
    if isinstance(payload.get("Fault"), dict):
        return payload["Fault"]
    if isinstance(payload.get("fault"), dict):
        return _normalize_fault(payload["fault"])
    return None


def is_throttle(fault):
    return any(str(e.get("code")) == "3001" or "ThrottleExceeded" in str(e.get("Message", ""))
               for e in (fault or {}).get("Error") or [])


def entity_of(payload, entity=None):
    """The entity object in ``{"Bill": {...}, "time": ...}``."""
    if not isinstance(payload, dict):
        raise QBOMalformedResponse("QuickBooks answered with an unexpected body")
    if entity:
        for key, value in payload.items():
            if key.lower() == entity.lower() and isinstance(value, dict):
                return value
    candidates = [v for k, v in payload.items() if k != "time" and isinstance(v, dict)]
    if len(candidates) == 1:
        return candidates[0]
    raise QBOMalformedResponse(f"QuickBooks's answer holds no {entity or 'entity'} object")


def parse_query_response(payload, entity=None):
    """(entity name, rows, startPosition, maxResults) of a QueryResponse; rows=[] when empty."""
    response = payload.get("QueryResponse") if isinstance(payload, dict) else None
    if not isinstance(response, dict):
        raise QBOMalformedResponse("QuickBooks's answer has no QueryResponse")
    name, rows = entity, []
    for key, value in response.items():
        if key in _META_KEYS:
            continue
        if isinstance(value, list) and (entity is None or key.lower() == entity.lower()):
            name, rows = key, value
            break
    return name, rows, response.get("startPosition"), response.get("maxResults", len(rows))


def parse_cdc_response(payload):
    """{entity: [objects]} from a CDCResponse."""
    try:
        groups = payload["CDCResponse"][0]["QueryResponse"]
    except (KeyError, IndexError, TypeError):
        raise QBOMalformedResponse("QuickBooks's answer has no CDCResponse") from None
    out = {}
    for group in groups or []:
        for key, value in (group or {}).items():
            if key in _META_KEYS or not isinstance(value, list):
                continue
            out.setdefault(key, []).extend(value)
    return out


def parse_batch_response(payload, items=None):
    """{bId: entity dict | query rows | QBOError} from a BatchItemResponse, matched by bId."""
    entries = payload.get("BatchItemResponse") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise QBOMalformedResponse("QuickBooks's answer has no BatchItemResponse")
    wanted = {i.bId: i for i in items or []}
    out = {}
    for entry in entries:
        bid = entry.get("bId")
        if "Fault" in entry:
            out[bid] = error_from_fault(entry["Fault"], status=200)
        elif "QueryResponse" in entry:
            out[bid] = parse_query_response(entry)[1]
        else:
            item = wanted.get(bid)
            try:
                out[bid] = entity_of({k: v for k, v in entry.items() if k != "bId"},
                                     item.entity if item else None)
            except QBOMalformedResponse as exc:
                out[bid] = exc
    for bid in wanted:
        if bid not in out:
            out[bid] = QBOMalformedResponse(f"QuickBooks returned no result for batch item {bid}")
    return out


def parse_token_response(payload, now, realm_id=None):
    try:
        access = payload["access_token"]
        refresh = payload["refresh_token"]
        expires_in = float(payload.get("expires_in", 3600))
        refresh_in = float(payload.get("x_refresh_token_expires_in", 0))
    except (KeyError, TypeError, ValueError):
        raise QBOMalformedResponse("QuickBooks's token answer is missing the tokens") from None
    hard = payload.get("x_refresh_token_hard_expires_in")
    return TokenSet(access_token=access, access_token_expires_at=now + expires_in, refresh_token=refresh,
                    refresh_token_expires_at=now + refresh_in,
                    refresh_token_hard_expires_at=(now + float(hard)) if hard is not None else None,
                    realm_id=realm_id)


def _lut(obj):
    meta = obj.get("MetaData") or {}
    stamp = meta.get("LastUpdatedTime")
    return to_epoch(stamp) if stamp else None
