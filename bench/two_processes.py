"""Benchmark: a preview and a sync started at the same moment, in two
processes, on one QBO company with the documented limits (500 requests a
minute and 10 a second per realm; 40 batches a minute), once with the pacing
shared through a ``FileBoard`` and once with each process pacing on its own
(the old behaviour).

    python -m bench.two_processes [--workload half-small] [--latency 0.02]

Each mode gets a freshly generated company in sandboxes running in a process
of their own (``bench.sandbox_server``), so the sync has the same work to do.
Before the two processes start, the bench refreshes the QBO token once and
stores it, so neither process needs a refresh and the comparison is about
pacing alone. Prints a small table: requests QBO refused (429), seconds the
processes waited after those refusals, seconds their own pacing waited, and
the wall time until both had finished. Every request goes to 127.0.0.1.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from sync_engine.config import ConnectionConfig, write_json_file
from sync_engine.qbo.client import QBOClient

from .run import LOCAL_ONLY, ROOT, SandboxProcess, _say
from .workload import WORKLOADS


def _workers(path, specs, timeout):
    start_at = time.time() + 2.0  # both import first, then begin together
    procs = [subprocess.Popen([sys.executable, "-m", "sync_engine.tests.pacing_worker",
                               json.dumps({"config": path, "start_at": start_at, **spec})],
                              cwd=ROOT, env=LOCAL_ONLY, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for spec in specs]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=timeout)
        if not stdout.strip():
            raise RuntimeError(f"a worker failed:\n{stderr[-3000:]}")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out, time.time() - start_at


def one_mode(shared, workload, latency, timeout):
    with SandboxProcess(workload, latency) as sandbox, tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "connection.json")
        write_json_file(path, sandbox.config)
        config = ConnectionConfig.load(path)

        def save(tokens):
            data = dict(sandbox.config)
            data["qbo"] = dict(data["qbo"], refresh_token=tokens.refresh_token, access_token=tokens.access_token,
                               access_token_expires_at=tokens.access_token_expires_at)
            write_json_file(path, data)

        QBOClient.from_account(config.qbo, on_tokens=save).refresh()
        sandbox.ask("requests", reset=True)
        extra = {"board": path + ".pacing", "keeper": True} if shared else {}
        results, wall = _workers(path, [{"command": "preview", "store": os.path.join(tmp, "p.sqlite"), **extra},
                                        {"command": "sync", "store": os.path.join(tmp, "s.sqlite"), **extra}],
                                 timeout)
        server = sandbox.ask("requests")
    errors = [r["error"] for r in results if r["error"]]
    return {"mode": "shared board (FileBoard)" if shared else "per-process pacing (old)",
            "requests": server["qbo"].get("total", 0), "refused": server["qbo"].get("429", 0),
            "throttle_wait": sum(r["throttle_wait_seconds"] for r in results),
            "pacing_wait": sum(r["pacing_wait_seconds"] for r in results), "wall": wall,
            "errors": errors, "limits": sandbox.limits}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="half-small", choices=sorted(WORKLOADS))
    parser.add_argument("--latency", type=float, default=0.020, help="seconds per request (default 0.020)")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args(argv)
    rows = []
    for shared in (True, False):
        _say(f"{'shared board' if shared else 'per-process pacing'}: generating the company, then preview + sync")
        rows.append(one_mode(shared, args.workload, args.latency, args.timeout))
    limits = rows[0]["limits"]
    print(f"Preview and sync started together in two processes, one QBO realm "
          f"({limits['qbo_per_minute']}/min, {limits['qbo_per_second']}/s, "
          f"{limits['qbo_batches_per_minute']} batches/min), workload {args.workload}, latency {args.latency} s")
    header = f"{'pacing':<28}{'QBO requests':>13}{'refused (429)':>15}{'429 wait s':>12}{'pacing wait s':>15}{'wall s':>9}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['mode']:<28}{r['requests']:>13}{r['refused']:>15}{r['throttle_wait']:>12.1f}"
              f"{r['pacing_wait']:>15.1f}{r['wall']:>9.1f}")
    print("(both modes back off from 2 s after a 429; with the former flat wait each 429 cost 60 s)")
    for r in rows:
        for error in r["errors"]:
            print(f"{r['mode']}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
