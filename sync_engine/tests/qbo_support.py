"""Shared pieces of the QuickBooks tests: a live sandbox on a FakeClock, clients,
plain HTTP access, the reference payloads, and builders that recreate the
reference examples inside the sandbox so their shapes can be compared."""
import json
import pathlib
import re

import pytest
import requests

from sync_engine.pacing import FakeClock
from sync_engine.qbo.client import QBOClient
from sync_engine.sandbox.qbo import READ_ONLY, REF_TARGETS, SYSTEM_FIELDS, QBOSandbox

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "qbo"
ISO_OFFSET_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}-08:00$")


def fixture(name):
    text = (FIXTURES / name).read_text()
    return text if name.endswith(".xml") else json.loads(text)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sandbox(clock):
    sb = QBOSandbox(clock=clock, timeout_fault_seconds=0.5)
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture
def tokens():
    """Every TokenSet the client hands to on_tokens, in order."""
    return []


def make_client(sandbox, clock=None, tokens=None, **options):
    options.setdefault("timeout", 5)
    return QBOClient(sandbox.base_url, sandbox.realm_id, sandbox.client_id, sandbox.client_secret,
                     sandbox.initial_refresh_token, sandbox.token_url, revoke_url=sandbox.revoke_url,
                     on_tokens=tokens.append if tokens is not None else None, clock=clock or sandbox.clock,
                     **options)


@pytest.fixture
def client(sandbox, tokens):
    c = make_client(sandbox, tokens=tokens)
    yield c
    c.session.close()


class Raw:
    """Plain HTTP against the sandbox with a grant of its own, to check the wire format."""

    def __init__(self, sandbox):
        self.sb = sandbox
        self.access, self.refresh = sandbox.issue_tokens()
        self.http = requests.Session()

    def headers(self, **extra):
        return {"Authorization": f"Bearer {self.access}", "Accept": "application/json", **extra}

    def get(self, path, **params):
        return self.http.get(f"{self.sb.api_base}/{path}", params={"minorversion": 75, **params},
                             headers=self.headers(), timeout=5)

    def post(self, path, body, **params):
        return self.http.post(f"{self.sb.api_base}/{path}", params={"minorversion": 75, **params},
                              data=json.dumps(body), headers=self.headers(**{"Content-Type": "application/json"}),
                              timeout=5)

    def query(self, text):
        return self.get("query", query=text)

    def token(self, form, basic=None, **headers):
        auth = basic if basic is not None else (self.sb.client_id, self.sb.client_secret)
        return self.http.post(self.sb.token_url, data=form, auth=auth, headers={"Accept": "application/json", **headers},
                              timeout=5)


@pytest.fixture
def raw(sandbox):
    r = Raw(sandbox)
    yield r
    r.http.close()


# ------------------------------------------------------------------ seed helpers
def account(sb, name):
    return next(a for a in sb.all("Account") if a["Name"] == name)


def ref(obj):
    return {"value": obj["Id"], "name": obj.get("DisplayName") or obj.get("Name")}


def vendor(sb, name="Norton Lumber", **extra):
    return sb.add("Vendor", {"DisplayName": name, **extra})


def customer(sb, name="Cool Cars", **extra):
    return sb.add("Customer", {"DisplayName": name, **extra})


def expense_line(amount, account_obj, **detail):
    return {"Amount": amount, "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": ref(account_obj), **detail}}


def bill(sb, vendor_obj, *amounts, **extra):
    expense = account(sb, "Office Supplies & Software")
    return sb.add("Bill", {"VendorRef": ref(vendor_obj), "TxnDate": "2025-02-18",
                           "Line": [expense_line(a, expense) for a in (amounts or (100.0,))], **extra})


def bill_payment(sb, vendor_obj, applications, total=None, **extra):
    """applications: [(doc, amount, 'Bill' | 'VendorCredit')]."""
    lines = [{"Amount": amount, "LinkedTxn": [{"TxnId": doc["Id"], "TxnType": kind}]}
             for doc, amount, kind in applications]
    if total is None:
        total = sum(a for _, a, k in applications if k == "Bill") - sum(a for _, a, k in applications if k != "Bill")
    return sb.add("BillPayment", {"VendorRef": ref(vendor_obj), "PayType": "Check", "TotalAmt": total,
                                  "CheckPayment": {"BankAccountRef": ref(account(sb, "Checking"))},
                                  "Line": lines, **extra})


