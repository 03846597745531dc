"""How QBO prices the lines of a Bill, VendorCredit, Invoice or CreditMemo and
adds them up, in ``Decimal``.

* ``SalesItemLineDetail`` / ``ItemBasedExpenseLineDetail`` /
  ``AccountBasedExpenseLineDetail`` lines add their ``Amount``. On item lines
  with both ``Qty`` and ``UnitPrice``: a missing ``Amount`` is Qty x UnitPrice
  rounded half-up to the cent; a supplied one must equal that, or QBO refuses
  the document with 6070 "Amount is not equal to UnitPrice * Qty. Supplied
  value:1,000" (integrators report the check is exact after half-up rounding,
  so a half cent computed in binary floating point is refused; see also the
  review of simstudioai/sim PR #6130: "QuickBooks rejects item lines when
  Amount is not equal to Qty * UnitPrice").
* ``GroupLineDetail`` lines add their inner ``GroupLineDetail.Line[]``; the
  group line's own ``Amount`` is set to that sum.
* ``DiscountLineDetail`` lines subtract their ``Amount``, or with
  ``PercentBased: true`` ``DiscountPercent`` % of the lines before them,
  rounded half-up to the cent.
* ``SubTotalLineDetail`` and ``DescriptionOnly`` lines add nothing.
* ``TxnTaxDetail.TotalTax`` adds to the total unless ``GlobalTaxCalculation``
  is ``TaxInclusive`` (then the tax is already inside the line amounts).
"""
from decimal import Decimal

from .qbo_common import _ZERO, QBOFault, _dec, _money, _num, _required

ITEM_DETAILS = ("SalesItemLineDetail", "ItemBasedExpenseLineDetail")
HUNDRED = Decimal(100)


def _supplied(amount):
    return f"{amount.normalize():,f}"


def qty_price_mismatch(amount):
    return QBOFault("6070", "A business validation error has occurred while processing your request",
                    f"Business Validation Error: Amount is not equal to UnitPrice * Qty. "
                    f"Supplied value:{_supplied(amount)}", "Line.Amount")


def _given(value):
    return value is not None and value != ""


def item_amount(line, detail):
    """The amount of an item line, checked against Qty x UnitPrice."""
    qty, price = detail.get("Qty"), detail.get("UnitPrice")
    computed = None
    if _given(qty) and _given(price):
        computed = _money(_dec(qty, "Qty") * _dec(price, "UnitPrice"))
    if not _given(line.get("Amount")):
        if computed is None:
            raise _required("Line.Amount")
        return computed
    amount = _money(line["Amount"], "Line.Amount")
    if computed is not None and amount != computed:
        raise qty_price_mismatch(_dec(line["Amount"], "Line.Amount"))
    return amount


def price_lines(lines):
    """Set every line's ``Amount`` as QBO stores it; returns (lines subtotal, discounts).

    ``lines`` have been checked for shape: each is a dict with a known ``DetailType``
    and, except ``DescriptionOnly``, a detail object.
    """
    subtotal = discounts = _ZERO
    for line in lines:
        kind = line["DetailType"]
        detail = line.get(kind) if isinstance(line.get(kind), dict) else {}
        if kind in ITEM_DETAILS:
            amount = item_amount(line, detail)
        elif kind == "GroupLineDetail":
            inner_subtotal, inner_discounts = price_lines(detail.get("Line") or [])
            amount = inner_subtotal - inner_discounts
        elif kind == "DiscountLineDetail":
            if detail.get("PercentBased") in (True, "true"):
                if not _given(detail.get("DiscountPercent")):
                    raise _required("Line.DiscountLineDetail.DiscountPercent")
                amount = _money(subtotal * _dec(detail["DiscountPercent"], "DiscountPercent") / HUNDRED)
            elif _given(line.get("Amount")):
                amount = _money(line["Amount"], "Line.Amount")
            else:
                raise _required("Line.Amount")
            line["Amount"] = _num(amount)
            discounts += amount
            continue
        elif kind in ("DescriptionOnly", "SubTotalLineDetail"):
            line["Amount"] = _num(_ZERO) if kind == "DescriptionOnly" else line.get("Amount", 0)
            continue
        else:
            if not _given(line.get("Amount")):
                raise _required("Line.Amount")
            amount = _money(line["Amount"], "Line.Amount")
        line["Amount"] = _num(amount)
        subtotal += amount
    return subtotal, discounts


def tax_of(fields):
    detail = fields.get("TxnTaxDetail")
    if isinstance(detail, dict) and _given(detail.get("TotalTax")):
        return _money(detail["TotalTax"], "TxnTaxDetail.TotalTax")
    return _ZERO


def document_total(fields, subtotal, discounts):
    """TotalAmt: lines less discounts, plus tax unless the amounts already include it."""
    total = subtotal - discounts
    if fields.get("GlobalTaxCalculation") != "TaxInclusive":
        total += tax_of(fields)
    return total
