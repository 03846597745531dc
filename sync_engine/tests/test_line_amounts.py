"""Each line of a plan and of a run carries the money a finance user knows the
record by: a document's total or a payment's amount, with its currency; lists
and parties carry none. The SQLite store keeps them, also in a store file made
before lines had amounts."""
import sqlite3
from decimal import Decimal

from sync_engine.planner import BC_TO_QBO, QBO_TO_BC, Planner
from sync_engine.remote import Remote
from sync_engine.store import RunLine, SQLiteStore

from sync_support import demo_company


def _plan(c):
    return Planner(c.config, c.store, Remote(c.config, clock=c.clock)).plan()


def _line(lines, record):
    found = [l for l in lines if l.record == record or l.record.startswith(record + " (")]
    assert len(found) == 1, (record, [l.record for l in found])
    return found[0]


def _qbo(c, entity, **match):
    return next(o for o in c.sb.qbo.all(entity) if all(o.get(k) == v for k, v in match.items()))


def test_documents_and_payments_of_a_plan_carry_their_amount_and_currency():
    with demo_company() as c:
        lines = _plan(c).lines
        bill = _line(lines, "Bill NL-1001")
        assert (bill.action, bill.direction, bill.amount, bill.currency) == \
            ("create", QBO_TO_BC, Decimal("1250.00"), "USD")
        assert isinstance(bill.amount, Decimal)
        held = _line(lines, "Bill MS-88")
        assert (held.rule_code, held.amount, held.currency) == ("non_usd", Decimal("500.00"), "CAD")
        paid = _line(lines, "Bill HH-2150")
        assert (paid.rule_code, paid.amount) == ("paid_in_qbo", Decimal("300.00"))
        from_billcom = _line(lines, "Bill AP-778")
        assert (from_billcom.direction, from_billcom.amount, from_billcom.currency) == \
            (BC_TO_QBO, Decimal("240.00"), "USD")
        assert _line(lines, "Invoice 1001").amount == Decimal("1150.00")
        payments = [l for l in lines if l.object_type in ("bill_payment", "received_payment")]
        assert payments and all(l.amount is not None and l.currency == "USD" for l in payments)
        vendor = _line(lines, "Vendor Norton Lumber")
        assert (vendor.amount, vendor.currency) == (None, None)


def test_an_updated_document_carries_its_new_total():
    with demo_company() as c:
        c.run()
        bill = _qbo(c, "Bill", DocNumber="PG-NOV")
        line = dict(bill["Line"][0], Amount=450.00)
        c.sb.qbo.user_update("Bill", bill["Id"], {"Line": [line], "TotalAmt": 450.00})
        update = _line(_plan(c).lines, "Bill PG-NOV")
        assert update.action == "update", (update.action, update.rule_code, update.message)
        assert (update.amount, update.currency) == (Decimal("450.00"), "USD")


def test_a_run_logs_the_amounts_and_the_store_keeps_them():
    with demo_company() as c:
        result = c.run()
        logged = _line(result.lines, "Bill NL-1001")
        assert (logged.amount, logged.currency) == (Decimal("1250.00"), "USD")
        kept = _line(c.store.run_lines(result.run_id), "Bill NL-1001")
        assert (kept.amount, kept.currency) == (Decimal("1250.00"), "USD")
        assert _line(c.store.run_lines(result.run_id), "Vendor Norton Lumber").amount is None
        assert logged.as_dict()["amount"] == "1250.00"


def test_a_store_file_made_before_lines_had_amounts_is_upgraded(tmp_path):
    path = str(tmp_path / "old.sqlite")
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE run_lines (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL,
            object_type TEXT, direction TEXT, action TEXT, record TEXT, qbo_id TEXT, billcom_id TEXT,
            rule_code TEXT, message TEXT, field TEXT, remote_error TEXT, diff TEXT, state TEXT);
        INSERT INTO run_lines (run_id, object_type, direction, action, record, state)
            VALUES (1, 'bill', 'qbo_to_billcom', 'create', 'Bill NL-1001 (Norton Lumber)', 'done');
    """)
    db.commit()
    db.close()
    store = SQLiteStore(path)
    old = store.run_lines(1)[0]
    assert (old.record, old.amount, old.currency) == ("Bill NL-1001 (Norton Lumber)", None, None)
    store.add_run_lines(1, [RunLine("bill", "qbo_to_billcom", "create", "Bill PG-NOV (Pacific Gas)",
                                    amount=Decimal("412.37"), currency="USD")])
    new = store.run_lines(1)[1]
    assert (new.amount, new.currency) == (Decimal("412.37"), "USD")
    store.close()