def item(sb, name="Design", price=75):
    return sb.add("Item", {"Name": name, "Type": "Service", "UnitPrice": price,
                           "IncomeAccountRef": ref(account(sb, "Services"))})


def sales_line(amount, item_obj, qty=1):
    return {"Amount": amount, "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": ref(item_obj), "Qty": qty, "UnitPrice": amount / qty}}


def invoice(sb, customer_obj, *amounts, **extra):
    it = item(sb, f"Item {len(sb.all('Item')) + 1}")
    return sb.add("Invoice", {"CustomerRef": ref(customer_obj),
                              "Line": [sales_line(a, it) for a in (amounts or (100.0,))], **extra})


def payment(sb, customer_obj, applications, total=None, **extra):
    lines = [{"Amount": amount, "LinkedTxn": [{"TxnId": doc["Id"], "TxnType": kind}]}
             for doc, amount, kind in applications]
    if total is None:
        total = sum(a for _, a, k in applications if k == "Invoice") - \
            sum(a for _, a, k in applications if k != "Invoice")
    return sb.add("Payment", {"CustomerRef": ref(customer_obj), "TotalAmt": total, "Line": lines, **extra})


# --------------------------------------------- recreating the reference examples
class Recreate:
    """Builds, inside the sandbox, the same record as a reference example:
    writable fields copied, references pointed at sandbox records of the same
    name (created when missing), server-computed fields left to the server."""

    def __init__(self, sb):
        self.sb = sb
        self.memo = {}

    def target(self, entity, doc_ref):
        name = (doc_ref.get("name") or f"{entity} {doc_ref['value']}").split(":")[-1]
        key = (entity, doc_ref["value"])
        if key in self.memo:
            return self.memo[key]
        field = "DisplayName" if entity in ("Vendor", "Customer") else "Name"
        existing = next((o for o in self.sb.all(entity) if o.get(field) == name), None)
        if existing is None:
            body = {field: name}
            if entity == "Account":
                body["AccountType"] = "Expense"
            elif entity == "Item":
                body.update({"Type": "Service", "IncomeAccountRef": ref(account(self.sb, "Services"))})
            elif entity == "Term":
                body["DueDays"] = 30
            existing = self.sb.add(entity, body)
        self.memo[key] = existing
        return existing

    def remap(self, node, entity=None):
        if isinstance(node, list):
            return [self.remap(n, entity) for n in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            target = REF_TARGETS.get(key)
            if key == "ParentRef" and entity:
                target = entity
            if target and isinstance(value, dict) and "value" in value:
                obj = self.target(target, value)
                out[key] = {"value": obj["Id"]}
            else:
                out[key] = self.remap(value, entity)
        return out

    def body(self, entity, doc_obj):
        body = {k: v for k, v in doc_obj.items() if k not in SYSTEM_FIELDS and k not in READ_ONLY.get(entity, ())}
        if entity == "Customer" and "ParentRef" in body:
            body["ParentRef"] = {"value": self.target("Customer", {"value": body["ParentRef"]["value"],
                                                                 "name": "Freeman Sporting Goods"})["Id"]}
        if entity == "Department" and "ParentRef" in body:
            body["ParentRef"] = {"value": self.target("Department", {"value": body["ParentRef"]["value"],
                                                                   "name": "Bay Area"})["Id"]}
        return self.remap(body)

    def add(self, entity, doc_obj, links=None):
        """``links`` maps the example's LinkedTxn TxnIds to sandbox ids."""
        body = self.body(entity, doc_obj)
        for line in body.get("Line") or []:
            for linked in line.get("LinkedTxn") or []:
                linked["TxnId"] = (links or {})[linked["TxnId"]]
        return self.sb.add(entity, body)


def ref_paths(node, path=""):
    """{path: ref dict} for every *Ref object in a record."""
    out = {}
    if isinstance(node, list):
        for i, n in enumerate(node):
            out.update(ref_paths(n, f"{path}[{i}]"))
    elif isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("Ref") and isinstance(value, dict) and "value" in value:
                out[f"{path}.{key}"] = value
            else:
                out.update(ref_paths(value, f"{path}.{key}"))
    return out
