"""Errors shared by both clients and the engine.

Every remote error carries the side, the remote code, a message fit for a
finance user and, when the remote API names it, the offending field. Messages
never contain credentials: clients build them from response bodies only.
"""


class SyncError(Exception):
    """Base of everything the engine raises on purpose."""


# What an error means for the run, so callers decide by type, not by name:
RECORD = "record"          # this record cannot be written as it is; the run goes on
CONNECTION = "connection"  # the connection itself is refused; the run stops, a person acts
RETRY = "retry"            # the remote side is busy or down; the run stops and is tried again later


class RemoteError(SyncError):
    side = "remote"
    retryable = False
    scope = RECORD

    def __init__(self, message, code=None, field=None, status=None, detail=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field
        self.status = status
        self.detail = detail

    def __str__(self):
        parts = [f"{self.side} error"]
        if self.code:
            parts.append(str(self.code))
        text = " ".join(parts) + f": {self.message}"
        if self.detail and self.detail not in self.message:
            text += f" ({self.detail})"
        if self.field:
            text += f" [field: {self.field}]"
        return text


class ReconnectNeeded(RemoteError):
    """The stored credentials no longer work; an administrator must reconnect."""

    scope = CONNECTION


class RateLimited(RemoteError):
    """The remote side asked us to slow down and retries ran out."""

    retryable = True
    scope = RETRY


class RemoteUnavailable(RemoteError):
    """5xx, timeouts and dropped connections after bounded retries."""

    retryable = True
    scope = RETRY


class MalformedResponse(RemoteError):
    """The remote side answered with something that is not the JSON we expect."""

    retryable = True
    scope = RETRY


class ConfigError(SyncError):
    """The connection's configuration is incomplete or wrong.

    ``file`` is the configuration file (when there is one), ``key`` the dotted
    name of the offending setting (``qbo.client_id``, ``settings.object_types[2]``),
    ``problem`` what is wrong with it and ``expected`` what it should be. The
    message is one line: ``file: key: problem; expected ...``."""

    def __init__(self, problem, file=None, key=None, expected=None):
        self.problem = _one_line(problem)
        self.file = file
        self.key = key
        self.expected = expected
        super().__init__(str(self))

    def __str__(self):
        parts = [str(p) for p in (self.file, self.key) if p]
        text = ": ".join(parts + [self.problem])
        if self.expected:
            text += f"; expected {self.expected}"
        return _one_line(text)


def _one_line(text):
    return " ".join(str(text).splitlines()).replace("\t", " ")


class SyncAlreadyRunning(SyncError):
    """Another run holds this connection (rule ``schedule``: one sync at a time)."""
