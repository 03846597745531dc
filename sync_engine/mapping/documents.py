"""Documents: bills, invoices, vendor credits and credit memos.

A document's lines are read and written for both systems here, with what
QBO states outside them: discounts (amount or percent), sales tax and
bundles. On a Bill.com invoice or credit memo a discount and the tax become
lines of their own (adjustments), read back as the discount and the tax.
"""
from decimal import ROUND_HALF_UP, Decimal

from ..records import MappingError, blank, date, exact_number, money, text
from .common import Mapper, _bc_ref, _currency, _dict, _items, _list, name_key, qbo_voided, _ref, _str


ZERO = Decimal(0)


def lines_total(values):
    """The sum of a document's lines, exact."""
    total = ZERO
    for line in values.get("lines") or ():
        total += Decimal(line["amount"])
    return total


def _number(value, field_name):
    """A quantity or unit price as exact text: "2", "0.5", "12.3456"."""
    if type(value) is int:  # the common shape, already its own exact text
        return str(value)
    exact = exact_number(value, field_name)
    return str(exact.normalize()) if exact != exact.to_integral() else str(int(exact))


def _line_amount(quantity, price):
    """Quantity x price to the cent, half up, as both systems round a line."""
    return (quantity * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# -------------------------------------------------------------------- lines
# A line's fields are read under their names within the line ("Amount"); only
# when one cannot be read does the line's place go in front ("Line[2].Amount"),
# so a document of many lines builds no field names it never reports.
def _qbo_lines(obj, detail_types, doc_field="Line"):
    """The lines that carry money, and the discount: a bundle (GroupLineDetail)
    contributes its inner lines, subtotal and description-only lines nothing,
    and discount lines (amount or percent; QBO states the amount either way)
    add up to the document's discount."""
    lines, discount = [], ZERO
    for index, line in enumerate(_list(obj, doc_field)):
        if not isinstance(line, dict):
            raise MappingError(f"{doc_field}[{index}]", "is not an object")
        kind = line.get("DetailType")
        if kind in detail_types:  # an expense or sales line: most lines are
            detail = _dict(line, kind)
            try:
                lines.append(_qbo_line_values(line, kind, detail))
            except MappingError as err:
                err.field = f"{doc_field}[{index}].{err.field}"
                raise
            continue
        where = f"{doc_field}[{index}]"
        if kind in ("SubTotalLineDetail", "DescriptionOnly"):
            continue
        if kind == "DiscountLineDetail":
            discount += Decimal(money(line.get("Amount"), f"{where}.Amount"))
            continue
        if kind == "GroupLineDetail":
            group = _dict(line, "GroupLineDetail")
            inner, inner_discount = _qbo_lines(group, detail_types, "Line") if group.get("Line") else ([], 0)
            stated = line.get("Amount")
            inner_total = sum((Decimal(i["amount"]) for i in inner), ZERO) - inner_discount
            if not blank(stated) and Decimal(money(stated, f"{where}.Amount")) != inner_total:
                raise MappingError(f"{where}.Amount", f"bundle amount {stated} is not the sum of its lines "
                                   f"({inner_total:.2f})")
            lines.extend(inner)
            discount += inner_discount
            continue
        raise MappingError(f"{where}.DetailType", f"unsupported line type {kind!r}")
    if not lines and doc_field == "Line":
        raise MappingError("Line", "has no lines with an amount")
    return lines, discount


def _qbo_line_values(line, kind, detail):
    """One expense or sales line (fields named within the line)."""
    out = {"amount": money(line.get("Amount"), "Amount")}
    description = text(line.get("Description"), "Description")
    if description is not None:
        out["description"] = description
    if kind == "AccountBasedExpenseLineDetail":
        account = _ref(detail, "AccountRef", "account", "AccountRef")
        if account is not None:
            out["account"] = account
    if kind in ("ItemBasedExpenseLineDetail", "SalesItemLineDetail"):
        item = _ref(detail, "ItemRef", "item", "ItemRef")
        if item is not None:
            out["item"] = item
        quantity, price = detail.get("Qty"), detail.get("UnitPrice")
        if not blank(quantity):
            out["quantity"] = _number(quantity, "Qty")
        if not blank(price):
            out["price"] = _number(price, "UnitPrice")
    if detail.get("ClassRef"):
        out["class"] = _ref(detail, "ClassRef", "class", "ClassRef")
    if detail.get("CustomerRef"):
        out["customer"] = _ref(detail, "CustomerRef", "customer", "CustomerRef")
    return out


def _bc_lines(obj, key, kind):
    lines = []
    for index, line in enumerate(_list(obj, key)):
        if not isinstance(line, dict):
            raise MappingError(f"{key}[{index}]", "is not an object")
        cls = _dict(line, "classifications")
        try:
            lines.append(_bc_line_values(line, kind, cls))
        except MappingError as err:
            err.field = f"{key}[{index}].{err.field}"
            raise
    if not lines:
        raise MappingError(key, "has no lines")
    return lines


def _bc_line_values(line, kind, cls):
    """One Bill.com line (fields named within the line)."""
    amount, quantity, price = line.get("amount"), line.get("quantity"), line.get("price")
    if blank(amount) and not blank(quantity) and not blank(price):
        amount = _line_amount(Decimal(str(quantity)), Decimal(str(price)))
    out = {"amount": money(amount, "amount"), "description": text(line.get("description"), "description")}
    if cls.get("chartOfAccountId"):
        out["account"] = _bc_ref(cls["chartOfAccountId"], "account", "chartOfAccountId")
    item_id = line.get("itemId") or cls.get("itemId")
    if item_id:
        out["item"] = _bc_ref(item_id, "item", "itemId")
    # a bill line has a quantity and price only with an item
    if (kind != "bill" or item_id) and not blank(quantity):
        out["quantity"] = _number(quantity, "quantity")
    if (kind != "bill" or item_id) and not blank(price):
        out["price"] = _number(price, "price")
    if cls.get("accountingClassId"):
        out["class"] = _bc_ref(cls["accountingClassId"], "class", "accountingClassId")
    if cls.get("customerId"):
        out["customer"] = _bc_ref(cls["customerId"], "customer", "customerId")
    return out


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


# --------------------------------------------------- discount and tax lines
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


def _bc_adjustment_lines(values):
    """A QBO discount and sales tax, as lines of their own on a Bill.com invoice
    or credit memo: the document's total stays what it is in QuickBooks."""
    out = []
    if values.get("discount"):
        out.append({"description": DISCOUNT_LINE, "quantity": 1, "price": -Decimal(values["discount"])})
    if values.get("tax"):
        out.append({"description": TAX_LINE, "quantity": 1, "price": Decimal(values["tax"])})
    return out


# ---------------------------------------------------------------- documents
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
        tax = Decimal(money(tax, "TxnTaxDetail.TotalTax")) if not blank(tax) else ZERO
        if tax and obj.get("GlobalTaxCalculation") == "TaxInclusive" and not blank(obj.get("TotalAmt")) \
                and lines_total(values) - discount == Decimal(money(obj.get("TotalAmt"), "TotalAmt")):
            tax = ZERO  # amounts include the tax already: it is inside the lines
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
                 "party_name": party.name, "voided": qbo_voided(obj)}
        label, key = _label_and_key(_KIND_LABEL[kind], number or obj.get("Id"), party, party_type, number)
        return values, label, key, facts
    return reader


