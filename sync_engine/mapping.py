"""QBO JSON <-> canonical records <-> Bill.com JSON, one pair of functions a type.

``read_qbo(type, obj)`` / ``read_billcom(type, obj)`` build a ``Record``;
``qbo_body(type, values, resolve, ctx)`` / ``billcom_body(...)`` build a
write body from neutral values (see ``neutral``), where ``resolve(token)``
turns a neutral reference into an id on the target side.

Neutral references are strings ``"<type>|<qbo id>"`` for anything QBO knows,
or ``"<type>|bc:<Bill.com id>"`` for a Bill.com record not linked yet.
"""
import hashlib
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .records import MappingError, Record, Ref, date, money, text

# object type -> (QBO entity, Bill.com collection)
ENTITIES = {
    "account": ("Account", "classifications/chart-of-accounts"),
    "class": ("Class", "classifications/accounting-classes"),
    "location": ("Department", "classifications/locations"),  # QBO calls its Departments "Location" by default
    "item": ("Item", "classifications/items"),
    "term": ("Term", "payment-terms"),
    "vendor": ("Vendor", "vendors"),
    "customer": ("Customer", "customers"),
    "bill": ("Bill", "bills"),
    "invoice": ("Invoice", "invoices"),
    "vendor_credit": ("VendorCredit", "vendor-credits"),
    "credit_memo": ("CreditMemo", "credit-memos"),
    "bill_payment": ("BillPayment", "payments"),
    "received_payment": ("Payment", "receivable-payments"),
}
QBO_TYPE = {entity: t for t, (entity, _) in ENTITIES.items()}
LIST_TYPES = ("account", "class", "location", "item", "term")
NAME_TYPES = ("vendor", "customer")
DOCUMENT_TYPES = ("bill", "invoice", "vendor_credit", "credit_memo")
PAYMENT_TYPES = ("bill_payment", "received_payment")
CREDIT_TYPES = ("vendor_credit", "credit_memo")

# QBO account types <-> the Bill.com chart-of-accounts type names
ACCOUNT_TYPES = {
    "Bank": "BANK", "Accounts Receivable": "ACCOUNTS_RECEIVABLE", "Other Current Asset": "OTHER_CURRENT_ASSET",
    "Fixed Asset": "FIXED_ASSET", "Other Asset": "OTHER_ASSET", "Accounts Payable": "ACCOUNTS_PAYABLE",
    "Credit Card": "CREDIT_CARD", "Other Current Liability": "OTHER_CURRENT_LIABILITY",
    "Long Term Liability": "LONG_TERM_LIABILITY", "Equity": "EQUITY", "Income": "INCOME",
    "Other Income": "OTHER_INCOME", "Expense": "EXPENSE", "Other Expense": "OTHER_EXPENSE",
    "Cost of Goods Sold": "COST_OF_GOODS_SOLD",
}
ACCOUNT_TYPES_BACK = {v: k for k, v in ACCOUNT_TYPES.items()}
ITEM_TYPES = {"Service": "SERVICE", "Inventory": "INVENTORY", "NonInventory": "NON_INVENTORY"}
ITEM_TYPES_BACK = {v: k for k, v in ITEM_TYPES.items()}
# Payments we record carry their source's id in a mark with a check code, so a
# memo a person typed that merely looks like one ("Bill.com payment ...",
# "QuickBooks 123") never decides where a payment came from.
# A credit applied in Bill.com outside any payment has no Bill.com payment id:
# its link's Bill.com side is "credit:<document id>:<credit ids>:<amount shown>".
CREDIT_APPLICATION = "credit:"
PAYMENT_MARK_QBO = "Bill.com payment"      # QBO PrivateNote of payments we create
PAYMENT_MARK_BILLCOM = "QuickBooks"        # Bill.com description of payments we record
_MARK = re.compile(r"(?P<prefix>.+) (?P<id>\S+) \(sync mark (?P<check>[0-9a-f]{10})\)")


def _mark_check(prefix, remote_id):
    return hashlib.sha256(f"{prefix}|{remote_id}".encode()).hexdigest()[:10]


def origin_mark(prefix, remote_id):
    """The note written on a payment we record: where it came from, checkable."""
    return f"{prefix} {remote_id} (sync mark {_mark_check(prefix, remote_id)})"


def read_origin_mark(note, prefix):
    """The source id in a mark we wrote, or None for any other text."""
    found = _MARK.fullmatch((note or "").strip())
    if not found or found["prefix"] != prefix:
        return None
    if found["check"] != _mark_check(prefix, found["id"]):
        return None
    return found["id"]


def _ref(obj, key, object_type, field_name):
    ref = obj.get(key)
    if ref in (None, "", {}):
        return None
    if not isinstance(ref, dict) or not ref.get("value"):
        raise MappingError(field_name, f"is not a valid reference ({ref!r})")
    return Ref(object_type, str(ref["value"]), ref.get("name"))


def _bc_ref(value, object_type, field_name, name=None):
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise MappingError(field_name, f"is not a valid id ({value!r})")
    return Ref(object_type, value, name)


def _dict(obj, key):
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(key, f"expected an object, got {type(value).__name__}")
    return value


def _list(obj, key):
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingError(key, f"expected a list, got {type(value).__name__}")
    return value


def _items(obj, key):
    """A list of JSON objects, each checked."""
    out = _list(obj, key)
    for index, item in enumerate(out):
        if not isinstance(item, dict):
            raise MappingError(f"{key}[{index}]", f"expected an object, got {type(item).__name__}")
    return out


def _str(value):
    """Free text the sync only reads (notes, statuses): anything else counts as absent."""
    return value if isinstance(value, str) else None


def _currency(obj, key):
    value = obj.get(key)
    if isinstance(value, dict):
        value = value.get("value")
    if value in (None, ""):
        return "USD"
    if not isinstance(value, str):
        raise MappingError(key, f"is not a currency code ({value!r})")
    return value.upper()


def _name_key(name):
    return (name or "").strip().casefold()


def _qbo_id(obj):
    if not isinstance(obj, dict):
        raise MappingError("object", f"expected a JSON object, got {type(obj).__name__}")
    rid = obj.get("Id")
    if rid in (None, ""):
        raise MappingError("Id", "is missing")
    return str(rid)


