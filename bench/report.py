"""The benchmark's printed report: one table per scenario (requests by side and
endpoint, wall time, engine CPU, peak memory, each next to its floor), the
ratios, the targets marked met or missed, and a closing note on the misses."""
import math

from sync_engine.planner import PLAN_PAGE

from . import floor as floors
from .workload import WORKLOADS

SIDES = (("qbo", "QBO"), ("billcom", "Bill.com"))
AUTH = ("POST token", "POST login")
TARGET_REQUESTS = 1.05
TARGET_WALL = 1.25
TARGET_CPU_PLANNED_US = 50
TARGET_CPU_WRITTEN_US = 200
TARGET_MEMORY_MB = 120  # peak of a first sync at the mid-size company; a 10x one within 10% of it
TARGET_QUIET_SECONDS = 2.0
# what the Bill.com list pages above the floor are, in a first sync
WHY_ABOVE_THE_FLOOR = ("; Bill.com list pages: after its writes the run lists each collection it wrote 200 or more "
                       "records to once more, one page per 100 (999 through v2 with v2 bulk), so the next run "
                       "starts after them (sync_engine/billcom_cursors.py); with v2 bulk, one v3 page per v2 call "
                       "reads back what "
                       "it created; bulk calls are made per planned page of 1,000 QuickBooks records, so each "
                       "page may end with a call of fewer than 100")
TARGET_BILLCOM_MID = 600  # Bill.com requests of the mid-size first sync, with v2 bulk (--billcom-v2-bulk)
W = 16  # width of a figure column


def _n(value):
    return "-" if value is None else f"{value:,}"


def _s(value, digits=2):
    return "-" if value is None else f"{value:,.{digits}f}"


def _ratio(a, b):
    return a / b if a is not None and b else None


def requests_of(result):
    return {side: dict(result["requests"].get(side, {})) for side, _ in SIDES}


def total(requests, side=None):
    sides = [side] if side else [s for s, _ in SIDES]
    return sum(sum(requests.get(s, {}).values()) for s in sides)


def _order(key):
    method, _, path = key.partition(" ")
    return (key not in AUTH, method != "GET", path, method)