def _label_and_key(kind_label, shown, party, party_type, number):
    """What a finance user calls a document ("Bill NW-2025-0042 (Northwind)"), and
    its natural key: its party and its number, when it has one."""
    who = f" ({party.name})" if party.name else ""
    key = (party_type, party.remote_id, name_key(number)) if number else None
    return f"{kind_label} {shown}{who}", key


_KIND_LABEL = {"Bill": "Bill", "Invoice": "Invoice", "VendorCredit": "Vendor credit",
               "CreditMemo": "Credit memo"}


def _bc_number_date(holder, number_key, date_key, prefix=""):
    """A Bill.com document's number and date, read from ``holder`` (the object, or its ``invoice``)."""
    return (text(holder.get(number_key), prefix + number_key, max_len=100),
            date(holder.get(date_key), prefix + date_key))


# Fields in which Bill.com states what is left of a vendor credit or credit
# memo (the reference leaves the name open; availableAmount is what we have seen)
CREDIT_LEFT_FIELDS = ("availableAmount", "remainingAmount", "unappliedAmount")


def _bc_credit_left(obj, total):
    """What is left of a credit: the field that says so, else total - appliedAmount."""
    for name in CREDIT_LEFT_FIELDS:
        if not blank(obj.get(name)):
            return money(obj.get(name), name)
    if not blank(obj.get("appliedAmount")):
        return str(Decimal(total) - Decimal(money(obj.get("appliedAmount"), "appliedAmount")))
    return total