def _bc_id(obj):
    if not isinstance(obj, dict):
        raise MappingError("object", f"expected a JSON object, got {type(obj).__name__}")
    rid = obj.get("id")
    if not rid or not isinstance(rid, str):
        raise MappingError("id", "is missing")
    return rid


# ------------------------------------------------------------------ read QBO
def read_qbo(object_type, obj):
    """A QBO object as a Record; raises MappingError naming the field."""
    rid = _qbo_id(obj)
    entity = ENTITIES[object_type][0]
    if _str(obj.get("status")) == "Deleted":
        return Record(object_type, "qbo", rid, obj.get("SyncToken"), {}, f"{_label(object_type)} {rid}",
                      facts={"deleted": True})
    try:
        record = _QBO_READERS[object_type](obj)
    except MappingError as err:
        err.record = err.record or f"QuickBooks {entity} {rid}"
        raise
    values, label, key, facts = record
    facts.setdefault("active", obj.get("Active", True) is not False)
    return Record(object_type, "qbo", rid, str(obj.get("SyncToken", "")), values, label, key, facts)


def _label(object_type):
    return object_type.replace("_", " ").capitalize()


def _qbo_named(obj, name_field="Name", max_len=100):
    name = text(obj.get(name_field), name_field, max_len=max_len, required=True)
    return name


def _qbo_account(obj):
    name = _qbo_named(obj)
    values = {"name": name, "number": text(obj.get("AcctNum"), "AcctNum"),
              "account_type": ACCOUNT_TYPES.get(obj.get("AccountType"), "OTHER"),
              "active": obj.get("Active", True) is not False}
    return values, f"Account {name}", (_name_key(name),), {}


def _qbo_simple(kind):
    def reader(obj):
        name = _qbo_named(obj)
        return ({"name": name, "active": obj.get("Active", True) is not False},
                f"{kind} {name}", (_name_key(name),), {})
    return reader


def _qbo_item(obj):
    name = _qbo_named(obj)
    price = obj.get("UnitPrice")
    values = {"name": name, "item_type": ITEM_TYPES.get(obj.get("Type"), "SERVICE"),
              "description": text(obj.get("Description"), "Description"),
              "price": money(price, "UnitPrice") if price not in (None, "") else None,
              "active": obj.get("Active", True) is not False}
    return values, f"Item {name}", (_name_key(name),), {"qbo_type": obj.get("Type")}


def _qbo_term(obj):
    name = _qbo_named(obj, max_len=31)
    days = obj.get("DueDays")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise MappingError("DueDays", f"is not a number of days ({days!r})")
    return ({"name": name, "due_days": days, "active": obj.get("Active", True) is not False},
            f"Term {name}", (_name_key(name),), {})


def _qbo_address(addr):
    if not addr:
        return None
    if not isinstance(addr, dict):
        raise MappingError("BillAddr", "is not an address object")
    out = {"line1": addr.get("Line1"), "line2": addr.get("Line2"), "city": addr.get("City"),
           "state": addr.get("CountrySubDivisionCode"), "zip": addr.get("PostalCode"),
           "country": addr.get("Country")}
    out = {k: str(v) for k, v in out.items() if v not in (None, "")}
    return out or None


def _qbo_party(kind):
    def reader(obj):
        name = text(obj.get("DisplayName"), "DisplayName", max_len=100, required=True)
        values = {
            "name": name,
            "company_name": text(obj.get("CompanyName"), "CompanyName"),
            "email": text(_dict(obj, "PrimaryEmailAddr").get("Address"), "PrimaryEmailAddr.Address"),
            "phone": text(_dict(obj, "PrimaryPhone").get("FreeFormNumber"), "PrimaryPhone.FreeFormNumber"),
            "address": _qbo_address(obj.get("BillAddr")),
            "active": obj.get("Active", True) is not False,
        }
        facts = {"currency": _currency(obj, "CurrencyRef")}
        if kind == "Vendor":
            values["account_number"] = text(obj.get("AcctNum"), "AcctNum")
        else:
            parent = _ref(obj, "ParentRef", "customer", "ParentRef")
            values["parent"] = parent
            level = obj.get("Level") or 0
            if isinstance(level, bool) or not isinstance(level, int):
                raise MappingError("Level", f"is not a number ({level!r})")
            facts["level"] = level
        return values, f"{kind} {name}", (_name_key(name),), facts
    return reader


def _qbo_lines(obj, detail_types, doc_field="Line"):
    """The lines that carry money, and the discount: a bundle (GroupLineDetail)
    contributes its inner lines, subtotal and description-only lines nothing,
    and discount lines (amount or percent; QBO states the amount either way)
    add up to the document's discount."""
    lines, discount = [], Decimal(0)
    for index, line in enumerate(_list(obj, doc_field)):
        where = f"{doc_field}[{index}]"
        if not isinstance(line, dict):
            raise MappingError(where, "is not an object")
        kind = line.get("DetailType")
        if kind in ("SubTotalLineDetail", "DescriptionOnly"):
            continue
        if kind == "DiscountLineDetail":
            discount += Decimal(money(line.get("Amount"), f"{where}.Amount"))
            continue
        if kind == "GroupLineDetail":
            group = _dict(line, "GroupLineDetail")
            inner, inner_discount = _qbo_lines(group, detail_types, "Line") if group.get("Line") else ([], 0)
            stated = line.get("Amount")
            inner_total = sum((Decimal(i["amount"]) for i in inner), Decimal(0)) - inner_discount
            if stated not in (None, "") and Decimal(money(stated, f"{where}.Amount")) != inner_total:
                raise MappingError(f"{where}.Amount", f"bundle amount {stated} is not the sum of its lines "
                                   f"({inner_total:.2f})")
            lines.extend(inner)
            discount += inner_discount
            continue
        if kind not in detail_types:
            raise MappingError(f"{where}.DetailType", f"unsupported line type {kind!r}")
        lines.append(_qbo_line_values(line, kind, where))
    if not lines and doc_field == "Line":
        raise MappingError("Line", "has no lines with an amount")
    return lines, discount


