"""Keeping secrets out of logs, errors and run lines.

A ``Scrubber`` masks, in any text:

* every secret value it knows (client secrets, tokens, passwords, keys);
* the HTTP Basic form of every client id / secret pair it knows
  (``base64(client_id:client_secret)``, as sent in ``Authorization: Basic``),
  whether or not the ``Basic`` word is next to it;
* any ``Authorization`` header value, ``Basic ...`` and ``Bearer ...``;
* credentials inside URLs: the userinfo of ``https://user:pass@host`` and the
  values of query parameters such as ``?refresh_token=...`` or ``&code=...``;
* fields shaped like a credential (``"password": "..."``, ``devKey=...``).
"""
import base64
import functools
import logging
import re
import urllib.parse

MASK = "********"

_SCHEME_CREDENTIAL = r"[A-Za-z0-9._~+/=-]{8,}"
_PATTERNS = [
    # an Authorization header (any spelling: "Authorization: ...", "authorization": "...")
    re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:(?:basic|bearer|digest|token)\s+)?)"
               r"[^\"'\s,;}\]]{4,}"),
    # the scheme and its credential anywhere else
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)" + _SCHEME_CREDENTIAL),
    # userinfo of a URL: scheme://user:password@host or scheme://token@host
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/?#\s@\"'<>]+(?=@)"),
    # query-string parameters that carry a credential
    re.compile(r"(?i)([?&][^=&#\s\"'<>]*(?:token|secret|password|passwd|pwd|key|signature|session|code|"
               r"credential|auth)[^=&#\s\"'<>]*=)[^&#\s\"'<>]+"),
    # session ids, keys and tokens written as fields of a body or a form
    re.compile(r"(?i)((?:sessionId|devKey|password|client_secret|refresh_token|access_token|id_token|api_key)"
               r"[\"']?\s*[:=]\s*[\"']?)[^\"'&,\s}]{4,}"),
]

# every pattern above needs a ':' or a '=', but the second: a text with none of
# the three (most run lines) is not searched five times
_SCHEME_WORD = re.compile(r"(?i)\b(?:bearer|basic)\s")


@functools.lru_cache(maxsize=64)
def _basic_forms(client_id, client_secret):
    raws = {f"{client_id}:{client_secret}",
            f"{urllib.parse.quote_plus(str(client_id))}:{urllib.parse.quote_plus(str(client_secret))}"}
    forms = []
    for raw in raws:
        data = raw.encode("utf-8")
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(data).decode("ascii")
            for form in (encoded, encoded.rstrip("=")):
                if form not in forms:
                    forms.append(form)
    return tuple(forms)


def basic_forms(client_id, client_secret):
    """Every way the Basic credential of a client id / secret pair is written:
    base64 of ``id:secret`` (as is, and form-encoded as RFC 6749 section 2.3.1
    says), with and without padding, standard and URL-safe alphabets."""
    if not client_id or not client_secret:
        return []
    if not isinstance(client_id, str) or not isinstance(client_secret, str):
        return list(_basic_forms.__wrapped__(client_id, client_secret))
    return list(_basic_forms(client_id, client_secret))   # the same pair is asked on every scrub


class Scrubber:
    """Replaces every known secret value (and anything shaped like a credential)
    in a text by a mask.

    ``secrets`` and what ``source`` (a callable, read on every call, so a token
    rotated during a run is masked too) returns may hold strings and
    ``(client_id, client_secret)`` pairs; for a pair the secret and its Basic
    forms are masked. Values once seen stay known, so a superseded token is
    masked as well."""

    def __init__(self, secrets=(), source=None):
        self.secrets = []
        self._last_learned = None
        self.source = source
        self.learn(secrets)

    def learn(self, secrets):
        if not secrets:
            return
        if isinstance(secrets, list):
            secrets = tuple(secrets)
        if isinstance(secrets, tuple):
            try:
                if secrets == self._last_learned:   # a source answering the same values on every call
                    return
            except TypeError:
                pass
        changed = False
        for secret in secrets or ():
            if isinstance(secret, tuple) and len(secret) == 2:
                values = [secret[1], *basic_forms(*secret)]
            else:
                values = [secret]
            for value in values:
                if value and isinstance(value, str) and len(value) >= 4 and value not in self.secrets:
                    self.secrets.append(value)
                    changed = True
        if changed:
            self.secrets.sort(key=len, reverse=True)
        if isinstance(secrets, tuple):
            self._last_learned = secrets

    def add(self, secret):
        self.learn([secret])

    def add_pair(self, client_id, client_secret):
        self.learn([(client_id, client_secret)])

    def __call__(self, text):
        self.refresh()
        return self.mask(text)

    def refresh(self):
        """Learn what ``source`` holds now (a token rotated since the last call)."""
        if self.source is not None:
            self.learn(self.source())

    def mask(self, text):
        """``text`` with every secret known so far masked (``refresh`` first to
        learn the source's latest: a caller scrubbing many texts at one moment
        asks the source once)."""
        if not text or not isinstance(text, str):
            return text
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        if ":" in text or "=" in text or _SCHEME_WORD.search(text):  # what every pattern needs
            for pattern in _PATTERNS:
                text = pattern.sub(lambda m: m.group(1) + MASK, text)
        return text


class ScrubbingFilter(logging.Filter):
    """A logging filter that scrubs each record's final message."""

    def __init__(self, scrubber):
        super().__init__()
        self.scrubber = scrubber

    def filter(self, record):
        message = record.getMessage()
        cleaned = self.scrubber(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
