"""Lists: chart of accounts, classes, locations, items and payment terms.

Each type reads from QBO and from Bill.com, and writes a create body for
each, side by side; ``MAPPERS`` names them for the dispatch.
"""
from decimal import Decimal

from ..records import MappingError, blank, money, text
from .common import Mapper, name_key

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


def _qbo_named(obj, name_field="Name", max_len=100):
    name = text(obj.get(name_field), name_field, max_len=max_len, required=True)
    return name


# ------------------------------------------------------------------ account
def _qbo_account(obj):
    name = _qbo_named(obj)
    values = {"name": name, "number": text(obj.get("AcctNum"), "AcctNum"),
              "account_type": ACCOUNT_TYPES.get(obj.get("AccountType"), "OTHER"),
              "active": obj.get("Active", True) is not False}
    return values, f"Account {name}", (name_key(name),), {}


def _bc_account(obj):
    name = text(obj.get("name"), "name", max_len=100, required=True)
    values = {"name": name, "number": text(obj.get("accountNumber"), "accountNumber"),
              "account_type": obj.get("accountType") or "OTHER", "active": not obj.get("archived", False)}
    return values, f"Account {name}", (name_key(name),), {}


def _qbo_account_body(v, resolve, ctx):
    body = {"Name": v["name"], "AccountType": ACCOUNT_TYPES_BACK.get(v.get("account_type"), "Expense")}
    if v.get("number"):
        body["AcctNum"] = v["number"]
    return body


def _bc_account_body(v, resolve):
    body = {"name": v["name"], "accountType": v.get("account_type") or "EXPENSE"}
    if v.get("number"):
        body["accountNumber"] = v["number"]
    return body


# ------------------------------------------------------ class and location
def _qbo_simple(kind):
    def reader(obj):
        name = _qbo_named(obj)
        return ({"name": name, "active": obj.get("Active", True) is not False},
                f"{kind} {name}", (name_key(name),), {})
    return reader


def _bc_simple(kind):
    def reader(obj):
        name = text(obj.get("name"), "name", max_len=100, required=True)
        return ({"name": name, "active": not obj.get("archived", False)}, f"{kind} {name}",
                (name_key(name),), {})
    return reader


def _qbo_simple_body(v, resolve, ctx):
    return {"Name": v["name"]}


def _bc_simple_body(v, resolve):
    return {"name": v["name"]}


# --------------------------------------------------------------------- item
def _qbo_item(obj):
    name = _qbo_named(obj)
    price = obj.get("UnitPrice")
    values = {"name": name, "item_type": ITEM_TYPES.get(obj.get("Type"), "SERVICE"),
              "description": text(obj.get("Description"), "Description"),
              "price": money(price, "UnitPrice") if not blank(price) else None,
              "active": obj.get("Active", True) is not False}
    return values, f"Item {name}", (name_key(name),), {"qbo_type": obj.get("Type")}


def _bc_item(obj):
    name = text(obj.get("name"), "name", max_len=100, required=True)
    price = obj.get("price")
    values = {"name": name, "item_type": obj.get("type") or "SERVICE",
              "description": text(obj.get("description"), "description"),
              "price": money(price, "price") if not blank(price) else None,
              "active": not obj.get("archived", False)}
    return values, f"Item {name}", (name_key(name),), {}


def _qbo_item_body(v, resolve, ctx):
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


def _bc_item_body(v, resolve):
    body = {"name": v["name"], "type": v.get("item_type") or "SERVICE"}
    if v.get("description"):
        body["description"] = v["description"]
    if v.get("price"):
        body["price"] = Decimal(v["price"])
    return body


# --------------------------------------------------------------------- term
def _qbo_term(obj):
    name = _qbo_named(obj, max_len=31)
    days = obj.get("DueDays")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise MappingError("DueDays", f"is not a number of days ({days!r})")
    return ({"name": name, "due_days": days, "active": obj.get("Active", True) is not False},
            f"Term {name}", (name_key(name),), {})


def _bc_term(obj):
    name = text(obj.get("name"), "name", max_len=100, required=True)
    days = obj.get("daysDue")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise MappingError("daysDue", f"is not a number of days ({days!r})")
    return {"name": name, "due_days": days, "active": True}, f"Term {name}", (name_key(name),), {}


def _qbo_term_body(v, resolve, ctx):
    return {"Name": v["name"], "DueDays": v.get("due_days") or 0}


def _bc_term_body(v, resolve):
    return {"name": v["name"], "daysDue": v.get("due_days") or 0}


MAPPERS = {
    "account": Mapper(_qbo_account, _bc_account, _qbo_account_body, _bc_account_body),
    "class": Mapper(_qbo_simple("Class"), _bc_simple("Class"), _qbo_simple_body, _bc_simple_body),
    "location": Mapper(_qbo_simple("Location"), _bc_simple("Location"), _qbo_simple_body, _bc_simple_body),
    "item": Mapper(_qbo_item, _bc_item, _qbo_item_body, _bc_item_body),
    "term": Mapper(_qbo_term, _bc_term, _qbo_term_body, _bc_term_body),
}
