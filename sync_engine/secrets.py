"""Keeping secrets out of logs, errors and run lines."""
import logging
import re

MASK = "********"
# Bearer tokens, session ids and keys that may appear in an echoed request
_PATTERNS = [re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
             re.compile(r"(?i)((?:sessionId|devKey|password|client_secret|refresh_token|access_token)"
                        r"[\"']?\s*[:=]\s*[\"']?)[^\"'&,\s}]{4,}")]


class Scrubber:
    """Replaces every known secret value (and anything shaped like a credential
    field) in a text by a mask.

    ``source`` (a callable returning the current secrets) is read on every call,
    so a token rotated during a run is masked too; values once seen stay known,
    so a superseded token is masked as well."""

    def __init__(self, secrets=(), source=None):
        self.secrets = []
        self.source = source
        self.learn(secrets)

    def learn(self, secrets):
        changed = False
        for secret in secrets or ():
            if secret and isinstance(secret, str) and len(secret) >= 4 and secret not in self.secrets:
                self.secrets.append(secret)
                changed = True
        if changed:
            self.secrets.sort(key=len, reverse=True)

    def add(self, secret):
        self.learn([secret])

    def __call__(self, text):
        if not text or not isinstance(text, str):
            return text
        if self.source is not None:
            self.learn(self.source())
        for secret in self.secrets:
            text = text.replace(secret, MASK)
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
