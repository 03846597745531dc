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
    field) in a text by a mask."""

    def __init__(self, secrets=()):
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secret):
        if secret and len(secret) >= 4 and secret not in self.secrets:
            self.secrets.append(secret)
            self.secrets.sort(key=len, reverse=True)

    def __call__(self, text):
        if not text:
            return text
        text = str(text)
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