def _bc_document(kind):
    def reader(obj):
        if kind == "bill":
            party = _bc_ref(obj.get("vendorId"), "vendor", "vendorId", obj.get("vendorName"))
            number, day = _bc_number_date(_dict(obj, "invoice"), "invoiceNumber", "invoiceDate", "invoice.")
            lines = _bc_lines(obj, "billLineItems", "bill")
            total = money(obj.get("amount"), "amount")
            balance = money(obj.get("dueAmount", total), "dueAmount")
            party_type = "vendor"
        elif kind == "invoice":
            party = _bc_ref(obj.get("customerId") or _dict(obj, "customer").get("id"), "customer", "customerId")
            number, day = _bc_number_date(obj, "invoiceNumber", "invoiceDate")
            lines = _bc_lines(obj, "invoiceLineItems", "invoice")
            total = money(obj.get("totalAmount"), "totalAmount")
            balance = money(obj.get("dueAmount", total), "dueAmount")
            party_type = "customer"
            tax = obj.get("salesTaxTotal")
            tax = money(tax, "salesTaxTotal") if not blank(tax) else None
        else:
            vendor = kind == "vendor_credit"
            party_type = "vendor" if vendor else "customer"
            party = _bc_ref(obj.get("vendorId" if vendor else "customerId"), party_type,
                            "vendorId" if vendor else "customerId")
            number, day = _bc_number_date(obj, "referenceNumber", "creditDate")
            lines = _bc_lines(obj, "vendorCreditLineItems" if vendor else "creditMemoLineItems", kind)
            total = money(obj.get("amount", obj.get("totalAmount")) or
                          sum(Decimal(l["amount"]) for l in lines), "amount")
            balance = _bc_credit_left(obj, total)
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
        label, key = _label_and_key(_BC_KIND_LABEL[kind], number or obj.get("id"), party, party_type, number)
        return values, label, key, facts
    return reader


_BC_KIND_LABEL = {"bill": "Bill", "invoice": "Invoice", "vendor_credit": "Vendor credit",
                  "credit_memo": "Credit memo"}


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
    if kind == "invoice" and not blank(obj.get("creditAmount")):
        amount = money(obj.get("creditAmount"), "creditAmount")
        return {"*": amount} if Decimal(amount) else {}
    return {}


def _qbo_document_body(object_type):
    def body_of(v, resolve, ctx):
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
    return body_of


def _bc_bill_body(v, resolve):
    body = {"vendorId": resolve(v["vendor"]),
            "invoice": {"invoiceNumber": v.get("number"), "invoiceDate": v.get("date")},
            "dueDate": v.get("due_date") or v.get("date"),
            "billLineItems": [_bc_line(line, resolve, "bill") for line in v["lines"]]}
    if v.get("term"):
        body["paymentTermId"] = resolve(v["term"])
    if v.get("location"):
        body["classifications"] = {"locationId": resolve(v["location"])}
    return body


def _bc_invoice_body(v, resolve):
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


def _bc_vendor_credit_body(v, resolve):
    lines = [_bc_line(line, resolve, "bill") for line in v["lines"]]
    body = {"vendorId": resolve(v["vendor"]), "referenceNumber": v.get("number"),
            "creditDate": v.get("date"), "vendorCreditLineItems": lines}
    account = next((l["classifications"]["chartOfAccountId"] for l in lines
                    if l.get("classifications", {}).get("chartOfAccountId")), None)
    if account:
        body["applyToChartOfAccountId"] = account
    return body


def _bc_credit_memo_body(v, resolve):
    return {"customerId": resolve(v["customer"]), "referenceNumber": v.get("number"),
            "creditDate": v.get("date"),
            "creditMemoLineItems": [_bc_line(line, resolve, "invoice") for line in v["lines"]]
            + _bc_adjustment_lines(v)}


MAPPERS = {
    "bill": Mapper(_qbo_document("Bill", "VendorRef", "vendor",
                                 ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")),
                   _bc_document("bill"), _qbo_document_body("bill"), _bc_bill_body),
    "invoice": Mapper(_qbo_document("Invoice", "CustomerRef", "customer", ("SalesItemLineDetail",)),
                      _bc_document("invoice"), _qbo_document_body("invoice"), _bc_invoice_body),
    "vendor_credit": Mapper(_qbo_document("VendorCredit", "VendorRef", "vendor",
                                          ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")),
                            _bc_document("vendor_credit"), _qbo_document_body("vendor_credit"),
                            _bc_vendor_credit_body),
    "credit_memo": Mapper(_qbo_document("CreditMemo", "CustomerRef", "customer", ("SalesItemLineDetail",)),
                          _bc_document("credit_memo"), _qbo_document_body("credit_memo"), _bc_credit_memo_body),
}
