"""Bill.com's published QuickBooks Online sync behaviours, one function a rule.

Each function returns a ``Verdict``: whether the record (or the connection)
may go ahead, the rule's stable code, and a sentence a finance user
understands. The planner stores the code and the sentence on every run line
a rule stops or changes.
"""
import datetime
from decimal import Decimal
from typing import NamedTuple

# Organizations that signed up on or after this date (and not under an
# accountant console) sync payments both ways.
TWO_WAY_PAYMENTS_FROM = datetime.date(2017, 9, 15)
# Organizations started on or after this date sync credit memos (both ways).
CREDIT_MEMOS_FROM = datetime.date(2019, 1, 15)
ONE_WAY = "one_way"
TWO_WAY = "two_way"


class Verdict(NamedTuple):
    """Immutable, so a rule's "go ahead" can be one shared constant (a planner
    asks several rules of every record; a frozen dataclass took four times as
    long to build)."""
    allowed: bool
    code: str
    message: str
    value: object = None   # e.g. the payment sync mode
    retry_next_run: bool = False  # the record is read again by id on the next run


class Code:
    """The code a run line carries for a rule or an engine decision; each has its
    sentence in ``CODES``."""

    PAYMENT_SYNC_MODE = "payment_sync_mode"
    PAID_IN_QBO = "paid_in_qbo"
    NO_ATTACHMENTS = "no_attachments"
    CREDIT_MEMO_START_DATE = "credit_memo_start_date"
    CLASS_PER_LINE = "class_per_line"
    SCHEDULE = "schedule"
    NON_USD = "non_usd"
    APPROVED_ONLY = "approved_only"
    DOCUMENT_TOTAL = "document_total"
    SHAPE_NOT_CARRIED = "shape_not_carried"
    REQUIRED_FIELD = "required_field"
    FIELD_TOO_LONG = "field_too_long"
    DUPLICATE_NAME = "duplicate_name"
    INACTIVE = "inactive"
    VOIDED = "voided"
    DELETED = "deleted"
    MISSING_REFERENCE = "missing_reference"
    NOT_SYNCED_DOCUMENT = "not_synced_document"
    CONFLICT = "conflict"
    EXCLUDED = "excluded"
    BAD_DATA = "bad_data"


CODES = {
    Code.PAYMENT_SYNC_MODE: "Payments flow only the ways the organization's payment sync mode allows.",
    Code.PAID_IN_QBO: "Partially or fully paid QuickBooks bills and invoices are not sent to Bill.com.",
    Code.NO_ATTACHMENTS: "Attachments never sync.",
    Code.CREDIT_MEMO_START_DATE: "Credit memos sync only for organizations started on or after 2019-01-15.",
    Code.CLASS_PER_LINE: "Invoice classes go to QuickBooks only when it tracks classes per line.",
    Code.SCHEDULE: "Daily automatic sync, manual any time, one at a time.",
    Code.NON_USD: "Only USD documents sync.",
    Code.APPROVED_ONLY: "With 'sync only approved bills', unapproved bills stay in Bill.com.",
    Code.DOCUMENT_TOTAL: "A document is never sent with a total different from its source.",
    Code.SHAPE_NOT_CARRIED: "A part of the document the other side cannot hold exactly (tax, discount).",
    Code.REQUIRED_FIELD: "The other side requires a field this record does not have.",
    Code.FIELD_TOO_LONG: "A name or number is longer than the other side accepts.",
    Code.DUPLICATE_NAME: "Names must be unique on the other side, ignoring case.",
    Code.INACTIVE: "Inactive or deleted records are not created on the other side.",
    Code.VOIDED: "Voided documents and payments are not created on the other side.",
    Code.DELETED: "A synced record was deleted or voided on its source side.",
    Code.MISSING_REFERENCE: "The record waits on another record that is not synced yet.",
    Code.NOT_SYNCED_DOCUMENT: "A payment that applies to no synced document is not recorded.",
    Code.CONFLICT: "Changed on both sides since the last sync; held until a person decides.",
    Code.EXCLUDED: "A person chose not to sync this record.",
    Code.BAD_DATA: "The record cannot be read; the field is named on its line.",
}


