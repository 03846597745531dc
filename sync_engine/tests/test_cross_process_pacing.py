"""Rate limits and the QBO refresh shared by processes: the pacing board
(``FileBoard``), the token keeper (``FileKeeper``) and the throttle waits.

The two-process tests start real engine processes (``pacing_worker``) against
the sandboxes on 127.0.0.1, with reduced limits so they run in seconds."""
import datetime
import email.utils
import json
import os
import stat
import subprocess
import sys
import threading
import time

import pytest

from sync_engine.config import OrgFacts
from sync_engine.pacing import FakeClock, FileBoard, LocalBoard, RateLimiter, retry_after
from sync_engine.qbo.errors import QBOReconnectNeeded
from sync_engine.sandbox import Sandboxes
from sync_engine.sandbox.seed import seed_demo
from sync_engine.tokens import FileKeeper, StoredTokens, TokenKeeper

from sync_engine.tests.pacing_worker import token_digest
from sync_engine.qbo.client import QBOClient

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TWO_WAY = OrgFacts(datetime.date(2020, 3, 2), datetime.date(2020, 3, 2), False)


# ============================================================ FileBoard
@pytest.mark.parametrize("make", [lambda tmp: FileBoard(tmp / "board"), lambda tmp: LocalBoard()])
def test_a_board_takes_while_every_window_has_room(tmp_path, make):
    board = make(tmp_path)
    limits = [(3, 1.0), (5, 60.0)]
    assert [board.take("k", limits, 100.0 + i * 0.1) for i in range(3)] == [0.0, 0.0, 0.0]
    # the 1 s window is full: wait until the first request leaves it, nothing recorded
    assert board.take("k", limits, 100.5) == pytest.approx(0.5)
    assert board.take("k", limits, 100.5) == pytest.approx(0.5)
    assert board.take("k", limits, 101.0) == 0.0
    assert board.take("k", limits, 101.2) == 0.0
    # now the minute window (5) is full: the oldest leaves it at 160.0
    assert board.take("k", limits, 102.0) == pytest.approx(58.0)
    assert board.take("other", limits, 102.0) == 0.0  # keys are independent
    assert board.take("k", limits, 160.0) == 0.0


def test_a_penalty_holds_every_user_of_the_key_until_it_ends(tmp_path):
    one, two = FileBoard(tmp_path / "board"), FileBoard(tmp_path / "board")
    one.penalize("qbo:1:requests", 130.0)
    assert two.take("qbo:1:requests", [(10, 1)], 100.0) == pytest.approx(30.0)
    assert two.take("qbo:1:requests", [], 129.0) == pytest.approx(1.0)  # no windows: only the hold
    assert two.take("qbo:2:requests", [(10, 1)], 100.0) == 0.0
    assert one.take("qbo:1:requests", [(10, 1)], 130.0) == 0.0
    one.penalize("qbo:1:requests", 120.0)  # an earlier end never shortens a hold
    one.penalize("qbo:1:requests", 140.0)
    one.penalize("qbo:1:requests", 135.0)
    assert two.take("qbo:1:requests", [], 130.0) == pytest.approx(10.0)


def test_the_file_is_private_and_keeps_only_the_windows(tmp_path):
    path = tmp_path / "board"
    board = FileBoard(path)
    for i in range(50):
        board.take("k", [(100, 1.0)], 100.0 + i * 0.5)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["keys"]["k"]["times"] == [124.0, 124.5]  # only the last second's requests are kept
    board.penalize("h", 10.0)
    board.take("k", [(100, 1.0)], 200.0)
    data = json.loads(path.read_text())
    assert "h" not in data["held"] and data["keys"]["k"]["times"] == [200.0]
    path.write_text("not json")  # a torn file starts the windows again instead of failing
    assert board.take("k", [(1, 1.0)], 300.0) == 0.0


