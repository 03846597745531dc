"""A run's stage, as the executor reports it, in the words a progress line shows."""
import pytest

from sync_engine import stages
from sync_engine.config import OBJECT_TYPES


@pytest.mark.parametrize("stage, words", [
    ("customer: Bill.com create", "Creating customers in Bill.com"),
    ("bill: QuickBooks update", "Updating bills in QuickBooks"),
    ("vendor_credit: QuickBooks create", "Creating vendor credits in QuickBooks"),
    ("term: Bill.com write", "Writing payment terms to Bill.com"),
    ("invoice: linked", "Linking invoices that already exist on both sides"),
    ("bill_payment: end twin", "Closing bill payments that ended on the other side"),
])
def test_stage_in_words(stage, words):
    assert stages.describe(stage) == words


def test_every_object_type_has_a_plural():
    assert set(stages.PLURALS) == set(OBJECT_TYPES)


def test_unknown_stages_are_shown_as_they_are():
    assert stages.describe("something else") == "something else"
    assert stages.describe("bill: archived in both") == "Bills: archived in both"
    assert stages.describe(None) == ""


def test_every_stage_the_executor_reports_has_words():
    """The executor's stage strings, read from its source, all have a sentence."""
    import inspect
    import re
    from sync_engine import executor
    reported = set(re.findall(r'f"\{otype\}: ([^"{]+)', inspect.getsource(executor)))
    reported |= {f"QuickBooks {op}" for op in ("create", "update")}
    reported.discard("QuickBooks ")
    assert reported, "the executor reports stages"
    assert reported <= set(stages.WHAT), reported - set(stages.WHAT)