def payment_sync_mode(signup_date, under_accountant_console):
    """One-way (Bill.com -> QBO only) for organizations created under an
    accountant console or signed up before 2017-09-15; two-way otherwise."""
    if under_accountant_console:
        return Verdict(False, Code.PAYMENT_SYNC_MODE,
                       "One-way payment sync: the organization was created under an accountant "
                       "console, so payments must be made or recorded in Bill.com.", ONE_WAY)
    if signup_date < TWO_WAY_PAYMENTS_FROM:
        return Verdict(False, Code.PAYMENT_SYNC_MODE,
                       f"One-way payment sync: the organization signed up on {signup_date.isoformat()}, "
                       "before 2017-09-15, so payments must be made or recorded in Bill.com.", ONE_WAY)
    return Verdict(True, Code.PAYMENT_SYNC_MODE,
                   "Two-way payment sync: payments recorded in QuickBooks against synced bills and "
                   "invoices are recorded in Bill.com, and Bill.com payments go to QuickBooks.", TWO_WAY)


_UNPAID = Verdict(True, Code.PAID_IN_QBO, "Unpaid in QuickBooks.")


def paid_in_qbo(total, balance, already_linked=False):
    """Partially or fully paid QBO bills/invoices are not sent to Bill.com.
    A document already linked is not new: its later payments follow
    ``payment_sync_mode`` instead."""
    if already_linked or (type(total) is str and total == balance):  # most: the amounts read, alike
        return _UNPAID
    total, balance = Decimal(str(total)), Decimal(str(balance))
    if balance == total:
        return _UNPAID
    if balance == 0:
        return Verdict(False, Code.PAID_IN_QBO,
                       "Fully paid in QuickBooks, so it is not sent to Bill.com.")
    return Verdict(False, Code.PAID_IN_QBO,
                   f"Partially paid in QuickBooks (balance {balance:.2f} of {total:.2f}), "
                   "so it is not sent to Bill.com.")


def no_attachments(attachment_count):
    """Attachments never sync; the record itself still does."""
    if attachment_count:
        return Verdict(True, Code.NO_ATTACHMENTS,
                       f"{attachment_count} attachment(s) stay behind: attachments do not sync "
                       "between QuickBooks and Bill.com.", attachment_count)
    return Verdict(True, Code.NO_ATTACHMENTS, "No attachments.", 0)


def credit_memo_start_date(start_date):
    """Credit memos (and vendor credits) sync both ways only for organizations
    started on or after 2019-01-15."""
    if start_date < CREDIT_MEMOS_FROM:
        return Verdict(False, Code.CREDIT_MEMO_START_DATE,
                       f"Credit memos do not sync: the organization started on {start_date.isoformat()}, "
                       "before 2019-01-15.")
    return Verdict(True, Code.CREDIT_MEMO_START_DATE,
                   "Credit memos sync both ways (organization started on or after 2019-01-15).")


def class_per_line(class_tracking_per_line, direction):
    """Classes on AR invoices go Bill.com -> QBO only when QBO tracks classes
    per line; QBO -> Bill.com always carries them."""
    if direction == "qbo_to_billcom" or class_tracking_per_line:
        return Verdict(True, Code.CLASS_PER_LINE, "Classes are carried on each line.")
    return Verdict(False, Code.CLASS_PER_LINE,
                   "Classes were left off: QuickBooks does not track classes per line "
                   "(class tracking is off or one per transaction).")


_USD = Verdict(True, Code.NON_USD, "USD document.")


def non_usd(currency):
    """Only USD documents sync."""
    if currency == "USD":
        return _USD
    currency = (currency or "USD").upper()
    if currency == "USD":
        return _USD
    return Verdict(False, Code.NON_USD, f"Only USD documents sync; this one is in {currency}.")


def approved_only(sync_only_approved_bills, approval_status):
    """With "sync only approved bills" on, unapproved Bill.com bills stay out of QBO."""
    status = (approval_status or "").upper()
    if not sync_only_approved_bills or status in ("", "APPROVED"):
        return Verdict(True, Code.APPROVED_ONLY, "Approved or approval not required.")
    return Verdict(False, Code.APPROVED_ONLY,
                   f"Not approved yet in Bill.com ({status.lower()}); only approved bills sync.")


