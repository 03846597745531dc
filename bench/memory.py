"""Peak memory of a first sync against the number of documents.

    python -m bench.memory                        # small, half and mid-size companies
    python -m bench.memory --sizes half-small,small,half
    python -m bench.memory --sizes half,mid,large --billcom-v2-bulk
    python -m bench.memory --sizes half,mid,large --billcom-v2-bulk --tie-out

Each company is generated into fresh local sandboxes (``bench.run``) and
synced once, QBO -> Bill.com, in a fresh process that reports its own peak
resident memory (``bench.engine_side``). Printed: documents and peak memory
per size, and the slope of peak memory against documents (least squares, MB
per 10,000 documents). A run planned and carried out a page at a time holds
the link map and the current page, so the slope is the link map's alone.
With ``--tie-out`` each sync is followed by the tie-out of both books, in a
fresh process of its own, and a second table gives its peak against documents.
"""
import argparse
import os
import shutil
import sys
import tempfile

from . import run
from .run import SandboxProcess, sync
from .workload import WORKLOADS

DOCUMENT_ENTITIES = ("Bill", "Invoice")  # documents, as bench.report counts them


def _say(text):
    print(f"[memory] {text}", file=sys.stderr, flush=True)


def slope(points):
    """Least-squares slope of (documents, MB) points, in MB per 10,000 documents."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    if not var:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var * 10_000


def main(argv=None):
    parser = argparse.ArgumentParser(description="Peak memory of a first sync against the number of documents.")
    parser.add_argument("--sizes", default="small,half,mid",
                        help="companies, comma-separated, from: " + ", ".join(sorted(WORKLOADS)))
    parser.add_argument("--latency", type=float, default=0.020, help="seconds per request (default 0.020)")
    parser.add_argument("--billcom-v2-bulk", action="store_true",
                        help="the connection setting billcom_v2_bulk on (a large company's first sync then fits "
                             "Bill.com's hourly quota)")
    parser.add_argument("--tie-out", action="store_true",
                        help="after each first sync, the tie-out of both books in a fresh process, and its peak")
    args = parser.parse_args(argv)
    run.V2_BULK = args.billcom_v2_bulk
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in WORKLOADS]
    if unknown:
        parser.error(f"unknown size(s): {', '.join(unknown)}")
    work = tempfile.mkdtemp(prefix="bench-memory-")
    rows, tie_outs = [], []
    try:
        for name in sizes:
            workload = WORKLOADS[name]
            timeout = 3600 if workload.documents > 5000 else 600
            _say(f"{workload.name}: first sync")
            with SandboxProcess(name, args.latency, timeout=timeout) as sb:
                result = sync(sb, "engine", os.path.join(work, f"{name}.sqlite"), timeout)
                documents = sum(sb.census["qbo"].get(e, 0) for e in DOCUMENT_ENTITIES)
                if args.tie_out:
                    _say(f"{workload.name}: tie-out")
                    tie_outs.append((workload.name, documents,
                                     sync(sb, "tie_out", os.path.join(work, f"{name}.sqlite"), timeout)))
            rows.append((workload.name, documents, result))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("== peak memory against the number of documents (first sync QBO -> Bill.com) ==")
    print(f"{'company':<16}{'documents':>10}{'peak MB':>9}{'baseline MB':>13}{'wall s':>8}  state")
    for name, documents, result in rows:
        print(f"{name:<16}{documents:>10,}{result['rss_peak_mb']:>9.1f}{result['rss_base_mb']:>13.1f}"
              f"{result['wall']:>8.1f}  {result['state']}")
    if len(rows) > 1:
        points = sorted((documents, result["rss_peak_mb"]) for _, documents, result in rows)
        print(f"slope: {slope(points):.2f} MB per 10,000 documents (least squares over {len(points)} sizes)")
        # below a full page of each type the page itself still grows; between the two
        # largest sizes only what is held for the whole run does
        top = slope(points[-2:])
        documents, peak = points[-1]
        print(f"slope between the two largest: {top:.2f} MB per 10,000 documents; at that slope "
              f"{10 * documents:,} documents would peak near {peak + top * 9 * documents / 10_000:.0f} MB "
              f"(projected, not measured)")
    if tie_outs:
        _print_tie_outs(tie_outs)
    return 0


def _print_tie_outs(rows):
    print()
    print("== peak memory of the tie-out after that sync (both books read, every link compared) ==")
    print(f"{'company':<16}{'documents':>10}{'peak MB':>9}{'wall s':>8}{'QBO req':>9}{'Bill.com req':>14}  verdict")
    for name, documents, result in rows:
        requests = result["requests"]
        print(f"{name:<16}{documents:>10,}{result['rss_peak_mb']:>9.1f}{result['wall']:>8.1f}"
              f"{sum(requests['qbo'].values()):>9,}{sum(requests['billcom'].values()):>14,}  {result['verdict']}")
    if len(rows) > 1:
        points = sorted((documents, result["rss_peak_mb"]) for _, documents, result in rows)
        print(f"slope: {slope(points):.2f} MB per 10,000 documents (least squares over {len(points)} sizes)")


if __name__ == "__main__":
    sys.exit(main())
