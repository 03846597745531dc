"""Each documented rule at both sides of its boundary."""
import datetime

import pytest
from freezegun import freeze_time

from sync_engine import rules

D = datetime.date


@pytest.mark.parametrize("signup, console, mode", [
    (D(2017, 9, 14), False, rules.ONE_WAY),
    (D(2017, 9, 15), False, rules.TWO_WAY),
    (D(2017, 9, 16), False, rules.TWO_WAY),
    (D(2017, 9, 14), True, rules.ONE_WAY),
    (D(2017, 9, 15), True, rules.ONE_WAY),
    (D(2017, 9, 16), True, rules.ONE_WAY),
])
def test_payment_sync_mode_boundary(signup, console, mode):
    verdict = rules.payment_sync_mode(signup, console)
    assert verdict.code == "payment_sync_mode"
    assert verdict.value == mode
    assert verdict.allowed == (mode == rules.TWO_WAY)
    if mode == rules.ONE_WAY:
        assert "must be made or recorded in Bill.com" in verdict.message


@pytest.mark.parametrize("started, syncs", [
    (D(2019, 1, 14), False), (D(2019, 1, 15), True), (D(2019, 1, 16), True)])
def test_credit_memo_start_date_boundary(started, syncs):
    verdict = rules.credit_memo_start_date(started)
    assert verdict.code == "credit_memo_start_date"
    assert verdict.allowed is syncs
    assert started.isoformat() in verdict.message or syncs


@pytest.mark.parametrize("total, balance, allowed, word", [
    ("205.00", "205.00", True, "Unpaid"),
    ("205.00", "205", True, "Unpaid"),
    ("205.00", "204.99", False, "Partially paid"),
    ("205.00", "0.01", False, "Partially paid"),
    ("205.00", "0.00", False, "Fully paid"),
    (205.0, 0, False, "Fully paid"),
])
def test_paid_in_qbo_boundary(total, balance, allowed, word):
    verdict = rules.paid_in_qbo(total, balance)
    assert verdict.code == "paid_in_qbo"
    assert verdict.allowed is allowed
    assert word in verdict.message


def test_paid_in_qbo_does_not_apply_to_a_linked_document():
    # a synced bill paid later in QBO is not "new": payment_sync_mode decides
    assert rules.paid_in_qbo("100.00", "0.00", already_linked=True).allowed


@pytest.mark.parametrize("count", [0, 1, 3])
def test_no_attachments_never_blocks_but_says_what_stays_behind(count):
    verdict = rules.no_attachments(count)
    assert verdict.allowed and verdict.code == "no_attachments"
    assert ("stay behind" in verdict.message) == bool(count)


@pytest.mark.parametrize("per_line, direction, allowed", [
    (False, "billcom_to_qbo", False),   # tracking off or one per transaction
    (True, "billcom_to_qbo", True),     # per line
    (False, "qbo_to_billcom", True),    # QBO -> Bill.com always carries classes
    (True, "qbo_to_billcom", True),
])
def test_class_per_line(per_line, direction, allowed):
    verdict = rules.class_per_line(per_line, direction)
    assert verdict.code == "class_per_line" and verdict.allowed is allowed


@pytest.mark.parametrize("currency, allowed", [("USD", True), ("usd", True), (None, True),
                                               ("CAD", False), ("EUR", False)])
def test_non_usd(currency, allowed):
    verdict = rules.non_usd(currency)
    assert verdict.code == "non_usd" and verdict.allowed is allowed


@pytest.mark.parametrize("setting, status, allowed", [
    (False, "UNASSIGNED", True), (True, "APPROVED", True), (True, "UNASSIGNED", False),
    (True, "ASSIGNED", False), (True, "APPROVING", False), (True, "DENIED", False)])
def test_approved_only(setting, status, allowed):
    assert rules.approved_only(setting, status).allowed is allowed


@freeze_time("2026-03-02 06:00:00")
@pytest.mark.parametrize("last, due", [
    (None, True),
    (datetime.datetime(2026, 3, 1, 6, 0, 1), False),   # 23:59:59 ago
    (datetime.datetime(2026, 3, 1, 6, 0, 0), True),    # exactly a day
    (datetime.datetime(2026, 3, 1, 5, 59, 59), True),
])
def test_schedule_daily(last, due):
    verdict = rules.schedule(True, last, datetime.datetime.now())
    assert verdict.code == "schedule" and verdict.allowed is due


def test_schedule_one_sync_at_a_time_and_auto_off():
    now = datetime.datetime(2026, 3, 2)
    assert not rules.schedule(True, None, now, running=True).allowed
    assert "already running" in rules.schedule(True, None, now, running=True).message
    assert not rules.schedule(False, None, now).allowed


from decimal import Decimal  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

cents = st.integers(min_value=0, max_value=10**11).map(lambda c: Decimal(c) / 100)


@given(total=cents, paid=cents)
def test_paid_in_qbo_only_lets_unpaid_documents_through(total, paid):
    balance = max(Decimal(0), total - paid)
    verdict = rules.paid_in_qbo(total, balance)
    assert verdict.allowed == (balance == total)
    assert rules.paid_in_qbo(total, balance, already_linked=True).allowed


@given(day=st.dates(min_value=D(2000, 1, 1), max_value=D(2030, 12, 31)), console=st.booleans())
def test_payment_mode_and_credit_memos_follow_their_dates(day, console):
    mode = rules.payment_sync_mode(day, console).value
    assert mode == (rules.TWO_WAY if day >= D(2017, 9, 15) and not console else rules.ONE_WAY)
    assert rules.credit_memo_start_date(day).allowed == (day >= D(2019, 1, 15))


@given(currency=st.one_of(st.none(), st.text(max_size=5)))
def test_non_usd_never_raises(currency):
    verdict = rules.non_usd(currency)
    assert verdict.allowed == ((currency or "USD").upper() == "USD")


def test_a_rule_book_that_overrides_one_rule_changes_the_plan():
    from sync_engine.service import SyncService
    from sync_engine.tests.sync_support import demo_company

    class SendPartlyPaid(rules.RuleBook):
        @staticmethod
        def paid_in_qbo(total, balance, already_linked=False):
            return rules.Verdict(True, "paid_in_qbo", "Company policy: sent whatever its balance.")

    with demo_company() as c:
        default = {l.record: l.action for l in c.service().preview().lines}
        lenient = SyncService(c.config, c.store, clock=c.clock, rule_book=SendPartlyPaid()).preview()
        assert default["Bill HH-2150 (Hicks Hardware)"] == "skip"
        assert {l.record: l.action for l in lenient.lines}["Bill HH-2150 (Hicks Hardware)"] == "create"