def schedule(auto_sync, last_sync, now, running=False, interval=datetime.timedelta(days=1)):
    """Automatic sync once a day; a manual sync any time; one sync per
    connection at a time. ``now``/``last_sync`` are datetimes (or None)."""
    if running:
        return Verdict(False, Code.SCHEDULE, "A sync is already running for this connection.")
    if not auto_sync:
        return Verdict(False, Code.SCHEDULE, "Automatic sync is off; run a manual sync instead.")
    if last_sync is None or now - last_sync >= interval:
        return Verdict(True, Code.SCHEDULE, "Daily automatic sync is due.")
    due = last_sync + interval
    return Verdict(False, Code.SCHEDULE, f"Not due yet: next automatic sync after {due.isoformat(' ', 'minutes')}.")


# ------------------------------------------------------- money and identity
# Codes of the engine's own decisions (beside the published rules above), each
# with the sentence a finance user reads when it stops or changes a record.


_TOTAL_CARRIED = Verdict(True, Code.DOCUMENT_TOTAL, "Its lines, discounts and tax add up to its total.")


def document_total(lines_total, discount, tax, source_total, side):
    """The lines, discounts and tax the sync carries must add up to the source's
    own total; otherwise the document holds a shape we do not carry and is held."""
    carried = Decimal(lines_total)
    if discount:
        carried -= Decimal(discount)
    if tax:
        carried += Decimal(tax)
    total = Decimal(source_total)
    if carried == total:
        return _TOTAL_CARRIED
    where = "QuickBooks" if side == "qbo" else "Bill.com"
    return Verdict(False, Code.DOCUMENT_TOTAL,
                   f"Held: its lines, discounts and tax add up to {carried:.2f}, but its {where} total is "
                   f"{total:.2f}. Part of it cannot be carried exactly, so it is not sent; "
                   f"it needs a person in {where}.", carried)


_CARRIED_AS_LINES = Verdict(True, Code.SHAPE_NOT_CARRIED, "Tax and discounts are carried as lines.")
_NOTHING_UNCARRIED = Verdict(True, Code.SHAPE_NOT_CARRIED, "Nothing the other side cannot hold.")


def carried_shape(object_type, values, target_side):
    """Tax and discounts are carried to Bill.com invoices and credit memos as
    lines of their own. Bill.com bills and vendor credits have no tax or
    discount, and QuickBooks computes its own sales tax, so a document that
    needs either on the way there is held instead of sent with another total."""
    if target_side == "billcom" and object_type in ("invoice", "credit_memo"):
        return _CARRIED_AS_LINES
    tax, discount = values.get("tax"), values.get("discount")
    # only QuickBooks refuses a negative line (Bill.com takes one on any document)
    negative = [line for line in values.get("lines") or () if Decimal(line["amount"]) < 0] \
        if target_side == "qbo" else ()
    if not (tax or discount or negative):  # most documents
        return _NOTHING_UNCARRIED
    tax, discount = Decimal(tax or 0), Decimal(discount or 0)
    parts = []
    if tax:
        parts.append(f"tax of {tax:.2f}")
    if discount:
        parts.append(f"a discount of {discount:.2f}")
    if negative:
        parts.append(f"{len(negative)} negative line(s)")
    if not parts:
        return _NOTHING_UNCARRIED
    where = "Bill.com" if target_side == "billcom" else "QuickBooks"
    return Verdict(False, Code.SHAPE_NOT_CARRIED,
                   f"Held: it has {' and '.join(parts)}, which {where} cannot hold on this kind of document "
                   "exactly; enter it by hand there or remove it from the source.")


def carried_shape_of_payment():
    """A QuickBooks payment that applies a credit memo to an invoice: Bill.com
    records received payments without credits (credit memos apply through the
    invoice), so it is held rather than recorded with another amount."""
    return Verdict(False, Code.SHAPE_NOT_CARRIED,
                   "Held: it applies a credit memo, which Bill.com's received payments cannot carry; "
                   "apply the credit memo to the invoice in Bill.com and record the cash there.")