def _qbo_line_values(line, kind, where):
    detail = _dict(line, kind)
    out = {"amount": money(line.get("Amount"), f"{where}.Amount"),
           "description": text(line.get("Description"), f"{where}.Description")}
    if kind == "AccountBasedExpenseLineDetail":
        out["account"] = _ref(detail, "AccountRef", "account", f"{where}.AccountRef")
    if kind in ("ItemBasedExpenseLineDetail", "SalesItemLineDetail"):
        out["item"] = _ref(detail, "ItemRef", "item", f"{where}.ItemRef")
        if detail.get("Qty") not in (None, ""):
            out["quantity"] = _number(detail.get("Qty"), f"{where}.Qty")
        if detail.get("UnitPrice") not in (None, ""):
            out["price"] = _number(detail.get("UnitPrice"), f"{where}.UnitPrice")
    if detail.get("ClassRef"):
        out["class"] = _ref(detail, "ClassRef", "class", f"{where}.ClassRef")
    if detail.get("CustomerRef"):
        out["customer"] = _ref(detail, "CustomerRef", "customer", f"{where}.CustomerRef")
    return {k: v for k, v in out.items() if v is not None}


def _qbo_voided(obj):
    """QBO records a void by zeroing the amounts and putting "Voided" in the
    private note (reference: quickbooks-online-api.md, Void); a memo that merely
    mentions a void ("Replaces Voided check 1042") on a live document is not one."""
    note = _str(obj.get("PrivateNote")) or ""
    try:
        zero = Decimal(str(obj.get("TotalAmt", 0))) == 0
    except (InvalidOperation, ValueError):
        return False
    return zero and note.strip().lower().startswith("voided")


def lines_total(values):
    """The sum of a document's lines, exact."""
    return sum((Decimal(line["amount"]) for line in values.get("lines") or ()), Decimal(0))


def _number(value, field_name):
    if isinstance(value, bool):
        raise MappingError(field_name, f"is not a number ({value!r})")
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise MappingError(field_name, f"is not a number ({value!r})") from None
    if not number.is_finite():
        raise MappingError(field_name, f"is not a finite number ({value!r})")
    return str(number.normalize()) if number != number.to_integral() else str(int(number))


def _qbo_document(kind, party_key, party_type, detail_types):
    def reader(obj):
        party = _ref(obj, party_key, party_type, party_key)
        if party is None:
            raise MappingError(party_key, "is required")
        number = text(obj.get("DocNumber"), "DocNumber", max_len=100)
        values = {
            party_type: party,
            "number": number,
            "date": date(obj.get("TxnDate"), "TxnDate"),
            "location": _ref(obj, "DepartmentRef", "location", "DepartmentRef"),
        }
        values["lines"], discount = _qbo_lines(obj, detail_types)
        tax = _dict(obj, "TxnTaxDetail").get("TotalTax")
        tax = Decimal(money(tax, "TxnTaxDetail.TotalTax")) if tax not in (None, "") else Decimal(0)
        if tax and obj.get("GlobalTaxCalculation") == "TaxInclusive" and obj.get("TotalAmt") not in (None, "") \
                and lines_total(values) - discount == Decimal(money(obj.get("TotalAmt"), "TotalAmt")):
            tax = Decimal(0)  # amounts include the tax already: it is inside the lines
        if discount:
            values["discount"] = str(discount)
        if tax:
            values["tax"] = str(tax)
        if kind in ("Bill", "Invoice"):
            values["due_date"] = date(obj.get("DueDate"), "DueDate")
            values["term"] = _ref(obj, "SalesTermRef", "term", "SalesTermRef")
        if kind == "Invoice" and obj.get("ClassRef"):
            values["class"] = _ref(obj, "ClassRef", "class", "ClassRef")
        total = money(obj.get("TotalAmt", 0), "TotalAmt")
        balance_field = "RemainingCredit" if kind == "CreditMemo" and "RemainingCredit" in obj else "Balance"
        balance = money(obj.get(balance_field, total), balance_field)
        facts = {"total": total, "balance": balance,
                 "currency": _currency(obj, "CurrencyRef"),
                 "party_name": party.name, "voided": _qbo_voided(obj)}
        who = f" ({party.name})" if party.name else ""
        label = f"{_KIND_LABEL[kind]} {number or obj.get('Id')}{who}"
        key = (party_type, party.remote_id, _name_key(number)) if number else None
        return values, label, key, facts
    return reader


_KIND_LABEL = {"Bill": "Bill", "Invoice": "Invoice", "VendorCredit": "Vendor credit",
               "CreditMemo": "Credit memo", "BillPayment": "Bill payment", "Payment": "Received payment"}


def _qbo_payment(kind, party_key, party_type, doc_type, doc_txn):
    """A BillPayment or Payment. ``amount`` is the cash (TotalAmt); ``applied``
    is what each bill or invoice's balance drops by; ``credits`` the vendor
    credits or credit memos used, which QBO links in lines of their own with
    positive amounts (TotalAmt = documents - credits). Cash a Payment applies to
    nothing is its unapplied amount: amount - (applied - credits)."""
    credit_type, credit_txn = ("vendor_credit", "VendorCredit") if doc_type == "bill" else ("credit_memo", "CreditMemo")

    def reader(obj):
        party = _ref(obj, party_key, party_type, party_key)
        if party is None:
            raise MappingError(party_key, "is required")
        applied, credits = [], []
        for index, line in enumerate(_items(obj, "Line")):
            amount = money(line.get("Amount"), f"Line[{index}].Amount")
            for txn in _items(line, "LinkedTxn"):
                if txn.get("TxnType") == doc_txn:
                    applied.append({"document": Ref(doc_type, str(txn.get("TxnId"))), "amount": amount})
                elif txn.get("TxnType") == credit_txn:
                    credits.append({"credit": Ref(credit_type, str(txn.get("TxnId"))), "amount": amount})
        values = {party_type: party, "date": date(obj.get("TxnDate"), "TxnDate"),
                  "amount": money(obj.get("TotalAmt"), "TotalAmt"), "applied": applied}
        if credits:
            values["credits"] = credits
        note = _str(obj.get("PrivateNote")) or ""
        facts = {"currency": _currency(obj, "CurrencyRef"),
                 "origin": read_origin_mark(note, PAYMENT_MARK_QBO),
                 "voided": _qbo_voided(obj), "party_name": party.name,
                 "reference": obj.get("PaymentRefNum") or obj.get("DocNumber")}
        label = f"{_KIND_LABEL[kind]} {obj.get('Id')} ({party.name or party.remote_id}, {values['amount']})"
        return values, label, None, facts
    return reader