class Report:
    def __init__(self, results, workload):
        self.r = results
        self.workload = workload
        self.latency = results["latency"]
        self.targets = []   # (scenario, what, figure text, target text, met, shortfall text)
        self.notes = []

    # ------------------------------------------------------------- output
    def print(self):
        r = self.r
        print(f"Sync benchmark: {self.workload.name} company ({r['workload']}).")
        limits = r["limits"]
        print(f"Sandboxes on 127.0.0.1 in their own process, {self.latency * 1000:.0f} ms per request, limits "
              f"enforced: QBO {limits['qbo_per_minute']}/min, {limits['qbo_per_second']}/s, "
              f"{limits['qbo_batches_per_minute']} batches/min; Bill.com {limits['billcom_in_flight']} in flight, "
              f"{limits['billcom_per_hour']:,}/hour per developer key.")
        print("Engine figures come from the syncing process alone (CPU time of all its threads, peak resident "
              "memory); each sync runs in a fresh process.")
        print("floor: the fewest requests the documented sizes allow (QBO query pages of 1,000 and batches of 30; "
              "Bill.com list pages of 100, bulk creates of 100 bills or 20 of the others where a bulk endpoint "
              "exists, else one request a record); time floor: those requests at the latency each, QBO at most 10/s and 500/min, Bill.com at "
              "most 3 in flight, both sides in parallel.")
        if r.get("billcom_v2_bulk"):
            print("With billcom_v2_bulk on: what Bill.com's v2 bulk endpoint takes is created 100 a call after a "
                  "v2 sign-in; the floor counts those calls (doc/billcom-v2-bulk.md).")
        print()
        self.first_sync()
        for key, title in (("quiet_after_first", "quiet day right after the first sync (no changes)"),
                           ("quiet", "quiet day (no changes)"),
                           ("busy", self._busy_title())):
            self.day(key, title)
        self.memory()
        self.summary()
        self.story()

    def _busy_title(self):
        c = self.r["busy_changes"]
        return (f"busy day ({c['edited_bills'] + c['edited_invoices']:,} documents edited in QBO, "
                f"{c['payments']:,} bills paid in Bill.com)")

    def _table(self, title, columns, floor, wall_floor):
        """columns: [(heading, requests dict)]; the floor's column comes first."""
        print(f"== {title} ==")
        heads = ["floor"] + [h for h, _ in columns]
        print(f"{'side':<9}{'endpoint':<46}" + "".join(f"{h:>{W}}" for h in heads))
        for side, label in SIDES:
            keys = set(getattr(floor, side))
            for _, reqs in columns:
                keys |= set(reqs.get(side, {}))
            for key in sorted(keys, key=_order):
                row = [getattr(floor, side).get(key)] + [reqs.get(side, {}).get(key) for _, reqs in columns]
                print(f"{label:<9}{key:<46}" + "".join(f"{_n(v):>{W}}" for v in row))
        row = [floor.total()] + [total(reqs) for _, reqs in columns]
        print(f"{'':<9}{'total requests':<46}" + "".join(f"{_n(v):>{W}}" for v in row))
        return heads

    def _figures(self, rows, ncols):
        for label, values in rows:
            print(f"{'':<9}{label:<46}" + "".join(f"{v:>{W}}" for v in values[:ncols]))

    # ---------------------------------------------------------- scenarios
    def first_sync(self):
        r = self.r
        ours, per = r["first"], r.get("per_record")
        floor = r["floors"]["first"]
        wall_floor = floor.seconds(self.latency)
        columns = [("ours", requests_of(ours))]
        if per:
            columns.append(("per-record", requests_of(per)))
        self._table(f"first sync QBO -> Bill.com, {self.workload.name} company", columns, floor, wall_floor)
        plan_us = ours["plan_cpu"] / ours["planned"] * 1e6 if ours["planned"] else None
        exec_cpu = ours["cpu"] - ours["plan_cpu"]
        written_us = exec_cpu / ours["written"] * 1e6 if ours["written"] else None
        per_us = per["cpu"] / per["written"] * 1e6 if per and per["written"] else None
        rows = [
            ("wall time (s)", [_s(wall_floor), _s(ours["wall"]), _s(per["wall"]) if per else "-"]),
            ("engine CPU (s)", ["-", _s(ours["cpu"]), _s(per["cpu"]) if per else "-"]),
            ("  of which planning: reads, mapping, rules (s)", ["-", _s(ours["plan_cpu"]), "-"]),
            ("  of which garbage collector pauses (s)", ["-", _s(ours.get("gc_seconds")),
                                                         _s(per.get("gc_seconds")) if per else "-"]),
            ("records planned / written", ["-", f"{ours['planned']:,}/{ours['written']:,}",
                                           f"{per['read']:,}/{per['written']:,}" if per else "-"]),
            ("engine CPU per record planned (us)", ["-", _s(plan_us, 0), "-"]),
            ("engine CPU per record written (us)", ["-", _s(written_us, 0), _s(per_us, 0)]),
            ("peak memory of the engine (MB)", ["-", _s(ours["rss_peak_mb"], 0),
                                                _s(per["rss_peak_mb"], 0) if per else "-"]),
        ]
        self._figures(rows, 3 if per else 2)
        ours_total, per_total = total(requests_of(ours)), total(requests_of(per)) if per else None
        print(f"ratios: requests ours/floor {_s(_ratio(ours_total, floor.total()))}, "
              f"wall ours/time floor {_s(_ratio(ours['wall'], wall_floor))}"
              + (f"; per-record/ours: requests {_s(_ratio(per_total, ours_total), 1)}x, "
                 f"wall {_s(_ratio(per['wall'], ours['wall']), 1)}x" if per else ""))
        self._outcome("first sync", ours)
        if per:
            bc = total(requests_of(per), "billcom")
            hours = floors.quota_hours(bc)
            print(f"per-record way: one look-up and one write per record, no batch or bulk, at most "
                  f"{floors.BILLCOM_IN_FLIGHT} Bill.com requests in flight (the same cap as ours); "
                  f"{per['written']:,} records created, {per['counts']['skipped']:,} skipped by the same rules.")
            if hours:
                print(f"  Its {bc:,} Bill.com requests exceed the 20,000/hour quota, so its sandbox ran with the quota "
                      f"off; the quota would add {hours} hour(s) of waiting to the wall time above "
                      f"(computed: ceil({bc:,} / 20,000) - 1).")
            else:
                print(f"  Its {bc:,} Bill.com requests stay within the 20,000/hour quota: no quota wait "
                      f"(its sandbox runs with the quota off at every size).")
            same = r.get("billcom_after_first") == r.get("billcom_after_per_record")
            print(f"  Bill.com holds the same number of objects per collection after either sync: "
                  f"{'yes' if same else 'NO'}.")
        print()
        self._first_targets(ours, floor, wall_floor, plan_us, written_us, ours_total)

    def _outcome(self, label, result):
        if result.get("failed"):
            print(f"  {label}: {result['failed']} record(s) failed, e.g. {result.get('failures', [])[:2]}")
        server = result.get("server") or {}
        refused = (server.get("qbo", {}).get("429", 0) + server.get("billcom", {}).get("429", 0))
        waits = result.get("waits", {})
        print(f"  server side: QBO answered {server.get('qbo', {}).get('total', 0):,}, Bill.com "
              f"{server.get('billcom', {}).get('total', 0):,} request(s); refused by the limits: {refused}; "
              f"QBO client pacing waited {_s(waits.get('qbo_pacing_seconds'))} s; "
              f"Bill.com peak in flight {waits.get('billcom_peak_in_flight')}.")

    def day(self, key, title):
        result = self.r[key]
        floor = self.r["floors"]["busy" if key == "busy" else "quiet"]
        wall_floor = floor.seconds(self.latency)
        reqs = requests_of(result)
        self._table(title, [("ours", reqs)], floor, wall_floor)
        rows = [("wall time (s)", [_s(wall_floor), _s(result["wall"])]),
                ("engine CPU (s)", ["-", _s(result["cpu"])]),
                ("records read / planned / written", ["-", f"{result['read']:,}/{result['planned']:,}/"
                                                           f"{result['written']:,}"]),
                ("peak memory of the engine (MB)", ["-", _s(result["rss_peak_mb"], 0)])]
        self._figures(rows, 2)
        print(f"ratios: requests ours/floor {_s(_ratio(total(reqs), floor.total()))}, "
              f"wall ours/time floor {_s(_ratio(result['wall'], wall_floor))}")
        self._outcome(title.split(" (")[0], result)
        print()
        if key.startswith("quiet"):
            types = len(floors.SYNCED_TYPES)
            qbo = total(reqs, "qbo") - reqs["qbo"].get("POST token", 0)
            bc = total(reqs, "billcom") - reqs["billcom"].get("POST login", 0)
            met = qbo <= 1 and bc <= types
            self._target(title.split(" (")[0], "requests", f"QBO {qbo} + Bill.com {bc} (+ sign-ins)",
                         f"QBO <= 1, Bill.com <= {types} (1 per synced type)", met,
                         None if met else f"{qbo + bc - 1 - types:+,} request(s)")
            met = result["wall"] < TARGET_QUIET_SECONDS
            self._target(title.split(" (")[0], "wall time", f"{result['wall']:.2f} s", "< 2 s", met,
                         None if met else f"{result['wall'] - TARGET_QUIET_SECONDS:+.2f} s")
            if not (qbo <= 1 and bc <= types):
                extra = {k: v - floor.billcom.get(k, 0) for k, v in reqs["billcom"].items()
                         if v > floor.billcom.get(k, 0)}
                self.notes.append(
                    f"{title.split(' (')[0]}: Bill.com list pages beyond one per type: "
                    + ", ".join(f"{k} +{v}" for k, v in sorted(extra.items()))
                    + f" ({result['read']:,} records read although nothing changed). The Bill.com cursor is the "
                      "time the previous run started planning, so everything that run wrote afterwards is "
                      "listed again, once.")

    def memory(self):
        check = self.r.get("memory_check")
        if not check:
            return
        first = self.r["first"]
        half_docs = sum(check["census"]["qbo"].get(e, 0) for e in ("Bill", "Invoice"))
        full_docs = sum(self.r["census"]["qbo"].get(e, 0) for e in ("Bill", "Invoice"))
        growth = (first["rss_peak_mb"] - check["rss_peak_mb"]) / max(1, full_docs - half_docs) * 10_000
        print("== peak memory against the number of documents (first sync, ours) ==")
        print(f"{check['workload']}: {half_docs:,} documents, peak {check['rss_peak_mb']:.0f} MB "
              f"(wall {check['wall']:.1f} s)")
        print(f"{self.r['workload']}: {full_docs:,} documents, peak {first['rss_peak_mb']:.0f} MB")
        smaller = WORKLOADS.get(check.get("workload_key"))
        below_a_page = smaller is not None and not fills_a_page(smaller)
        print(f"growth: {growth:.1f} MB per 10,000 documents (process baseline after imports "
              f"{first['rss_base_mb']:.0f} MB)"
              + (f"; the smaller company's bills fill less than a page of {PLAN_PAGE:,}, so this is the page "
                 "being filled, not a slope" if below_a_page else ""))
        print()
        self.growth = growth
        if below_a_page:   # met None: not judged (see fills_a_page)
            met, shortfall = None, f"sizes below a page of {PLAN_PAGE:,} bills; python -m bench.memory " \
                                   "--sizes half,mid,large"
        else:
            met = growth < 2.0
            shortfall = None if met else f"+{growth:.1f} MB per 10,000 documents"
        self._target("first sync", "memory independent of the number of documents",
                     f"{growth:.1f} MB per 10,000 documents", "flat (streamed pages)", met, shortfall)

    # ------------------------------------------------------------ targets
    def _target(self, scenario, what, figure, target, met, shortfall):
        self.targets.append((scenario, what, figure, target, met, shortfall))

    def _first_targets(self, ours, floor, wall_floor, plan_us, written_us, ours_total):
        ratio = ours_total / floor.total()
        self._target("first sync", "requests", f"{ratio:.3f} x floor ({ours_total:,} / {floor.total():,})",
                     f"<= {TARGET_REQUESTS} x floor", ratio <= TARGET_REQUESTS,
                     None if ratio <= TARGET_REQUESTS else f"{ours_total - TARGET_REQUESTS * floor.total():+,.0f} "
                                                            "requests")
        wr = ours["wall"] / wall_floor
        self._target("first sync", "wall time", f"{wr:.2f} x time floor ({ours['wall']:.1f} s / {wall_floor:.1f} s)",
                     f"<= {TARGET_WALL} x time floor", wr <= TARGET_WALL,
                     None if wr <= TARGET_WALL else f"{ours['wall'] - TARGET_WALL * wall_floor:+.1f} s")
        self._target("first sync", "CPU per record planned", f"{plan_us:.0f} us", f"<= {TARGET_CPU_PLANNED_US} us",
                     plan_us <= TARGET_CPU_PLANNED_US,
                     None if plan_us <= TARGET_CPU_PLANNED_US else f"{plan_us - TARGET_CPU_PLANNED_US:+.0f} us")
        self._target("first sync", "CPU per record written", f"{written_us:.0f} us",
                     f"<= {TARGET_CPU_WRITTEN_US} us", written_us <= TARGET_CPU_WRITTEN_US,
                     None if written_us <= TARGET_CPU_WRITTEN_US else f"{written_us - TARGET_CPU_WRITTEN_US:+.0f} us")
        if self.workload.name == WORKLOADS["mid"].name:
            bc = sum((requests_of(ours).get("billcom") or {}).values())
            way = "with v2 bulk" if self.r.get("billcom_v2_bulk") else "v3 only (run with --billcom-v2-bulk)"
            self._target("first sync", f"Bill.com requests, {way}", f"{bc:,}", f"<= {TARGET_BILLCOM_MID}",
                         bc <= TARGET_BILLCOM_MID, None if bc <= TARGET_BILLCOM_MID else f"{bc - TARGET_BILLCOM_MID:+,}")
        mem = ours["rss_peak_mb"]
        self._target("first sync", "peak memory", f"{mem:.0f} MB", f"<= {TARGET_MEMORY_MB} MB",
                     mem <= TARGET_MEMORY_MB, None if mem <= TARGET_MEMORY_MB else f"{mem - TARGET_MEMORY_MB:+.0f} MB")
        # what the notes say about a miss
        if ratio > TARGET_REQUESTS:
            extra = []
            for side, label in SIDES:
                mine = ours["requests"].get(side, {})
                for key in sorted(set(mine) | set(getattr(floor, side)), key=_order):
                    d = mine.get(key, 0) - getattr(floor, side).get(key, 0)
                    if d:
                        extra.append(f"{label} {key} {d:+,}")
            self.notes.append("first sync requests above the floor: " + ", ".join(extra) + WHY_ABOVE_THE_FLOOR)
        if wr > TARGET_WALL:
            bc = total(requests_of(ours), "billcom")
            busy = bc * self.latency / ours["wall"]
            self.notes.append(
                f"first sync wall time: Bill.com had {busy:.2f} requests in flight on average (3 allowed); "
                f"planning took {ours['plan_wall']:.1f} s of wall time, reads included, with nothing being "
                f"written (a page is read and planned, then written); QBO pacing waited "
                f"{ours['waits']['qbo_pacing_seconds']:.1f} s; engine CPU {ours['cpu']:.1f} s "
                f"also competes with the sandboxes for the cores.")
        if plan_us > TARGET_CPU_PLANNED_US or written_us > TARGET_CPU_WRITTEN_US:
            self.notes.append(
                f"first sync CPU: planning {ours['plan_cpu']:.2f} s for {ours['planned']:,} records, carrying "
                f"out {ours['cpu'] - ours['plan_cpu']:.2f} s for {ours['written']:,} records; the second includes "
                f"the HTTP client's own cost per request ({total(requests_of(ours)):,} requests). "
                "Profile with --profile FILE.")
        if mem > TARGET_MEMORY_MB:
            self.notes.append(f"first sync memory: {mem:.0f} MB peak, {ours['rss_after_plan_mb']:.0f} MB once "
                              f"the plan of {ours['read']:,} records read was made; the rest grows while writing.")

    def summary(self):
        print("== targets (set for the mid-size company) ==")
        widths = [max(len(t[i]) for t in self.targets) + 2 for i in range(4)]
        for scenario, what, figure, target, met, shortfall in self.targets:
            # met None: this run cannot judge the figure (shortfall says why and what can)
            mark = "met" if met else f"not judged: {shortfall}" if met is None else f"MISSED by {shortfall}"
            print(f"{scenario:<{widths[0]}}{what:<{widths[1]}}{figure:<{widths[2]}}"
                  f"target {target:<{widths[3]}}{mark}")
        missed = [t for t in self.targets if not t[4] and t[4] is not None]
        print()
        if not missed:
            print("Closing note: every target is met.")
        else:
            print(f"Closing note: {len(missed)} target(s) missed: "
                  + "; ".join(f"{s} {w} ({short})" for s, w, _, _, _, short in missed) + ".")
            for note in self.notes:
                print(f"- {note}")
        print(f"Benchmark program ran {self.r['program_seconds']:.0f} s in all.")