# What each side requires or limits on a new record: (field, label, max length).
# Bill.com: customer e-mail is required, names at most 100 characters
# (reference: bill-com-api.md, Customer and Vendor). QuickBooks: DocNumber at
# most 21 characters, DisplayName at most 100 (quickbooks-online-api.md).
TARGET_LIMITS = {
    ("billcom", "customer"): {"required": (("email", "an e-mail address"),),
                              "max": (("name", "name", 100),)},
    ("billcom", "vendor"): {"required": (), "max": (("name", "name", 100),)},
    ("qbo", "vendor"): {"required": (), "max": (("name", "display name", 100),)},
    ("qbo", "customer"): {"required": (), "max": (("name", "display name", 100),)},
    ("qbo", "bill"): {"required": (), "max": (("number", "bill number", 21),)},
    ("qbo", "invoice"): {"required": (), "max": (("number", "invoice number", 21),)},
    ("qbo", "vendor_credit"): {"required": (), "max": (("number", "reference number", 21),)},
    ("qbo", "credit_memo"): {"required": (), "max": (("number", "reference number", 21),)},
}


_NOTHING_MISSING = Verdict(True, Code.REQUIRED_FIELD, "Nothing missing.")


def target_accepts(object_type, values, target_side):
    """What the target will refuse, found before anything is sent: a required
    field missing or a value too long, with the fix a finance user can make."""
    limits = TARGET_LIMITS.get((target_side, object_type))
    if not limits:
        return _NOTHING_MISSING
    source = "QuickBooks" if target_side == "billcom" else "Bill.com"
    target = "Bill.com" if target_side == "billcom" else "QuickBooks"
    for name, label in limits["required"]:
        if not values.get(name):
            return Verdict(False, Code.REQUIRED_FIELD,
                           f"{target} requires {label} for a {object_type.replace('_', ' ')}; "
                           f"add it in {source} and it syncs on the next run.", name)
    for name, label, size in limits["max"]:
        value = values.get(name) or ""
        if len(value) > size:
            return Verdict(False, Code.FIELD_TOO_LONG,
                           f"Its {label} has {len(value)} characters; {target} accepts at most {size}. "
                           f"Shorten it in {source} and it syncs on the next run.", name)
    return _NOTHING_MISSING


_UNIQUE_NAME = Verdict(True, Code.DUPLICATE_NAME, "Unique name.")


def unique_name(name, clashes, target_side):
    """QuickBooks display names are unique ignoring case and surrounding spaces
    (across vendors, customers and employees); two records whose names differ
    only so would be refused as duplicates or merged by mistake."""
    if not clashes:
        return _UNIQUE_NAME
    target = "QuickBooks" if target_side == "qbo" else "Bill.com"
    others = ", ".join(sorted(f"'{c}'" for c in clashes))
    return Verdict(False, Code.DUPLICATE_NAME,
                   f"Held: '{name}' and {others} are the same name to {target}, which ignores case and "
                   "surrounding spaces; rename or merge one of them.")


def name_taken(name, kind):
    """``duplicate_name`` again: a Bill.com name QuickBooks already gives a
    record of the other kind (vendor or customer)."""
    return Verdict(False, Code.DUPLICATE_NAME,
                   f"Held: QuickBooks already has a {kind} named '{name.strip()}' (it ignores case and surrounding "
                   "spaces, and a vendor and a customer may not share a name); rename one of them.")


def excluded(object_type, side, remote_id, excluded_records):
    """``excluded``: a record a person chose not to sync stays where it is, and
    so does its twin, until they take it off the list."""
    if f"{object_type}|{side}|{remote_id}" in set(excluded_records or ()):
        return Verdict(False, Code.EXCLUDED, "Not synced: a person chose not to sync this record "
                                              "(Don't sync this record); take it off the list to sync it again.")
    return Verdict(True, Code.EXCLUDED, "")


class RuleBook:
    """The rules a planner consults, one method a rule, named by its code. The
    default is the function of this module; a caller hands the planner another
    rule book to change a rule (the Odoo connection's calls its ``_rule_<code>``
    methods, so a module inheriting the connection overrides a rule the Odoo
    way)."""


RULE_NAMES = ("payment_sync_mode", "paid_in_qbo", "no_attachments", "credit_memo_start_date", "class_per_line",
              "non_usd", "approved_only", "schedule", "document_total", "carried_shape", "target_accepts",
              "unique_name", "name_taken", "excluded")


# the rule book's methods: each rule's function of this module
for _name in RULE_NAMES:
    setattr(RuleBook, _name, staticmethod(globals()[_name]))
del _name