_QBO_READERS = {
    "account": _qbo_account,
    "class": _qbo_simple("Class"),
    "location": _qbo_simple("Location"),
    "item": _qbo_item,
    "term": _qbo_term,
    "vendor": _qbo_party("Vendor"),
    "customer": _qbo_party("Customer"),
    "bill": _qbo_document("Bill", "VendorRef", "vendor",
                          ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")),
    "vendor_credit": _qbo_document("VendorCredit", "VendorRef", "vendor",
                                   ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")),
    "invoice": _qbo_document("Invoice", "CustomerRef", "customer", ("SalesItemLineDetail",)),
    "credit_memo": _qbo_document("CreditMemo", "CustomerRef", "customer", ("SalesItemLineDetail",)),
    "bill_payment": _qbo_payment("BillPayment", "VendorRef", "vendor", "bill", "Bill"),
    "received_payment": _qbo_payment("Payment", "CustomerRef", "customer", "invoice", "Invoice"),
}


# ------------------------------------------------------------- read Bill.com
def read_billcom(object_type, obj):
    rid = _bc_id(obj)
    try:
        values, label, key, facts = _BC_READERS[object_type](obj)
    except MappingError as err:
        err.record = err.record or f"Bill.com {ENTITIES[object_type][1].split('/')[-1]} {rid}"
        raise
    facts.setdefault("active", not obj.get("archived", False))
    return Record(object_type, "billcom", rid, str(obj.get("updatedTime") or ""), values, label, key, facts)



def _bc_account(obj):
    name = text(obj.get("name"), "name", max_len=100, required=True)
    values = {"name": name, "number": text(obj.get("accountNumber"), "accountNumber"),
              "account_type": obj.get("accountType") or "OTHER", "active": not obj.get("archived", False)}
    return values, f"Account {name}", (_name_key(name),), {}


def _bc_simple(kind):
    def reader(obj):
        name = text(obj.get("name"), "name", max_len=100, required=True)
        return ({"name": name, "active": not obj.get("archived", False)}, f"{kind} {name}",
                (_name_key(name),), {})
    return reader


def _bc_item(obj):
    name = text(obj.get("name"), "name", max_len=100, required=True)
    price = obj.get("price")
    values = {"name": name, "item_type": obj.get("type") or "SERVICE",
              "description": text(obj.get("description"), "description"),
              "price": money(price, "price") if price not in (None, "") else None,
              "active": not obj.get("archived", False)}
    return values, f"Item {name}", (_name_key(name),), {}


def _bc_term(obj):
    name = text(obj.get("name"), "name", max_len=100, required=True)
    days = obj.get("daysDue")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise MappingError("daysDue", f"is not a number of days ({days!r})")
    return {"name": name, "due_days": days, "active": True}, f"Term {name}", (_name_key(name),), {}


def _bc_address(addr, field_name):
    if not addr:
        return None
    if not isinstance(addr, dict):
        raise MappingError(field_name, "is not an address object")
    out = {"line1": addr.get("line1"), "line2": addr.get("line2"), "city": addr.get("city"),
           "state": addr.get("stateOrProvince"), "zip": addr.get("zipOrPostalCode"),
           "country": addr.get("country")}
    out = {k: str(v) for k, v in out.items() if v not in (None, "")}
    return out or None


def _bc_party(kind):
    def reader(obj):
        name = text(obj.get("name"), "name", max_len=100, required=True)
        values = {"name": name, "email": text(obj.get("email"), "email"),
                  "phone": text(obj.get("phone"), "phone"), "active": not obj.get("archived", False)}
        if kind == "Vendor":
            values["company_name"] = text(_dict(obj, "additionalInfo").get("companyName"),
                                          "additionalInfo.companyName")
            values["address"] = _bc_address(obj.get("address"), "address")
            values["account_number"] = text(obj.get("accountNumber"), "accountNumber")
            currency = _currency(obj, "billCurrency")
        else:
            values["company_name"] = text(obj.get("companyName"), "companyName")
            values["address"] = _bc_address(obj.get("billingAddress"), "billingAddress")
            values["parent"] = None
            currency = _currency(obj, "invoiceCurrency")
        return values, f"{kind} {name}", (_name_key(name),), {"currency": currency}
    return reader


def _bc_lines(obj, key, kind):
    lines = []
    for index, line in enumerate(_list(obj, key)):
        if not isinstance(line, dict):
            raise MappingError(f"{key}[{index}]", "is not an object")
        cls = _dict(line, "classifications")
        amount = line.get("amount")
        if amount in (None, "") and line.get("quantity") not in (None, "") and line.get("price") not in (None, ""):
            amount = _line_amount(Decimal(str(line["quantity"])), Decimal(str(line["price"])))
        out = {"amount": money(amount, f"{key}[{index}].amount"),
               "description": text(line.get("description"), f"{key}[{index}].description")}
        if cls.get("chartOfAccountId"):
            out["account"] = _bc_ref(cls["chartOfAccountId"], "account", f"{key}[{index}].chartOfAccountId")
        item_id = line.get("itemId") or cls.get("itemId")
        if item_id:
            out["item"] = _bc_ref(item_id, "item", f"{key}[{index}].itemId")
        if kind != "bill" and line.get("quantity") not in (None, ""):
            out["quantity"] = _number(line.get("quantity"), f"{key}[{index}].quantity")
        if kind != "bill" and line.get("price") not in (None, ""):
            out["price"] = _number(line.get("price"), f"{key}[{index}].price")
        if kind == "bill" and item_id:
            for name in ("quantity", "price"):
                if line.get(name) not in (None, ""):
                    out[name] = _number(line.get(name), f"{key}[{index}].{name}")
        if cls.get("accountingClassId"):
            out["class"] = _bc_ref(cls["accountingClassId"], "class", f"{key}[{index}].accountingClassId")
        if cls.get("customerId"):
            out["customer"] = _bc_ref(cls["customerId"], "customer", f"{key}[{index}].customerId")
        lines.append(out)
    if not lines:
        raise MappingError(key, "has no lines")
    return lines


# The lines a QBO discount and sales tax become on a Bill.com invoice or credit
# memo (see _bc_adjustment_lines); read back, they are the discount and the tax
# again, so an edit made in Bill.com never turns them into item lines.
DISCOUNT_LINE, TAX_LINE = "Discount", "Sales tax"


def _split_adjustments(lines):
    """(lines, discount, tax) of a Bill.com invoice or credit memo."""
    kept, discount, tax = [], Decimal(0), Decimal(0)
    for line in lines:
        amount = Decimal(line["amount"])
        plain = not any(line.get(k) for k in ("item", "account", "class", "customer")) \
            and line.get("quantity") in (None, "1")
        if plain and line.get("description") == DISCOUNT_LINE and amount < 0:
            discount -= amount
        elif plain and line.get("description") == TAX_LINE and amount > 0:
            tax += amount
        else:
            kept.append(line)
    if not kept:  # a document of nothing but such lines keeps them as they are
        return lines, Decimal(0), Decimal(0)
    return kept, discount, tax


def _bc_document(kind):
    def reader(obj):
        if kind == "bill":
            party = _bc_ref(obj.get("vendorId"), "vendor", "vendorId", obj.get("vendorName"))
            invoice = _dict(obj, "invoice")
            number = text(invoice.get("invoiceNumber"), "invoice.invoiceNumber", max_len=100)
            day = date(invoice.get("invoiceDate"), "invoice.invoiceDate")
            lines = _bc_lines(obj, "billLineItems", "bill")
            total = money(obj.get("amount"), "amount")
            balance = money(obj.get("dueAmount", total), "dueAmount")
            party_type = "vendor"
        elif kind == "invoice":
            party = _bc_ref(obj.get("customerId") or _dict(obj, "customer").get("id"), "customer", "customerId")
            number = text(obj.get("invoiceNumber"), "invoiceNumber", max_len=100)
            day = date(obj.get("invoiceDate"), "invoiceDate")
            lines = _bc_lines(obj, "invoiceLineItems", "invoice")
            total = money(obj.get("totalAmount"), "totalAmount")
            balance = money(obj.get("dueAmount", total), "dueAmount")
            party_type = "customer"
            tax = obj.get("salesTaxTotal")
            tax = money(tax, "salesTaxTotal") if tax not in (None, "") else None
        else:
            vendor = kind == "vendor_credit"
            party_type = "vendor" if vendor else "customer"
            party = _bc_ref(obj.get("vendorId" if vendor else "customerId"), party_type,
                            "vendorId" if vendor else "customerId")
            number = text(obj.get("referenceNumber"), "referenceNumber", max_len=100)
            day = date(obj.get("creditDate"), "creditDate")
            lines = _bc_lines(obj, "vendorCreditLineItems" if vendor else "creditMemoLineItems", kind)
            total = money(obj.get("amount", obj.get("totalAmount")) or
                          sum(Decimal(l["amount"]) for l in lines), "amount")
            # what is left of the credit: availableAmount, else total - appliedAmount
            if obj.get("availableAmount") not in (None, ""):
                balance = money(obj.get("availableAmount"), "availableAmount")
            elif obj.get("appliedAmount") not in (None, ""):
                balance = str(Decimal(total) - Decimal(money(obj.get("appliedAmount"), "appliedAmount")))
            else:
                balance = total
        if party is None:
            raise MappingError(f"{party_type}Id", "is required")
        header = _dict(obj, "classifications")
        if kind != "invoice":
            tax = None
        discount = Decimal(0)
        if kind in ("invoice", "credit_memo"):
            lines, discount, line_tax = _split_adjustments(lines)
            if line_tax:
                tax = str(Decimal(tax or 0) + line_tax)
        values = {party_type: party, "number": number, "date": day, "lines": lines,
                  "location": _bc_ref(header.get("locationId"), "location", "classifications.locationId")}
        if kind in ("bill", "invoice"):
            values["due_date"] = date(obj.get("dueDate"), "dueDate")
            values["term"] = _bc_ref(obj.get("paymentTermId"), "term", "paymentTermId")
        if kind == "invoice" and header.get("accountingClassId"):
            values["class"] = _bc_ref(header["accountingClassId"], "class", "classifications.accountingClassId")
        if tax and Decimal(tax):
            values["tax"] = tax
        if discount:
            values["discount"] = str(discount)
        currency = _currency(obj, "currency")
        facts = {"total": total, "balance": balance, "currency": currency,
                 "approval_status": _str(obj.get("approvalStatus")), "party_name": _str(obj.get("vendorName")),
                 "payment_status": _str(obj.get("paymentStatus")) or _str(obj.get("status")),
                 "credits_applied": _bc_credits_applied(obj, kind)}
        label_kind = {"bill": "Bill", "invoice": "Invoice", "vendor_credit": "Vendor credit",
                      "credit_memo": "Credit memo"}[kind]
        who = f" ({party.name})" if party.name else ""
        label = f"{label_kind} {number or obj.get('id')}{who}"
        key = (party_type, party.remote_id, _name_key(number)) if number else None
        return values, label, key, facts
    return reader


def _bc_credits_applied(obj, kind):
    """Credits a Bill.com bill or invoice carries: {vendor credit id: amount} on
    a bill (``vendorCredits``), {"*": creditAmount} on an invoice (credit memos
    apply through the invoice as one amount)."""
    if kind == "bill":
        out = {}
        for i, c in enumerate(_items(obj, "vendorCredits")):
            credit_id = _bc_ref(c.get("id"), "vendor_credit", f"vendorCredits[{i}].id").remote_id
            out[credit_id] = str(Decimal(out.get(credit_id, 0)) +
                                 Decimal(money(c.get("amount"), f"vendorCredits[{i}].amount")))
        return out
    if kind == "invoice" and obj.get("creditAmount") not in (None, ""):
        amount = money(obj.get("creditAmount"), "creditAmount")
        return {"*": amount} if Decimal(amount) else {}
    return {}


_QBO_PAYMENT_ENTITY = {"bill_payment": "BillPayment", "received_payment": "Payment"}


def _bc_payment(kind):
    def reader(obj):
        credits = []
        if kind == "bill_payment":
            party = _bc_ref(obj.get("vendorId") or _dict(obj, "vendor").get("id"), "vendor", "vendorId",
                            _str(obj.get("vendorName")) or _dict(obj, "vendor").get("name"))
            applied = [{"document": _bc_ref(p.get("billId"), "bill", f"billPayments[{i}].billId"),
                        "amount": money(p.get("amount"), f"billPayments[{i}].amount")}
                       for i, p in enumerate(_items(obj, "billPayments"))]
            # vendor credits used by the payment: a bill's balance drops by its
            # cash and its credits together, as QBO applies them
            for i, c in enumerate(_items(obj, "vendorCredits")):
                amount = Decimal(money(c.get("amount"), f"vendorCredits[{i}].amount"))
                bill = _bc_ref(c.get("billId"), "bill", f"vendorCredits[{i}].billId")
                credits.append({"credit": _bc_ref(c.get("id"), "vendor_credit", f"vendorCredits[{i}].id"),
                                "document": bill, "amount": str(amount)})
                for line in applied:
                    if bill is not None and line["document"].remote_id == bill.remote_id:
                        line["amount"] = str(Decimal(line["amount"]) + amount)
                        break
                else:
                    applied.append({"document": bill, "amount": str(amount)})
            day = date(obj.get("processDate"), "processDate")
            party_type = "vendor"
        else:
            party = _bc_ref(obj.get("customerId"), "customer", "customerId")
            applied = [{"document": _bc_ref(p.get("invoiceId"), "invoice", f"invoicePayments[{i}].invoiceId"),
                        "amount": money(p.get("amount"), f"invoicePayments[{i}].amount")}
                       for i, p in enumerate(_items(obj, "invoicePayments"))]
            day = date(obj.get("paymentDate"), "paymentDate")
            party_type = "customer"
        if party is None:
            raise MappingError(f"{party_type}Id", "is required")
        values = {party_type: party, "date": day, "amount": money(obj.get("amount"), "amount"),
                  "applied": applied}
        if credits:
            values["credits"] = credits
        description = _str(obj.get("description")) or ""
        origin = read_origin_mark(description, f"{PAYMENT_MARK_BILLCOM} {_QBO_PAYMENT_ENTITY[kind]}")
        status = (_str(obj.get("status")) or _str(obj.get("singleStatus")) or "").upper()
        facts = {"currency": _currency(obj, "currency"), "origin": origin, "status": status,
                 "voided": status in ("VOIDED", "CANCELED", "FUNDING_FAILED_VOIDED"),
                 "reference": obj.get("confirmationNumber") or obj.get("transactionNumber"),
                 "payment_type": obj.get("paymentType"), "online": obj.get("onlinePayment")}
        name = "Bill payment" if kind == "bill_payment" else "Received payment"
        label = f"{name} {obj.get('id')} ({party.name or party.remote_id}, {values['amount']})"
        return values, label, None, facts
    return reader


_BC_READERS = {
    "account": _bc_account,
    "class": _bc_simple("Class"),
    "location": _bc_simple("Location"),
    "item": _bc_item,
    "term": _bc_term,
    "vendor": _bc_party("Vendor"),
    "customer": _bc_party("Customer"),
    "bill": _bc_document("bill"),
    "invoice": _bc_document("invoice"),
    "vendor_credit": _bc_document("vendor_credit"),
    "credit_memo": _bc_document("credit_memo"),
    "bill_payment": _bc_payment("bill_payment"),
    "received_payment": _bc_payment("received_payment"),
}


# ---------------------------------------------------------- neutral values
def neutral(values, token):
    """Values with every Ref replaced by ``token(ref)``: comparable across sides
    and JSON-able (this is what a link remembers as the last synced state)."""
    if isinstance(values, Ref):
        return token(values)
    if isinstance(values, dict):
        return {k: neutral(v, token) for k, v in values.items() if v is not None}
    if isinstance(values, list):
        return [neutral(v, token) for v in values]
    return values


def refs_in(values):
    """Every Ref in a record's values (to check dependencies before planning)."""
    if isinstance(values, Ref):
        yield values
    elif isinstance(values, dict):
        for v in values.values():
            yield from refs_in(v)
    elif isinstance(values, list):
        for v in values:
            yield from refs_in(v)


def diff(old, new, prefix=""):
    """Field-level differences between two neutral value dicts: field -> [old, new]."""
    out = {}
    old, new = old or {}, new or {}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out.update(diff(a, b, name + "."))
        else:
            out[name] = [a, b]
    return out


# ------------------------------------------------------------ write bodies
def qbo_body(object_type, values, resolve, ctx):
    """A QBO create body from neutral values. ``resolve(token)`` -> QBO id."""
    v = values
    if object_type == "account":
        body = {"Name": v["name"], "AccountType": ACCOUNT_TYPES_BACK.get(v.get("account_type"), "Expense")}
        if v.get("number"):
            body["AcctNum"] = v["number"]
        return body
    if object_type in ("class", "location"):
        return {"Name": v["name"]}
    if object_type == "item":
        body = {"Name": v["name"], "Type": ITEM_TYPES_BACK.get(v.get("item_type"), "Service")}
        if body["Type"] == "Inventory":
            body["Type"] = "NonInventory"  # no quantity on hand comes from Bill.com
        if v.get("description"):
            body["Description"] = v["description"]
        if v.get("price"):
            body["UnitPrice"] = Decimal(v["price"])
        if not ctx.get("income_account_id"):
            raise MappingError("IncomeAccountRef", "QuickBooks needs an income account for new items; none found")
        body["IncomeAccountRef"] = {"value": ctx["income_account_id"]}
        return body
    if object_type == "term":
        return {"Name": v["name"], "DueDays": v.get("due_days") or 0}
    if object_type in ("vendor", "customer"):
        body = {"DisplayName": v["name"]}
        if v.get("company_name"):
            body["CompanyName"] = v["company_name"]
        if v.get("email"):
            body["PrimaryEmailAddr"] = {"Address": v["email"]}
        if v.get("phone"):
            body["PrimaryPhone"] = {"FreeFormNumber": v["phone"]}
        addr = v.get("address")
        if addr:
            body["BillAddr"] = {k2: addr[k1] for k1, k2 in (("line1", "Line1"), ("line2", "Line2"),
                                ("city", "City"), ("state", "CountrySubDivisionCode"),
                                ("zip", "PostalCode"), ("country", "Country")) if addr.get(k1)}
        if object_type == "vendor" and v.get("account_number"):
            body["AcctNum"] = v["account_number"]
        if object_type == "customer" and v.get("parent"):
            body["ParentRef"] = {"value": resolve(v["parent"])}
            body["Job"] = True
        return body
    if object_type in DOCUMENT_TYPES:
        vendor_side = object_type in ("bill", "vendor_credit")
        party = "vendor" if vendor_side else "customer"
        body = {("VendorRef" if vendor_side else "CustomerRef"): {"value": resolve(v[party])}}
        if v.get("number"):
            body["DocNumber"] = v["number"]
        if v.get("date"):
            body["TxnDate"] = v["date"]
        if v.get("due_date"):
            body["DueDate"] = v["due_date"]
        if v.get("term"):
            body["SalesTermRef"] = {"value": resolve(v["term"])}
        if v.get("location"):
            body["DepartmentRef"] = {"value": resolve(v["location"])}
        if vendor_side and ctx.get("ap_account_id"):
            body["APAccountRef"] = {"value": ctx["ap_account_id"]}
        if not vendor_side and ctx.get("ar_account_id") and object_type == "invoice":
            body["ARAccountRef"] = {"value": ctx["ar_account_id"]}
        keep_classes = ctx.get("keep_classes", True)
        if object_type == "invoice" and v.get("class") and keep_classes and ctx.get("class_per_txn"):
            body["ClassRef"] = {"value": resolve(v["class"])}
        body["Line"] = [_qbo_line(object_type, line, resolve, ctx, keep_classes, i)
                        for i, line in enumerate(v["lines"])]
        return body
    raise ValueError(f"no QBO body for {object_type}")


def _qbo_line(object_type, line, resolve, ctx, keep_classes, index):
    out = {"Amount": Decimal(line["amount"])}
    if line.get("description"):
        out["Description"] = line["description"]
    if object_type in ("bill", "vendor_credit"):
        if line.get("item"):
            detail = {"ItemRef": {"value": resolve(line["item"])}}
            if line.get("quantity"):
                detail["Qty"] = Decimal(line["quantity"])
            if line.get("price"):
                detail["UnitPrice"] = Decimal(line["price"])
            kind = "ItemBasedExpenseLineDetail"
        else:
            account = line.get("account")
            if not account and not ctx.get("expense_account_id"):
                raise MappingError(f"lines[{index}].account", "an expense account is required")
            detail = {"AccountRef": {"value": resolve(account) if account else ctx["expense_account_id"]}}
            kind = "AccountBasedExpenseLineDetail"
        if line.get("customer"):
            detail["CustomerRef"] = {"value": resolve(line["customer"])}
    else:
        item = line.get("item")
        if not item and not ctx.get("service_item_id"):
            raise MappingError(f"lines[{index}].item", "QuickBooks needs a product/service on each line")
        detail = {"ItemRef": {"value": resolve(item) if item else ctx["service_item_id"]}}
        if line.get("quantity"):
            detail["Qty"] = Decimal(line["quantity"])
        if line.get("price"):
            detail["UnitPrice"] = Decimal(line["price"])
        kind = "SalesItemLineDetail"
    if line.get("class") and keep_classes:
        detail["ClassRef"] = {"value": resolve(line["class"])}
    out["DetailType"] = kind
    out[kind] = detail
    return out


def qbo_update_body(object_type, values, resolve, ctx, current):
    """A sparse QBO update: the create body plus Id and the current SyncToken."""
    body = qbo_body(object_type, values, resolve, ctx)
    body.update({"Id": current.remote_id, "SyncToken": current.version, "sparse": True})
    if object_type in LIST_TYPES + NAME_TYPES and "active" in values:
        body["Active"] = bool(values["active"])
    return body


def billcom_body(object_type, values, resolve):
    """A Bill.com create body from neutral values. ``resolve(token)`` -> Bill.com id."""
    v = values
    if object_type == "account":
        body = {"name": v["name"], "accountType": v.get("account_type") or "EXPENSE"}
        if v.get("number"):
            body["accountNumber"] = v["number"]
        return body
    if object_type in ("class", "location"):
        return {"name": v["name"]}
    if object_type == "item":
        body = {"name": v["name"], "type": v.get("item_type") or "SERVICE"}
        if v.get("description"):
            body["description"] = v["description"]
        if v.get("price"):
            body["price"] = Decimal(v["price"])
        return body
    if object_type == "term":
        return {"name": v["name"], "daysDue": v.get("due_days") or 0}
    if object_type == "vendor":
        body = {"name": v["name"], "accountType": "BUSINESS"}
        for src, dst in (("email", "email"), ("phone", "phone"), ("account_number", "accountNumber")):
            if v.get(src):
                body[dst] = v[src]
        if v.get("company_name"):
            body["additionalInfo"] = {"companyName": v["company_name"]}
        if v.get("address"):
            body["address"] = _bc_address_body(v["address"])
        return body
    if object_type == "customer":
        body = {"name": v["name"], "accountType": "BUSINESS"}
        for src, dst in (("email", "email"), ("phone", "phone"), ("company_name", "companyName")):
            if v.get(src):
                body[dst] = v[src]
        if v.get("address"):
            body["billingAddress"] = _bc_address_body(v["address"])
        return body
    if object_type == "bill":
        body = {"vendorId": resolve(v["vendor"]),
                "invoice": {"invoiceNumber": v.get("number"), "invoiceDate": v.get("date")},
                "dueDate": v.get("due_date") or v.get("date"),
                "billLineItems": [_bc_line(line, resolve, "bill") for line in v["lines"]]}
        if v.get("term"):
            body["paymentTermId"] = resolve(v["term"])
        if v.get("location"):
            body["classifications"] = {"locationId": resolve(v["location"])}
        return body
    if object_type == "invoice":
        body = {"customer": {"id": resolve(v["customer"])}, "invoiceNumber": v.get("number"),
                "invoiceDate": v.get("date"), "dueDate": v.get("due_date") or v.get("date"),
                "invoiceLineItems": [_bc_line(line, resolve, "invoice") for line in v["lines"]]
                + _bc_adjustment_lines(v)}
        header = {}
        if v.get("class"):
            header["accountingClassId"] = resolve(v["class"])
        if v.get("location"):
            header["locationId"] = resolve(v["location"])
        if header:
            body["classifications"] = header
        return body
    if object_type == "vendor_credit":
        lines = [_bc_line(line, resolve, "bill") for line in v["lines"]]
        body = {"vendorId": resolve(v["vendor"]), "referenceNumber": v.get("number"),
                "creditDate": v.get("date"), "vendorCreditLineItems": lines}
        account = next((l["classifications"]["chartOfAccountId"] for l in lines
                        if l.get("classifications", {}).get("chartOfAccountId")), None)
        if account:
            body["applyToChartOfAccountId"] = account
        return body
    if object_type == "credit_memo":
        return {"customerId": resolve(v["customer"]), "referenceNumber": v.get("number"),
                "creditDate": v.get("date"),
                "creditMemoLineItems": [_bc_line(line, resolve, "invoice") for line in v["lines"]]
                + _bc_adjustment_lines(v)}
    raise ValueError(f"no Bill.com body for {object_type}")


def _line_amount(quantity, price):
    """Quantity x price to the cent, half up, as both systems round a line."""
    return (quantity * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _bc_adjustment_lines(values):
    """A QBO discount and sales tax, as lines of their own on a Bill.com invoice
    or credit memo: the document's total stays what it is in QuickBooks."""
    out = []
    if values.get("discount"):
        out.append({"description": DISCOUNT_LINE, "quantity": 1, "price": -Decimal(values["discount"])})
    if values.get("tax"):
        out.append({"description": TAX_LINE, "quantity": 1, "price": Decimal(values["tax"])})
    return out


def _bc_address_body(addr):
    return {k2: addr[k1] for k1, k2 in (("line1", "line1"), ("line2", "line2"), ("city", "city"),
            ("state", "stateOrProvince"), ("zip", "zipOrPostalCode"), ("country", "country")) if addr.get(k1)}


def _bc_line(line, resolve, kind):
    out = {}
    if line.get("description"):
        out["description"] = line["description"]
    cls = {}
    if line.get("account"):
        cls["chartOfAccountId"] = resolve(line["account"])
    if line.get("class"):
        cls["accountingClassId"] = resolve(line["class"])
    if line.get("customer") and kind == "bill":
        cls["customerId"] = resolve(line["customer"])
    if kind == "bill":
        out["amount"] = Decimal(line["amount"])
        if line.get("item"):
            cls["itemId"] = resolve(line["item"])
    else:
        # Bill.com computes invoice/credit memo line amounts from quantity x price
        # and keeps prices to the cent: send both only when the price is whole
        # cents and the two give the line's amount exactly; else 1 x the amount
        quantity, price = line.get("quantity"), line.get("price")
        if quantity and price and Decimal(price) == Decimal(price).quantize(Decimal("0.01")) \
                and _line_amount(Decimal(quantity), Decimal(price)) == Decimal(line["amount"]):
            out["quantity"], out["price"] = Decimal(quantity), Decimal(price)
        else:
            out["quantity"], out["price"] = 1, Decimal(line["amount"])
        if line.get("item"):
            out["itemId"] = resolve(line["item"])
    if cls:
        out["classifications"] = cls
    return out



# ------------------------------------------------------------ payment bodies
def qbo_payment_body(object_type, values, resolve, settings, source_id, reference=None):
    """A BillPayment or Payment from a Bill.com payment's neutral values:
    TotalAmt is the cash; each document line its balance drop; each credit a
    line of its own (QBO nets them: TotalAmt = documents - credits)."""
    bill_side = object_type == "bill_payment"
    doc_txn, credit_txn = ("Bill", "VendorCredit") if bill_side else ("Invoice", "CreditMemo")
    lines = [{"Amount": Decimal(a["amount"]), "LinkedTxn": [{"TxnId": resolve(a["document"]), "TxnType": doc_txn}]}
             for a in values["applied"]]
    lines += [{"Amount": Decimal(c["amount"]), "LinkedTxn": [{"TxnId": resolve(c["credit"]), "TxnType": credit_txn}]}
              for c in values.get("credits") or ()]
    body = {"TotalAmt": Decimal(values["amount"]), "Line": lines,
            "PrivateNote": origin_mark(PAYMENT_MARK_QBO, source_id)}
    if bill_side:
        if not settings.bank_account_id:
            raise MappingError("bank_account_id", "the connection has no bank account for bill payments")
        body.update({"VendorRef": {"value": resolve(values["vendor"])}, "PayType": "Check",
                     "CheckPayment": {"BankAccountRef": {"value": settings.bank_account_id}}})
        if reference:
            body["DocNumber"] = str(reference)[:21]
        if settings.ap_account_id:
            body["APAccountRef"] = {"value": settings.ap_account_id}
    else:
        body["CustomerRef"] = {"value": resolve(values["customer"])}
        if settings.deposit_account_id:
            body["DepositToAccountRef"] = {"value": settings.deposit_account_id}
        if reference:
            body["PaymentRefNum"] = str(reference)[:21]
    if values.get("date"):
        body["TxnDate"] = values["date"]
    return body


def billcom_payment_body(object_type, values, resolve, source_id):
    """A Bill.com recorded payment from a QBO payment's neutral values. An AP
    payment says per bill how much is cash and which vendor credit covers the
    rest; an AR payment's amount keeps what is left unapplied."""
    if object_type == "bill_payment":
        credits = [[resolve(c["credit"]), Decimal(c["amount"])] for c in values.get("credits") or ()]
        payments, used = [], []
        for applied in values["applied"]:
            bill_id, due = resolve(applied["document"]), Decimal(applied["amount"])
            for credit in credits:  # credits cover the bills in order, as QBO lists them
                take = min(credit[1], due)
                if take > 0:
                    used.append({"id": credit[0], "billId": bill_id, "amount": take})
                    credit[1] -= take
                    due -= take
            payments.append({"billId": bill_id, "amount": due})
        body = {"vendorId": resolve(values["vendor"]), "processDate": values.get("date"), "toPrintCheck": False,
                "payments": payments,
                "description": origin_mark(f"{PAYMENT_MARK_BILLCOM} BillPayment", source_id)}
        if used:
            body["vendorCredits"] = used
        return body
    invoices = [{"id": resolve(a["document"]), "amount": Decimal(a["amount"])} for a in values["applied"]]
    return {"customerId": resolve(values["customer"]), "paymentDate": values.get("date"), "paymentType": "CHECK",
            "amount": Decimal(values["amount"]), "invoices": invoices,
            "description": origin_mark(f"{PAYMENT_MARK_BILLCOM} Payment", source_id)}
