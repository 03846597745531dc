"""Command line: ``python -m sync_engine demo | sandbox | preview | sync | reconcile``.

    demo                         sandboxes + a seeded small company: preview, sync, sync again, report
    sandbox [--seed demo|FILE]   run both sandboxes until interrupted; first line is JSON
    preview --config FILE        what a sync would do now (writes nothing)
    sync --config FILE           run the sync; exit 1 when the run failed
    reconcile --config FILE      the tie-out: every synced record compared on both sides;
                                 exit 0 when the books agree, 1 when they differ, 2 when
                                 it could not be computed
"""
import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections import Counter, defaultdict

from .config import OBJECT_TYPES, ConnectionConfig, write_json_file
from .errors import ConfigError, SyncError
from .pacing import FileBoard
from .secrets import Scrubber, ScrubbingFilter
from .tokens import FileKeeper


def _store(config, path=None):
    from .store import SQLiteStore
    return SQLiteStore(path or config.store_path or "sync-state.sqlite")


def _progress(stream):
    state = {"last": -1}

    def report(done, total, stage):
        pct = int(100 * done / total) if total else 100
        if pct != state["last"] and (pct % 10 == 0 or done == total):
            state["last"] = pct
            print(f"  {done}/{total} ({pct}%) {stage}", file=stream, flush=True)
        return True
    return report


REPORT_ACTIONS = ("create", "update", "link", "archive", "void", "skip", "conflict", "error", "failed")


def report_run(result, out, details=True):
    """Counts per object type and direction, then every skipped, held or failed record."""
    by_type = defaultdict(Counter)
    for key, n in result.counts.items():
        otype, direction, action = key.split("|")
        by_type[(otype, direction)][action] += n
    print(f"Run {result.run_id}: {result.state}" + (f" - {result.message}" if result.message else ""), file=out)
    print(f"{'object type':<18}{'direction':<17}" + "".join(f"{a:>9}" for a in
          REPORT_ACTIONS), file=out)
    for (otype, direction), counter in sorted(by_type.items(),
                                              key=lambda kv: (OBJECT_TYPES.index(kv[0][0]), kv[0][1])):
        print(f"{otype:<18}{direction:<17}" + "".join(f"{counter.get(a, 0):>9}" for a in
              REPORT_ACTIONS), file=out)
    notable = [l for l in result.lines
               if l.action in ("skip", "conflict", "error") or l.state == "failed" or l.rule_code]
    if not details:
        return
    if notable:
        print("Skipped, held, failed or synced with a note:", file=out)
    for line in notable:
        code = f"[{line.rule_code}] " if line.rule_code else ""
        err = f" ({line.remote_error})" if line.remote_error else ""
        print(f"  {line.action if line.state != 'failed' else 'failed':<9}{line.record}: {code}{line.message or ''}{err}",
              file=out)


