"""Planning CPU per record, repeatable: the figure of ``bench.run``'s "engine
CPU per record planned" without the network, the sandboxes or the writes, so
that a change to the mapping or the planner can be compared on a busy machine.

    python -m bench.planning_cpu                      # the small company, 5 rounds
    python -m bench.planning_cpu --workload half --rounds 3
    python -m bench.planning_cpu --profile FILE       # cProfile of one more round
    python -m bench.planning_cpu --pages FILE         # seed and read once, keep them in FILE, reuse it

The generated company is seeded once into sandboxes in this process; every
QuickBooks page and Bill.com list a first sync reads is kept as it was
decoded (pickled a page at a time: the clients decode amounts as Decimals,
which JSON text would not keep) and the sandboxes stop. Each round plans the
first sync again through a remote that hands out those pages, each decoded
afresh when the planner asks for it, as a run holds one page at a time; the
decoding is not counted. Two figures a round, CPU per record planned:

* ``preview``: ``Planner.plan()``, as the wizard's preview plans (it holds
  every record to the end);
* ``run``: ``begin`` and each step timed as ``bench.engine_side`` times a
  run, with between steps the links the executor's creates would add saved
  to a store on disk (not counted), so later types find their vendors,
  customers and lists linked, and read their links a page at a time.

Each figure includes the garbage collector's pauses, shown apart. Left out:
the HTTP client's cost of reading the pages (see ``bench.transport_cpu``).
It prints figures only; it checks nothing.
"""
import argparse
import gc
import os
import pickle
import statistics
import tempfile
import time

from bench.engine_side import _GCTimer  # the garbage collector's pauses, as bench.run counts them
from sync_engine.config import ConnectionConfig
from sync_engine.mapping import ENTITIES
from sync_engine.memory import fewer_collections
from sync_engine.planner import Planner
from sync_engine.remote import Remote
from sync_engine.sandbox import Sandboxes
from sync_engine.store import Link, SQLiteStore

from .workload import WORKLOADS, seed_company

PAGE = 1000   # objects a QuickBooks query page holds (the most it allows)


class _Clock:
    def __init__(self, now):
        self._now = now

    def now(self):
        return self._now


class _Pages:
    """Pickled pages, decoded one at a time when asked for; the CPU time spent
    decoding is kept apart (``decoding``) so that it can be left out."""

    def __init__(self):
        self.decoding = 0.0

    def objects(self, pages):
        for page in pages:
            c0 = time.process_time()
            objects = pickle.loads(page)
            self.decoding += time.process_time() - c0
            yield from objects


class _Qbo:
    def __init__(self, pages, captured):
        self._pages, self._captured = pages, captured

    def query(self, select):
        return self._pages.objects(self._captured["qbo"].get(select.split()[-1], ()))

    def preferences(self):
        return pickle.loads(self._captured["preferences"])


class _BillCom:
    def __init__(self, pages, captured):
        self._pages, self._captured = pages, captured

    def list(self, collection, filters=None):
        return self._pages.objects(self._captured["billcom"].get(collection, ()))


class _Replay:
    """A remote that answers a first sync's reads from what ``capture`` kept."""

    def __init__(self, captured, clock):
        self.pages = _Pages()
        self.qbo, self.billcom = _Qbo(self.pages, captured), _BillCom(self.pages, captured)
        self.clock = clock


def _pickled_pages(objects):
    return [pickle.dumps(objects[i:i + PAGE]) for i in range(0, len(objects), PAGE)]


def capture(workload):
    """(the pages a first sync reads, the connection's config, the time it plans at)."""
    with Sandboxes() as sb:
        seed_company(sb, WORKLOADS[workload])
        config = sb.connection_config(store_path=":memory:")
        remote = Remote(config)
        entities = [ENTITIES[t][0] for t in config.object_types()] + ["Attachable"]
        captured = {
            "qbo": {e: _pickled_pages(list(remote.qbo.query(f"select * from {e}"))) for e in entities},
            "billcom": {ENTITIES[t][1]: _pickled_pages(list(remote.billcom.list(ENTITIES[t][1])))
                        for t in config.object_types()},
            "preferences": pickle.dumps(remote.qbo.preferences())}
        # planned two days after the company was entered, as bench.sandbox_server has it
        now = remote.clock.now() + 2 * 86400
    return captured, config, now


def _round(captured, config, now, pauses, run_like):
    """(CPU seconds, records planned, garbage collection seconds) of one plan,
    with the garbage collector passing as often as during a run."""
    with fewer_collections(), tempfile.TemporaryDirectory() as folder:   # a store on disk, as a run's
        store = SQLiteStore(os.path.join(folder, "sync.sqlite"))
        try:
            return _plan_with(captured, config, now, pauses, run_like, store)
        finally:
            store.close()


def _plan_with(captured, config, now, pauses, run_like, store):
    clock = _Clock(now)
    remote = _Replay(captured, clock)
    planner = Planner(config, store, remote, clock=clock)
    gc.collect()
    pauses.seconds, cpu, items = 0.0, 0.0, 0
    c0 = time.process_time()
    if not run_like:
        items = len(planner.plan().items)
        return time.process_time() - c0 - remote.pages.decoding, items, pauses.seconds
    plan = planner.begin()
    plan.links.batch = "bench"   # the token an executor's creates carry
    steps = planner.steps(plan)
    while True:
        step = next(steps, None)
        cpu += time.process_time() - c0
        if step is None:
            return cpu - remote.pages.decoding, items, pauses.seconds
        items += len(step)
        # the links the executor's creates would save: the store has them, and the
        # planner reads them back a page at a time, as in a run
        created = [Link(item.line.object_type, item.line.qbo_id, f"bc-{item.line.qbo_id}", created_in="bench")
                   for item in step if item.line.action == "create" and item.line.qbo_id]
        if created:
            store.save_links(created)
            for link in created:
                plan.links.created(link)
        c0 = time.process_time()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="small", choices=sorted(WORKLOADS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of one more run-like round to this file")
    parser.add_argument("--pages", help="keep the captured pages in this file, and when it exists plan its "
                                        "company again (to compare two versions of the code on the same pages)")
    args = parser.parse_args(argv)
    pauses = _GCTimer()
    t0 = time.perf_counter()
    if args.pages and os.path.exists(args.pages):
        with open(args.pages, "rb") as handle:
            workload, captured, config, now = pickle.load(handle)
        config = ConnectionConfig.from_dict(config)
    else:
        workload = args.workload
        captured, config, now = capture(workload)
        if args.pages:
            with open(args.pages, "wb") as handle:
                pickle.dump((workload, captured, config.to_dict(), now), handle)
    print(f"{WORKLOADS[workload].name}: pages ready in {time.perf_counter() - t0:.0f} s")
    figures = {"preview": [], "run": []}
    for n in range(args.rounds):
        for name in figures:
            cpu, items, collecting = _round(captured, config, now, pauses, run_like=name == "run")
            figures[name].append(cpu / items * 1e6)
            print(f"round {n + 1} {name:<8} {cpu:6.2f} s CPU for {items:,} records: {cpu / items * 1e6:5.1f} us "
                  f"a record ({collecting / items * 1e6:4.1f} us of it garbage collection)")
    for name, values in figures.items():
        print(f"{name:<8} us per record planned: min {min(values):.1f}, median {statistics.median(values):.1f}")
    if args.profile:
        import cProfile
        profile = cProfile.Profile()
        profile.runcall(_round, captured, config, now, pauses, True)
        profile.dump_stats(args.profile)
        print(f"cProfile of one run-like round (page decoding included): {args.profile}")


if __name__ == "__main__":
    main()
