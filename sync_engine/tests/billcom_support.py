"""Shared pieces of the Bill.com tests: a live sandbox, clients, seed helpers,
the reference payloads and a structural comparison."""
import json
import pathlib
import re
from decimal import Decimal

import pytest
import requests

from sync_engine.billcom.client import BillComClient
from sync_engine.pacing import FakeClock
from sync_engine.sandbox.billcom import BillComSandbox

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "billcom"
ID_RE = re.compile(r"^[0-9a-z]{3}0[12][A-Za-z0-9]{15}$")


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sandbox(clock):
    sb = BillComSandbox(clock=clock, seed=7)
    sb.timeout_fault_seconds = 0.5
    sb.start()
    yield sb
    sb.stop()


def make_client(sandbox, clock=None, **options):
    options.setdefault("timeout", 5)
    return BillComClient(**sandbox.credentials(), clock=clock or sandbox.clock, **options)


@pytest.fixture
def client(sandbox):
    c = make_client(sandbox)
    yield c
    c.http.close()


class Raw:
    """Plain HTTP against the sandbox, to check wire formats byte for byte."""

    def __init__(self, sandbox):
        self.sb = sandbox
        self.http = requests.Session()
        self.session_id = None

    def login(self, **overrides):
        body = {"username": self.sb.username, "password": self.sb.password,
                "organizationId": self.sb.organization_id, "devKey": self.sb.dev_key, **overrides}
        response = self.http.post(self.sb.base_url + "/v3/login", json=body, timeout=5)
        if response.status_code == 200:
            self.session_id = response.json()["sessionId"]
        return response

    def headers(self):
        return {"devKey": self.sb.dev_key, "sessionId": self.session_id or ""}

    def call(self, method, path, **kwargs):
        if self.session_id is None:
            assert self.login().status_code == 200
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        return self.http.request(method, self.sb.base_url + path, headers=headers, timeout=5, **kwargs)

    def get(self, path, **params):
        return self.call("GET", path, params=params)

    def post(self, path, body):
        return self.call("POST", path, json=body)


@pytest.fixture
def raw(sandbox):
    r = Raw(sandbox)
    yield r
    r.http.close()


# ----------------------------------------------------------------- seeding
def seed_vendor(sb, name="Northwind Paper Co", **extra):
    return sb.add("vendors", {"name": name, "email": "ap@northwind.example", **extra})


def seed_customer(sb, name="Paperless Band", **extra):
    return sb.add("customers", {"name": name, "email": "billing@paperless.example", **extra})


def bill_body(vendor_id, number="NW-1", amounts=(100,), due="2025-03-31", **extra):
    return {"vendorId": vendor_id, "dueDate": due,
            "invoice": {"invoiceNumber": number, "invoiceDate": "2025-03-01"},
            "billLineItems": [{"amount": a, "description": f"line {i}"} for i, a in enumerate(amounts)],
            **extra}


def invoice_body(customer_id, number="INV-1", lines=((1, 100),), **extra):
    return {"customer": {"id": customer_id}, "invoiceNumber": number, "invoiceDate": "2025-04-01",
            "dueDate": "2025-05-01",
            "invoiceLineItems": [{"quantity": q, "price": p, "description": f"line {i}"}
                                 for i, (q, p) in enumerate(lines)], **extra}


def seed_bill(sb, vendor_id, number="NW-1", amounts=(100,), **extra):
    return sb.add("bills", bill_body(vendor_id, number, amounts, **extra))


def seed_invoice(sb, customer_id, number="INV-1", lines=((1, 100),), **extra):
    return sb.add("invoices", invoice_body(customer_id, number, lines, **extra))


def logins(sandbox):
    return [r for r in sandbox.request_log() if r.path == "/v3/login"]


# --------------------------------------------------------------- structure
def _kind(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def shape_differences(expected, actual, path="$"):
    """Where ``actual`` lacks a key of ``expected`` or holds another JSON type.

    Extra keys in ``actual`` are allowed; ``null`` in ``expected`` matches
    anything; an id (20 characters, prefix + 01/02 + 15) must be an id with the same prefix.
    """
    problems = []
    kind_e, kind_a = _kind(expected), _kind(actual)
    if kind_e == "null":
        return problems
    if kind_e != kind_a:
        return [f"{path}: expected {kind_e}, got {kind_a}"]
    if kind_e == "object":
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing")
            else:
                problems.extend(shape_differences(value, actual[key], f"{path}.{key}"))
    elif kind_e == "array" and expected:
        if not actual:
            return [f"{path}: expected a non-empty array"]
        for i, item in enumerate(expected):
            problems.extend(shape_differences(item, actual[min(i, len(actual) - 1)], f"{path}[{i}]"))
    elif kind_e == "string" and ID_RE.match(expected):
        if not (ID_RE.match(actual) and actual[:3] == expected[:3]):
            problems.append(f"{path}: id {actual!r} does not look like {expected!r}")
    return problems