def test_threads_and_processes_share_a_file_board_exactly(tmp_path):
    """Four processes of four threads each take from one key at once: never more
    than the window allows, whatever the interleaving."""
    path = tmp_path / "board"
    script = ("import sys, time\n"
              "from concurrent.futures import ThreadPoolExecutor\n"
              "from sync_engine.pacing import FileBoard\n"
              "b = FileBoard(sys.argv[1])\n"
              "def go(_):\n"
              "    return sum(1 for _ in range(25) if b.take('k', [(30, 3600)], 1000.0) == 0.0)\n"
              "with ThreadPoolExecutor(4) as ex:\n"
              "    print(sum(ex.map(go, range(4))))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True) for _ in range(4)]
    taken = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(taken) == 30
    assert len(json.loads(path.read_text())["keys"]["k"]["times"]) == 30


def test_a_rate_limiter_on_a_board_sleeps_through_the_clock(tmp_path):
    clock = FakeClock(start=1000.0)
    board = FileBoard(tmp_path / "board")
    a = RateLimiter([(2, 1.0)], clock, board=board, key="k")
    b = RateLimiter([(2, 1.0)], clock, board=board, key="k")
    a.acquire()
    b.acquire()
    a.acquire()  # the third within a second, from either limiter, waits
    assert clock.sleeps == [1.0] and a.waited == 1.0 and b.waited == 0.0
    b.penalize(5)
    a.acquire()
    assert clock.sleeps == [1.0, 5.0]


@pytest.mark.parametrize("make", [lambda tmp: FileBoard(tmp / "board"), lambda tmp: LocalBoard()])
def test_a_request_counts_in_its_window_from_when_its_answer_came_back(tmp_path, make):
    """The server counts a request when it arrives, which may be well after our
    slot was taken (a busy machine, a full connection pool): counted from the
    answer, the next request never lands inside the server's window."""
    clock = FakeClock(start=1000.0)
    board = make(tmp_path)
    limiter = RateLimiter([(2, 1.0)], clock, board=board, key="k")
    with limiter.request():
        clock.advance(0.4)  # the first answer takes 0.4 s
    with limiter.request():
        pass
    assert board.history("k") == [1000.4, 1000.4]
    with limiter.request():  # the third waits a full second from the first answer, not 0.6 s
        pass
    assert clock.sleeps == [pytest.approx(1.0)]


@pytest.mark.parametrize("make", [lambda tmp: FileBoard(tmp / "board"), lambda tmp: LocalBoard()])
def test_a_late_answer_keeps_the_window_in_time_order(tmp_path, make):
    board = make(tmp_path)
    assert board.take("k", [(2, 1.0)], 100.0) == board.take("k", [(2, 1.0)], 100.1) == 0.0
    board.restamp("k", 100.1, 100.2)
    board.restamp("k", 100.0, 100.9)  # the first request's answer came back last
    assert board.history("k") == [100.2, 100.9]
    assert board.take("k", [(2, 1.0)], 101.0) == pytest.approx(0.2)  # the earliest answer leaves first
    board.restamp("k", 99.0, 101.0)  # a request no longer in its window: nothing changes
    assert board.history("k") == [100.2, 100.9]


def test_retry_after_reads_seconds_and_http_dates():
    now = 1_800_000_000.0
    assert retry_after({"Retry-After": "7"}, now) == 7.0
    assert retry_after({"Retry-After": email.utils.formatdate(now + 12, usegmt=True)}, now) == pytest.approx(12)
    assert retry_after({"Retry-After": email.utils.formatdate(now - 12, usegmt=True)}, now) == 0.0
    assert retry_after({"Retry-After": "soon"}, now) is None
    assert retry_after({}, now) is None
    assert retry_after({"Retry-After": "99999"}, now, cap=60) == 60


# ============================================================ throttle waits
def make_client(sandbox, clock, **options):
    options.setdefault("timeout", 5)
    return QBOClient(sandbox.base_url, sandbox.realm_id, sandbox.client_id, sandbox.client_secret,
                     sandbox.initial_refresh_token, sandbox.token_url, clock=clock, **options)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sandbox(clock):
    from sync_engine.sandbox.qbo import QBOSandbox
    sb = QBOSandbox(clock=clock, timeout_fault_seconds=0.5)
    sb.start()
    yield sb
    sb.stop()


def test_a_429_with_retry_after_waits_that_long_and_holds_the_board(sandbox, clock, tmp_path):
    board = FileBoard(tmp_path / "board")
    client = make_client(sandbox, clock=clock, pacing_board=board)
    client.preferences()
    sandbox.retry_after = 9
    sandbox.inject("429", path="/preferences$")
    held = []
    real_sleep = clock.sleep

    def sleep(seconds):  # what another process sees while this one waits
        held.append(board.take(f"qbo:{sandbox.realm_id}:requests", [], clock.now()))
        real_sleep(seconds)

    clock.sleep = sleep
    client.preferences()
    assert clock.sleeps == [9] and held == [pytest.approx(9)]
    assert client.stats["throttle_wait_seconds"] == 9


def test_a_429_without_retry_after_backs_off_from_two_seconds(sandbox, clock, tmp_path):
    client = make_client(sandbox, clock=clock, pacing_board=FileBoard(tmp_path / "board"), throttle_jitter=0)
    client.preferences()
    sandbox.inject("429", count=4, path="/preferences$")
    client.preferences()
    assert clock.sleeps == [2, 4, 8, 16]
    capped = make_client(sandbox, clock=clock, throttle_jitter=0, throttle_wait=5, max_retries=6,
                         access_token=client.access_token, access_token_expires_at=client.access_token_expires_at)
    clock.sleeps.clear()
    sandbox.inject("429", count=4, path="/preferences$")
    capped.preferences()
    assert clock.sleeps == [2, 4, 5, 5]


# ============================================================ token keeper
class DictKeeper(TokenKeeper):
    """A keeper over a dict; ``before`` runs as the lock is taken (a race)."""

    def __init__(self, stored):
        self.stored = stored
        self.before = []
        self.lock = threading.Lock()

    def refreshing(self):
        keeper = self

        class Block:
            def __enter__(self):
                keeper.lock.acquire()
                if keeper.before:
                    keeper.before.pop(0)()
                return StoredTokens(**keeper.stored)

            def __exit__(self, *exc):
                keeper.lock.release()
                return False

        return Block()

    def save(self, tokens):
        self.stored.update(refresh_token=tokens.refresh_token, access_token=tokens.access_token,
                           access_token_expires_at=tokens.access_token_expires_at)


def test_stored_tokens_refreshed_by_another_process_are_adopted(sandbox, clock):
    keeper = DictKeeper({"refresh_token": sandbox.initial_refresh_token})
    other = make_client(sandbox, clock=clock, token_keeper=keeper, on_tokens=keeper.save)
    other.preferences()  # refreshes and stores
    mine = make_client(sandbox, clock=clock, token_keeper=keeper, on_tokens=keeper.save)
    mine.preferences()  # its refresh token is superseded: it adopts instead of spending it
    assert mine.stats["token_refreshes"] == 0 and mine.stats["token_adoptions"] == 1
    assert mine.access_token == other.access_token and mine.refresh_token == keeper.stored["refresh_token"]


def test_a_superseded_refresh_token_is_replaced_by_the_stored_one_before_it_is_spent(sandbox, clock):
    keeper = DictKeeper({"refresh_token": sandbox.initial_refresh_token})
    other = make_client(sandbox, clock=clock, token_keeper=keeper, on_tokens=keeper.save)
    other.preferences()
    clock.advance(3600)  # the stored access token has expired too
    mine = make_client(sandbox, clock=clock, token_keeper=keeper, on_tokens=keeper.save)
    mine.preferences()
    assert mine.stats["token_refreshes"] == 1 and keeper.stored["refresh_token"] in sandbox.refresh_tokens()


def test_invalid_grant_after_the_stored_tokens_changed_adopts_them(sandbox, clock):
    """Another writer (not using the keeper) rotated the token between our read and
    our refresh: QBO refuses ours, and the client takes what is stored now."""
    keeper = DictKeeper({"refresh_token": sandbox.initial_refresh_token})
    mine = make_client(sandbox, clock=clock, token_keeper=keeper, on_tokens=keeper.save)
    outsider = make_client(sandbox, clock=clock)

    outsider_tokens = []
    outsider.on_tokens = outsider_tokens.append
    real_refresh_now = mine._refresh_now

    def refresh_now():
        if not outsider_tokens:  # we have read the old token; the outsider rotates it now
            outsider.refresh()
            keeper.save(outsider_tokens[0])
        return real_refresh_now()

    mine._refresh_now = refresh_now
    mine.preferences()
    assert mine.stats["token_adoptions"] == 1 and mine.access_token == outsider.access_token


def test_invalid_grant_with_nothing_new_stored_still_asks_to_reconnect(sandbox, clock):
    keeper = DictKeeper({"refresh_token": "RT1-not-a-token"})
    client = make_client(sandbox, clock=clock, token_keeper=keeper, on_tokens=keeper.save)
    with pytest.raises(QBOReconnectNeeded, match="reconnect the company"):
        client.preferences()


def test_the_file_keeper_locks_a_private_sidecar_and_reads_the_file(tmp_path):
    config = tmp_path / "conn.json"
    config.write_text(json.dumps({"qbo": {"refresh_token": "r1", "access_token": "a1",
                                          "access_token_expires_at": 2000.0}}))
    keeper = FileKeeper(config)
    with keeper.refreshing() as stored:
        assert stored == StoredTokens("r1", "a1", 2000.0)
        assert stored.access_valid(1000.0, 60) and not stored.access_valid(1990.0, 60)
        # another process cannot take the lock meanwhile
        probe = subprocess.run([sys.executable, "-c",
                                "import fcntl, os, sys\n"
                                "fd = os.open(sys.argv[1], os.O_RDWR)\n"
                                "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
                                "except BlockingIOError:\n    print('held')\n",
                                str(config) + ".lock"], capture_output=True, text=True, timeout=30)
        assert probe.stdout.strip() == "held"
    assert stat.S_IMODE(os.stat(str(config) + ".lock").st_mode) == 0o600


# ============================================================ two real processes
def _company(tmp_path, qbo_options=None):
    sb = Sandboxes(qbo_options=qbo_options).start()
    seed_demo(sb)
    config = sb.connection_config(facts=TWO_WAY, settings=sb.default_settings())
    path = tmp_path / "connection.json"
    config.save(str(path))
    return sb, str(path)


def _workers(path, specs, timeout=120):
    start_at = time.time() + 2.0  # all import first, then begin together
    procs = []
    for spec in specs:
        spec = {"config": path, "start_at": start_at, **spec}
        procs.append(subprocess.Popen([sys.executable, "-m", "sync_engine.tests.pacing_worker", json.dumps(spec)],
                                      cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=timeout)
        assert stdout.strip(), stderr
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


# the sandbox and both processes with a reduced per-second limit, so the overlap shows in seconds
REDUCED = {"rate_per_second": 4, "rate_per_minute": 500}


def test_a_preview_and_a_sync_started_together_draw_no_429(tmp_path):
    sb, path = _company(tmp_path, qbo_options=REDUCED)
    try:
        board = path + ".pacing"
        preview, sync = _workers(path, [
            {"command": "preview", "board": board, "keeper": True, "qbo_options": REDUCED,
             "store": str(tmp_path / "preview.sqlite")},
            {"command": "sync", "board": board, "keeper": True, "qbo_options": REDUCED,
             "store": str(tmp_path / "sync.sqlite")}])
        assert preview["error"] is None and sync["error"] is None, (preview, sync)
        assert sb.qbo.throttled == 0
        assert preview["throttled"] == sync["throttled"] == 0
        assert preview["requests"] + sync["requests"] > 2 * REDUCED["rate_per_second"]  # they did overlap
        # one refresh between them: the other process adopted the stored tokens
        assert preview["token_refreshes"] + sync["token_refreshes"] == 1
        assert stat.S_IMODE(os.stat(board).st_mode) == 0o600
    finally:
        sb.stop()


def test_two_processes_refreshing_the_same_token_both_end_connected(tmp_path):
    sb, path = _company(tmp_path)
    try:
        results = _workers(path, [{"command": "preferences", "keeper": True, "board": path + ".pacing"}] * 2)
        assert [r["error"] for r in results] == [None, None]
        token_calls = [r for r in sb.qbo.request_log() if r.path.endswith("/tokens/bearer")]
        assert len(token_calls) == 1
        assert sorted(r["token_refreshes"] for r in results) == [0, 1]
        assert sorted(r["token_adoptions"] for r in results) == [0, 1]
        saved = json.loads(open(path).read())["qbo"]
        assert {r["refresh_token"] for r in results} == {token_digest(saved["refresh_token"])}
        assert {r["access_token"] for r in results} == {token_digest(saved["access_token"])}
        assert saved["refresh_token"] in sb.qbo.refresh_tokens()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(path + ".lock").st_mode) == 0o600
    finally:
        sb.stop()


def test_without_the_keeper_the_loser_of_the_race_is_told_to_reconnect(tmp_path):
    """What the keeper prevents (the sandbox invalidates a rotated token at once)."""
    sb, path = _company(tmp_path)
    try:
        # the loser loaded the configuration before the winner rotated the token (here: a
        # copy of the file as it was), and has no keeper to tell it what happened since
        stale = tmp_path / "as-loaded.json"
        stale.write_text(open(path).read())
        [winner] = _workers(path, [{"command": "preferences", "start_at": 0}])
        [loser] = _workers(str(stale), [{"command": "preferences", "start_at": 0}])
        assert winner["error"] is None
        assert "reconnect the company" in loser["error"]
    finally:
        sb.stop()
