"""Where a QBO refresh is serialized: one refresh per company at a time,
across every process that talks to it.

QuickBooks rotates the refresh token: a refresh can answer a new one, and the
superseded one soon gets ``invalid_grant``. Intuit asks apps to always store
the latest value and to refresh only when the access token has expired
(reference: quickbooks-online-api.md, "Rotation", [PLATREQ]). Two processes
that refresh the same token at once would leave the loser with a dead token
and a false "reconnect the company".

A ``TokenKeeper`` holds a cross-process lock for the company while a client
refreshes; inside it the client sees the tokens as currently stored, adopts
them when another process has already refreshed, and otherwise refreshes and
stores the answer (``on_tokens``) before the lock is released.

* ``LocalKeeper``: a lock in this process only; nothing stored besides the client.
* ``FileKeeper``: the command line's configuration file; the lock is
  ``fcntl.flock`` on a sidecar file (``<config>.lock``, 0600), because the
  configuration itself is replaced by a rename on every save.
* The Odoo layer implements the same protocol with a row lock
  (``SELECT ... FOR UPDATE``) on the company's record.
"""
import contextlib
import fcntl
import json
import os
import threading
from dataclasses import dataclass, field

PRIVATE_MODE = 0o600


@dataclass
class StoredTokens:
    """The tokens as the keeper's store holds them right now."""

    refresh_token: str = field(default=None, repr=False)
    access_token: str = field(default=None, repr=False)
    access_token_expires_at: float = None

    def access_valid(self, now, margin=0.0):
        return bool(self.access_token) and self.access_token_expires_at is not None \
            and float(self.access_token_expires_at) - now > margin


class TokenKeeper:
    """The protocol: ``refreshing()`` is a context manager that holds a lock
    for the company across processes and yields the ``StoredTokens`` read
    under that lock (or None when the keeper stores nothing). Whatever the
    client stores through ``on_tokens`` inside the block is visible to the
    next holder."""

    def refreshing(self):
        raise NotImplementedError


_LOCAL_LOCKS = {}
_LOCAL_LOCKS_GUARD = threading.Lock()


def _local_lock(name):
    with _LOCAL_LOCKS_GUARD:
        return _LOCAL_LOCKS.setdefault(name, threading.Lock())


class LocalKeeper(TokenKeeper):
    """One refresh per company at a time in this process; nothing stored."""

    def __init__(self, realm_id=None):
        self._lock = _local_lock(("realm", realm_id)) if realm_id else threading.Lock()

    @contextlib.contextmanager
    def refreshing(self):
        with self._lock:
            yield None


class FileKeeper(TokenKeeper):
    """The tokens of a command-line configuration file (its ``qbo`` section),
    locked through ``<config>.lock`` so every process using the file refreshes
    one at a time and reads what the previous one saved."""

    def __init__(self, config_path, lock_path=None):
        self.config_path = os.fspath(config_path)
        self.lock_path = os.fspath(lock_path) if lock_path else self.config_path + ".lock"
        self._lock = _local_lock(("file", os.path.realpath(self.lock_path)))

    def read(self):
        try:
            with open(self.config_path, encoding="utf-8-sig") as handle:
                qbo = (json.load(handle) or {}).get("qbo") or {}
        except (OSError, ValueError):
            return StoredTokens()
        expires = qbo.get("access_token_expires_at")
        return StoredTokens(qbo.get("refresh_token"), qbo.get("access_token"),
                            float(expires) if expires else None)

    @contextlib.contextmanager
    def refreshing(self):
        with self._lock:  # flock is per open file: this orders the threads of this process
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield self.read()
            finally:
                os.close(fd)  # releases the flock
