"""One engine process for the cross-process tests and the benchmark.

    python -m sync_engine.tests.pacing_worker '<json spec>'

The spec names the configuration file, the command (``preview``, ``sync`` or
``preferences``: one API call, refreshing the access token first when it has
none), whether to share pacing through a ``FileBoard`` (``board``: its path)
and the QBO refresh through the configuration's ``FileKeeper`` (``keeper``),
the QBO client's options (reduced limits, ...), an SQLite store, and a wall
time to start at, so two workers begin together. Prints one JSON line: what
the QBO client counted and the error, if any. Rotated tokens are written back
into the configuration file, as the command line does.
"""
import hashlib
import json
import sys
import time

from sync_engine.config import ConnectionConfig, write_json_file
from sync_engine.pacing import FileBoard
from sync_engine.remote import Remote
from sync_engine.service import SyncService
from sync_engine.store import SQLiteStore
from sync_engine.tokens import FileKeeper


def token_digest(token):
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else None


def main(argv=None):
    spec = json.loads((argv or sys.argv[1:])[0])
    path = spec["config"]
    config = ConnectionConfig.load(path)

    def save_tokens(tokens):
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle)
        data["qbo"].update(refresh_token=tokens.refresh_token, access_token=tokens.access_token,
                           access_token_expires_at=tokens.access_token_expires_at)
        write_json_file(path, data)

    board = FileBoard(spec["board"]) if spec.get("board") else None
    keeper = FileKeeper(path) if spec.get("keeper") else None
    remote = Remote(config, on_tokens=save_tokens, qbo_options=spec.get("qbo_options") or {},
                    pacing_board=board, token_keeper=keeper)
    service = SyncService(config, SQLiteStore(spec.get("store") or ":memory:"), remote=remote)
    time.sleep(max(0.0, float(spec.get("start_at") or 0) - time.time()))
    started = time.time()
    error = None
    try:
        if spec["command"] == "preview":
            service.preview()
        elif spec["command"] == "sync":
            result = service.run("manual", user="worker")
            if result.state not in ("done", "partial"):
                error = f"run ended {result.state}: {result.message}"
        elif spec["command"] == "preferences":
            remote.qbo.preferences()
        else:
            raise SystemExit(f"unknown command {spec['command']}")
    except Exception as exc:  # reported to the parent, which decides
        error = f"{type(exc).__name__}: {exc}"
    stats = remote.qbo.stats
    print(json.dumps({
        "command": spec["command"], "error": error, "seconds": round(time.time() - started, 3),
        "requests": sum(stats["requests"].values()), "throttled": stats["throttled_waits"],
        "throttle_wait_seconds": round(stats["throttle_wait_seconds"], 3),
        "pacing_wait_seconds": round(remote.qbo.pacing_wait_seconds, 3),
        "token_refreshes": stats["token_refreshes"], "token_adoptions": stats["token_adoptions"],
        # digests, not the tokens: enough to compare with what the file holds
        "refresh_token": token_digest(remote.qbo.refresh_token),
        "access_token": token_digest(remote.qbo.access_token)}), flush=True)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