def cmd_sandbox(args):
    from .sandbox import Sandboxes
    from .sandbox.seed import seed_demo, seed_file
    sb = Sandboxes(qbo_port=args.qbo_port, billcom_port=args.billcom_port, latency=args.latency).start()
    if args.seed == "demo":
        seed_demo(sb)
    elif args.seed:
        seed_file(sb, args.seed)
    print(json.dumps(sb.info()), flush=True)
    if args.write_config:
        config = sb.connection_config(store_path=os.path.splitext(args.write_config)[0] + ".sqlite")
        try:
            config.save(args.write_config)  # 0600 from the start: it holds the secrets
        except OSError as exc:
            sb.stop()
            print(f"error: {args.write_config}: cannot write the configuration ({exc.strerror or exc})",
                  file=sys.stderr)
            return 2
        print(f"configuration written to {args.write_config}", file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    sb.stop()
    return 0


def cmd_demo(args):
    from .sandbox import Sandboxes
    from .sandbox.seed import demo_next_day, seed_demo
    from .service import SyncService
    from .store import SQLiteStore
    out = sys.stdout
    with Sandboxes(latency=args.latency) as sb:
        seed_demo(sb)
        config = sb.connection_config(settings=sb.default_settings(sync_only_approved_bills=True))
        store = SQLiteStore(args.store or ":memory:")
        service = SyncService(config, store)
        print("== Preview (nothing is written) ==", file=out)
        plan = service.preview()
        print(plan.render(), file=out)
        writes_after_preview = len(sb.qbo.writes()) + len(sb.billcom.writes())
        print(f"(writes sent during the preview: {writes_after_preview})", file=out)
        print("\n== Sync ==", file=out)
        first = service.run("manual", user="demo")
        report_run(first, out)
        print("\n== Sync again (nothing changed) ==", file=out)
        before = len(sb.qbo.writes()) + len(sb.billcom.writes())
        second = service.run("manual", user="demo")
        report_run(second, out, details=False)
        moved = sum(1 for l in second.lines if l.action in ("create", "update", "link"))
        print(f"Records moved or linked: {moved}; writes sent: "
              f"{len(sb.qbo.writes()) + len(sb.billcom.writes()) - before}. (Records changed within the "
              "last two minutes are read again and skipped for the same reasons as above.)", file=out)
        print("\n== The next day: payments, a void and a deletion ==", file=out)
        for event in demo_next_day(sb):
            print(f"  {event}", file=out)
        third = service.run("manual", user="demo")
        report_run(third, out)
        print("\n== Tie-out ==", file=out)
        print(service.tie_out().render(), file=out)
        ok = all(r.state in ("done", "partial") for r in (first, second, third))
        return 0 if ok else 1


def cmd_preview_or_sync(args):
    from .service import SyncService
    try:
        config = ConnectionConfig.load(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scrub = Scrubber(source=config.secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(ScrubbingFilter(scrub))
    store = _store(config, args.store)

    def save_tokens(tokens):
        # keep the rotated refresh token at once, or the next run cannot connect; the
        # file is replaced in one step and keeps its mode (it holds the secrets)
        with open(args.config, encoding="utf-8-sig") as handle:
            data = json.load(handle)
        data["qbo"].update(refresh_token=tokens.refresh_token, access_token=tokens.access_token,
                           access_token_expires_at=tokens.access_token_expires_at)
        write_json_file(args.config, data)

    # Every process started on this configuration shares the accounts' rate windows and
    # serializes QBO refreshes through two files next to it (0600): a preview and a sync
    # started together, or two syncs, stay within the per-realm limits and never spend
    # a refresh token another process already rotated. Files next to the configuration
    # rather than tables in the SQLite store: the limits and the tokens belong to the
    # accounts the configuration names, while a store is chosen per command (--store)
    # and two stores may well talk to the same company.
    service = SyncService(config, store, on_tokens=save_tokens, progress=_progress(sys.stderr),
                          pacing_board=FileBoard(args.config + ".pacing"),
                          token_keeper=FileKeeper(args.config))
    try:
        if args.command == "reconcile":
            report = service.tie_out()
            if args.json:
                print(json.dumps(report.as_dict(), indent=1))
            else:
                print(report.render())
            return 0 if report.agrees else 1
        if args.command == "preview":
            plan = service.preview()
            if args.json:
                print(json.dumps({"lines": [l.as_dict() for l in plan.lines],
                                  "counts": {"|".join(k): v for k, v in plan.counts().items()}}, indent=1))
            else:
                print(plan.render())
            return 0
        result = service.run("manual", user=os.environ.get("USER"))
    except SyncError as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return 2 if args.command == "reconcile" else 1
    if args.json:
        tie_out = getattr(result, "tie_out", None)
        print(json.dumps({"run_id": result.run_id, "state": result.state, "message": result.message,
                          "counts": result.counts, "lines": [l.as_dict() for l in result.lines],
                          "tie_out": tie_out.as_dict() if tie_out else None}, indent=1))
    else:
        report_run(result, sys.stdout)
    return 0 if result.state in ("done", "partial") else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sync_engine", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("sandbox", help="run the local QBO and Bill.com sandboxes")
    p.add_argument("--qbo-port", type=int, default=0)
    p.add_argument("--billcom-port", type=int, default=0)
    p.add_argument("--seed", help="'demo' or a JSON file")
    p.add_argument("--write-config", help="write a sync configuration pointing at the sandboxes")
    p.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    p = sub.add_parser("demo", help="seed the sandboxes, preview, sync, sync again, report")
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--store", help="SQLite file for the sync state (default: in memory)")
    for name in ("preview", "sync", "reconcile"):
        p = sub.add_parser(name, help=f"{name} a connection from a configuration file")
        p.add_argument("--config", required=True)
        p.add_argument("--store", help="SQLite file (default: the config's store_path)")
        p.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    handlers = {"sandbox": cmd_sandbox, "demo": cmd_demo, "preview": cmd_preview_or_sync,
                "sync": cmd_preview_or_sync, "reconcile": cmd_preview_or_sync}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