def fills_a_page(workload):
    """Whether a company's bills fill a planned page: a run holds one page of a
    type at a time, so below a page memory grows with the page being filled,
    which says nothing of a company of many pages."""
    return workload.unpaid_bills >= PLAN_PAGE


# ------------------------------------------------------------------ the whole story
def _lat(latency):
    return f"{latency * 1000:.0f} ms" if latency < 1 else f"{latency:g} s"


def _duration(seconds):
    if seconds is None:
        return "-"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 100:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


class _Measured:
    """A first sync this run measured: its size, latency and figures."""

    def __init__(self, size, latency, ours, census, per=None, v2_bulk=False):
        self.size, self.latency, self.ours, self.census, self.per = size, latency, ours, census, per
        self.v2_bulk = v2_bulk
        self.docs = WORKLOADS[size].documents
        self.floor = floors.first_sync(census, v2_bulk)
        self.per_floor = floors.per_record(census)

    @property
    def label(self):
        return f"{self.size} @ {_lat(self.latency)}"

    def requests(self):
        return total(requests_of(self.ours))

    def cpu_written(self):
        o = self.ours
        return (o["cpu"] - o["plan_cpu"]) / o["written"] * 1e6 if o.get("written") else None

    def cpu_planned(self):
        o = self.ours
        return o["plan_cpu"] / o["planned"] * 1e6 if o.get("planned") else None

    def wall_ratio(self):
        return self.ours["wall"] / self.floor.seconds(self.latency, quota=False)

    def per_requests(self):
        return total(requests_of(self.per)) if self.per else None

    def per_wall_ratio(self):
        return self.per["wall"] / self.per_floor.seconds(self.latency, quota=False) if self.per else None

    def per_cpu_written(self):
        return self.per["cpu"] / self.per["written"] * 1e6 if self.per and self.per.get("written") else None

    # what a miss measured here is made of
    def wall_cause(self):
        o = self.ours
        bc = total(requests_of(o), "billcom")
        busy = bc * self.latency / o["wall"] if o["wall"] else 0
        return (f"{self.label}: planning took {o['plan_wall']:.1f} s of wall time, reads included, with "
                f"nothing being written (a page is read and planned, then written); Bill.com averaged "
                f"{busy:.2f} requests in flight (3 allowed); QBO pacing waited "
                f"{o['waits']['qbo_pacing_seconds']:.1f} s; engine CPU {o['cpu']:.1f} s shares 2 cores with the "
                "sandboxes")

    def cpu_written_cause(self):
        o = self.ours
        n = self.requests()
        carry = o["cpu"] - o["plan_cpu"]
        if self.v2_bulk:
            return (f"{self.label}: {carry:.1f} s of CPU carrying out {o['written']:,} records in {n:,} requests "
                    "(100 a v2 call): their bodies, reading back and mapping what each call created, each "
                    "link's snapshot of both sides, the store, the check of the cursors after the run"
                    + _load_note(o))
        return (f"{self.label}: {n / o['written']:.2f} requests a record written (customers and invoices have no "
                f"v3 bulk endpoint: one request each); {carry / n * 1e6:.0f} us of CPU a request carrying out, the "
                "HTTP client's own share included (python -m bench.transport_cpu)" + _load_note(o))

    def cpu_planned_cause(self):
        o = self.ours
        return (f"{self.label}: {o['plan_cpu']:.2f} s planning {o['planned']:,} records: reading and decoding "
                "every QBO page, mapping, the rules"
                + ("; fixed costs (sign-ins, one list per type) weigh on a small company" if o["planned"] < 5000
                   else "") + _load_note(o))


