"""Bill.com's published QuickBooks Online sync behaviours, one function a rule.

Each function returns a ``Verdict``: whether the record (or the connection)
may go ahead, the rule's stable code, and a sentence a finance user
understands. The planner stores the code and the sentence on every run line
a rule stops or changes.
"""
import datetime
from dataclasses import dataclass
from decimal import Decimal

# Organizations that signed up on or after this date (and not under an
# accountant console) sync payments both ways.
TWO_WAY_PAYMENTS_FROM = datetime.date(2017, 9, 15)
# Organizations started on or after this date sync credit memos (both ways).
CREDIT_MEMOS_FROM = datetime.date(2019, 1, 15)
ONE_WAY = "one_way"
TWO_WAY = "two_way"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    code: str
    message: str
    value: object = None   # e.g. the payment sync mode


def payment_sync_mode(signup_date, under_accountant_console):
    """One-way (Bill.com -> QBO only) for organizations created under an
    accountant console or signed up before 2017-09-15; two-way otherwise."""
    if under_accountant_console:
        return Verdict(False, "payment_sync_mode",
                       "One-way payment sync: the organization was created under an accountant "
                       "console, so payments must be made or recorded in Bill.com.", ONE_WAY)
    if signup_date < TWO_WAY_PAYMENTS_FROM:
        return Verdict(False, "payment_sync_mode",
                       f"One-way payment sync: the organization signed up on {signup_date.isoformat()}, "
                       "before 2017-09-15, so payments must be made or recorded in Bill.com.", ONE_WAY)
    return Verdict(True, "payment_sync_mode",
                   "Two-way payment sync: payments recorded in QuickBooks against synced bills and "
                   "invoices are recorded in Bill.com, and Bill.com payments go to QuickBooks.", TWO_WAY)


def paid_in_qbo(total, balance, already_linked=False):
    """Partially or fully paid QBO bills/invoices are not sent to Bill.com.
    A document already linked is not new: its later payments follow
    ``payment_sync_mode`` instead."""
    total, balance = Decimal(str(total)), Decimal(str(balance))
    if already_linked or balance == total:
        return Verdict(True, "paid_in_qbo", "Unpaid in QuickBooks.")
    if balance == 0:
        return Verdict(False, "paid_in_qbo",
                       "Fully paid in QuickBooks, so it is not sent to Bill.com.")
    return Verdict(False, "paid_in_qbo",
                   f"Partially paid in QuickBooks (balance {balance:.2f} of {total:.2f}), "
                   "so it is not sent to Bill.com.")


def no_attachments(attachment_count):
    """Attachments never sync; the record itself still does."""
    if attachment_count:
        return Verdict(True, "no_attachments",
                       f"{attachment_count} attachment(s) stay behind: attachments do not sync "
                       "between QuickBooks and Bill.com.", attachment_count)
    return Verdict(True, "no_attachments", "No attachments.", 0)


def credit_memo_start_date(start_date):
    """Credit memos (and vendor credits) sync both ways only for organizations
    started on or after 2019-01-15."""
    if start_date < CREDIT_MEMOS_FROM:
        return Verdict(False, "credit_memo_start_date",
                       f"Credit memos do not sync: the organization started on {start_date.isoformat()}, "
                       "before 2019-01-15.")
    return Verdict(True, "credit_memo_start_date",
                   "Credit memos sync both ways (organization started on or after 2019-01-15).")


def class_per_line(class_tracking_per_line, direction):
    """Classes on AR invoices go Bill.com -> QBO only when QBO tracks classes
    per line; QBO -> Bill.com always carries them."""
    if direction == "qbo_to_billcom" or class_tracking_per_line:
        return Verdict(True, "class_per_line", "Classes are carried on each line.")
    return Verdict(False, "class_per_line",
                   "Classes were left off: QuickBooks does not track classes per line "
                   "(class tracking is off or one per transaction).")


def non_usd(currency):
    """Only USD documents sync."""
    currency = (currency or "USD").upper()
    if currency == "USD":
        return Verdict(True, "non_usd", "USD document.")
    return Verdict(False, "non_usd", f"Only USD documents sync; this one is in {currency}.")


def approved_only(sync_only_approved_bills, approval_status):
    """With "sync only approved bills" on, unapproved Bill.com bills stay out of QBO."""
    status = (approval_status or "").upper()
    if not sync_only_approved_bills or status in ("", "APPROVED"):
        return Verdict(True, "approved_only", "Approved or approval not required.")
    return Verdict(False, "approved_only",
                   f"Not approved yet in Bill.com ({status.lower()}); only approved bills sync.")


def schedule(auto_sync, last_sync, now, running=False, interval=datetime.timedelta(days=1)):
    """Automatic sync once a day; a manual sync any time; one sync per
    connection at a time. ``now``/``last_sync`` are datetimes (or None)."""
    if running:
        return Verdict(False, "schedule", "A sync is already running for this connection.")
    if not auto_sync:
        return Verdict(False, "schedule", "Automatic sync is off; run a manual sync instead.")
    if last_sync is None or now - last_sync >= interval:
        return Verdict(True, "schedule", "Daily automatic sync is due.")
    due = last_sync + interval
    return Verdict(False, "schedule", f"Not due yet: next automatic sync after {due.isoformat(' ', 'minutes')}.")