def _load_note(result):
    load = result.get("load")
    return f"; machine load average {load[0]:.1f}-{load[1]:.1f} on {load[2]} cores during it" if load else ""


def _nearest(measured, size, latency=None):
    """The measured run closest in size (same latency when given), larger ones first on a tie."""
    docs = WORKLOADS[size].documents
    pool = [m for m in measured if latency is None or m.latency == latency] or measured
    return min(pool, key=lambda m: (abs(math.log(m.docs / docs)), -m.docs, m.latency != latency))


def _fit(points):
    """Least squares line through (documents, MB): (MB at 0, MB per document)."""
    if len(points) == 1:
        return points[0][1], 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0
    return my - slope * mx, slope


def _story_runs(r):
    st = r["story"]
    v2 = r.get("billcom_v2_bulk", False)
    runs = [_Measured(st["workload_key"], r["latency"], r["first"], r["census"], r.get("per_record"), v2)]
    check = r.get("memory_check")
    if check:
        runs.append(_Measured(check["workload_key"], r["latency"], check, check["census"], v2_bulk=v2))
    slow = r.get("slow_check")
    if slow:
        runs.append(_Measured(slow["workload_key"], slow["latency"], slow, slow["census"], v2_bulk=v2))
    return runs


def _story(self):
    r = self.r
    if not r.get("story"):
        return
    st = r["story"]
    measured = _story_runs(r)
    by_key = {(m.size, m.latency): m for m in measured}
    mem_points = {}
    for m in measured:
        mem_points.setdefault(m.docs, []).append(m.ours["rss_peak_mb"])
    # the line is drawn through the sizes that fill a page only (fills_a_page)
    paged = {m.docs for m in measured if fills_a_page(WORKLOADS[m.size])}
    points = sorted((d, sum(v) / len(v)) for d, v in mem_points.items() if d in paged)
    fits = bool(points)
    base, slope = _fit(points) if fits else (0.0, 0.0)
    fit_label = f"fit over {len(points)} size(s) of a page or more"
    rows, causes = [], []

    def verdict(met, shortfall, cause):
        if met:
            return "met"
        causes.append((len(rows) + 1, cause))
        return f"MISSED by {shortfall} [{len(causes)}]"

    for size in st["sizes"]:
        workload = WORKLOADS[size]
        for latency in st["latencies"]:
            m = by_key.get((size, latency))
            census = m.census if m else workload.expected_census()
            floor = floors.first_sync(census, r.get("billcom_v2_bulk", False))
            pfloor = floors.per_record(census)
            t_floor, t_floor_free = floor.seconds(latency), floor.seconds(latency, quota=False)
            p_quota = pfloor.seconds(latency) - pfloor.seconds(latency, quota=False)
            head = f"{size} ({workload.documents:,} documents)"
            # requests
            src = m or _nearest(measured, size)
            how = "measured" if m else f"projected ({src.label})"
            ours_req = src.requests() if m else round(floor.total() * src.requests() / src.floor.total())
            psrc = m if m and m.per else next((x for x in measured if x.per), None)
            if psrc is m and m:
                per_req, per_how = m.per_requests(), "measured"
            elif psrc:
                per_req = round(pfloor.total() * psrc.per_requests() / psrc.per_floor.total())
                per_how = "projected"
            else:
                per_req, per_how = pfloor.total(), "floor"
            ratio = ours_req / floor.total()
            rows.append((head, _lat(latency), "requests", f"{ours_req:,}", how, f"{floor.total():,}", f"{ratio:.3f}",
                         f"{per_req:,} ({per_how})", f"{per_req / ours_req:.1f} x", f"<= {TARGET_REQUESTS} x floor",
                         verdict(ratio <= TARGET_REQUESTS, f"{ours_req - TARGET_REQUESTS * floor.total():+,.0f}",
                                 f"requests above the floor at {src.label}{WHY_ABOVE_THE_FLOOR}")))
            # wall time
            wsrc = m or _nearest(measured, size, latency)
            if m:
                wall, how = m.ours["wall"], "measured"
            else:
                wall = t_floor_free * wsrc.wall_ratio() + (t_floor - t_floor_free)
                how = f"projected ({wsrc.label})"
            pw = m if m and m.per else (psrc if psrc and psrc.latency == latency else None) or psrc
            if m and m.per:
                per_wall, per_how = m.per["wall"] + p_quota, "measured"
            elif pw:
                per_wall = pfloor.seconds(latency, quota=False) * pw.per_wall_ratio() + p_quota
                per_how = "projected"
            else:
                per_wall, per_how = pfloor.seconds(latency), "floor"
            if p_quota >= 60:
                per_how += f", {_duration(p_quota)} of quota wait computed"
            wr = wall / t_floor
            quota_note = f" incl. {(t_floor - t_floor_free) / 3600:.0f} h quota" if t_floor > t_floor_free else ""
            rows.append((head, _lat(latency), "wall time", _duration(wall), how, _duration(t_floor) + quota_note,
                         f"{wr:.2f}", f"{_duration(per_wall)} ({per_how})", f"{per_wall / wall:.1f} x",
                         f"<= {TARGET_WALL} x floor",
                         verdict(wr <= TARGET_WALL, _duration(wall - TARGET_WALL * t_floor),
                                 ("" if m else f"projected with the ratio {wsrc.wall_ratio():.2f} measured at "
                                                f"{wsrc.label}; there: ") + wsrc.wall_cause())))
            # CPU per record
            csrc = m or _nearest(measured, size)
            how = "measured" if m else f"projected ({csrc.label})"
            cw, cp = csrc.cpu_written(), csrc.cpu_planned()
            pc = (m.per_cpu_written() if m and m.per else None)
            rows.append((head, _lat(latency), "CPU per record written", f"{cw:.0f} us", how, "-", "-",
                         f"{pc:.0f} us (measured)" if pc else "-", f"{pc / cw:.1f} x" if pc else "-",
                         f"<= {TARGET_CPU_WRITTEN_US} us",
                         verdict(cw <= TARGET_CPU_WRITTEN_US, f"+{cw - TARGET_CPU_WRITTEN_US:.0f} us",
                                 csrc.cpu_written_cause())))
            rows.append((head, _lat(latency), "CPU per record planned", f"{cp:.0f} us", how, "-", "-", "-", "-",
                         f"<= {TARGET_CPU_PLANNED_US} us",
                         verdict(cp <= TARGET_CPU_PLANNED_US, f"+{cp - TARGET_CPU_PLANNED_US:.0f} us",
                                 csrc.cpu_planned_cause())))
            # memory
            if m:
                mem, how = m.ours["rss_peak_mb"], "measured"
            else:
                same = [x for x in measured if x.size == size]
                if same:
                    mem, how = same[0].ours["rss_peak_mb"], f"as measured ({same[0].label})"
                elif not fits:
                    rows.append((head, _lat(latency), "peak memory", "-",
                                 f"not projected (sizes measured < a page of {PLAN_PAGE:,}; bench.memory)",
                                 "-", "-", "-", "-",
                                 f"<= {TARGET_MEMORY_MB} MB", "not measured"))
                    continue
                else:
                    mem, how = base + slope * workload.documents, f"projected ({fit_label})"
            rows.append((head, _lat(latency), "peak memory", f"{mem:.0f} MB", how, "-", "-", "-", "-",
                         f"<= {TARGET_MEMORY_MB} MB",
                         verdict(mem <= TARGET_MEMORY_MB, f"+{mem - TARGET_MEMORY_MB:.0f} MB",
                                 f"memory grows {slope * 10_000:.1f} MB per 10,000 documents over the measured "
                                 f"sizes ({', '.join(f'{d:,} docs {v:.0f} MB' for d, v in points)})")))
    heads = ("company", "latency", "figure", "ours", "how", "floor", "ours/floor", "per-record way",
             "per-record/ours", "target", "verdict")
    widths = [max(len(str(x[i])) for x in rows + [heads]) + 2 for i in range(len(heads))]
    print()
    print("== the whole story: first sync QBO -> Bill.com at every size and latency ==")
    print("measured: this run ran it; projected: the floor (computed from the company's sizes) times the ratio "
          "measured at the run named, for memory a straight line through the measured sizes; the per-record "
          "way's wall time includes the hours Bill.com's 20,000 requests/hour quota makes it wait (computed).")
    print("".join(f"{h:<{w}}" for h, w in zip(heads, widths)).rstrip())
    last = None
    for row in rows:
        if last is not None and row[:2] != last:
            print()
        last = row[:2]
        print("".join(f"{str(v):<{w}}" for v, w in zip(row, widths)).rstrip())
    if causes:
        print()
        print("why each miss happens (measured causes):")
        seen = {}
        for n, (row, cause) in enumerate(causes, 1):
            first = seen.setdefault(cause, n)
            print(f"[{n}] " + (cause if first == n else f"as [{first}]"))
    met = sum(1 for row in rows if row[-1] == "met")
    # a figure this run could not give (memory in --small) is neither met nor missed
    unmeasured = sum(1 for row in rows if row[-1] == "not measured")
    judged = len(rows) - unmeasured
    print(f"story: {met} of {judged} figures meet their target"
          + (f" ({unmeasured} not measured here)" if unmeasured else "") + "; measured runs: "
          + ", ".join(m.label for m in measured) + ".")


Report.story = _story
