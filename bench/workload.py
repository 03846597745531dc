"""The generated company: its size, and how it is seeded straight into the
sandboxes through their Python API (no HTTP), deterministically from a seed.

Sizes are given for the whole company; ``Workload.scaled(f)`` keeps the
proportions. The mid-size company is the one the targets are set for; the
large one (10 x mid-size) is computed from the floor model rather than run here.
"""
import datetime
import random
from dataclasses import asdict, dataclass, fields

from sync_engine.mapping import ENTITIES


@dataclass(frozen=True)
class Workload:
    name: str
    vendors: int
    customers: int
    accounts: int        # chart of accounts, including the ones a new QBO company has
    classes: int
    departments: int
    items: int
    terms: int
    unpaid_bills: int
    unpaid_invoices: int
    paid_documents: int  # bills and invoices paid (fully or in part) in QBO: the rules skip them
    attachments: int     # files attached to unpaid documents (they are never sent)

    def scaled(self, factor, name):
        values = asdict(self)
        values["name"] = name
        for f in fields(self):
            if f.name in ("name", "terms"):
                continue
            values[f.name] = max(1, int(round(getattr(self, f.name) * factor)))
        values["accounts"] = max(values["accounts"], 30)
        return Workload(**values)

    def describe(self):
        parts = [(self.vendors, "vendor"), (self.customers, "customer"), (self.accounts, "account"),
                 (self.classes, "class"), (self.departments, "department"), (self.items, "item"),
                 (self.terms, "term"), (self.unpaid_bills, "unpaid bill"), (self.unpaid_invoices, "unpaid invoice"),
                 (self.paid_documents, "paid document")]
        return ", ".join(f"{n:,} {word if n == 1 else word + ('es' if word.endswith('s') else 's')}"
                         for n, word in parts)

    @property
    def documents(self):
        return self.unpaid_bills + self.unpaid_invoices + self.paid_documents


    def expected_census(self):
        """What ``seed_company`` leaves in QBO and what a first sync creates in
        Bill.com, computed from the sizes alone (no seeding): for a company too
        large to seed here, the floor is computed from this."""
        paid_bills = self.paid_documents // 2
        paid_invoices = self.paid_documents - paid_bills
        qbo = {"Account": self.accounts, "Class": self.classes, "Department": self.departments, "Item": self.items,
               "Term": self.terms, "Vendor": self.vendors, "Customer": self.customers,
               "Bill": self.unpaid_bills + paid_bills, "Invoice": self.unpaid_invoices + paid_invoices,
               "VendorCredit": 0, "CreditMemo": 0, "BillPayment": paid_bills, "Payment": paid_invoices,
               "Attachable": min(self.attachments, self.unpaid_bills)}
        creates = {"account": self.accounts, "class": self.classes, "location": self.departments,
                   "item": self.items, "term": self.terms, "vendor": self.vendors, "customer": self.customers,
                   "bill": self.unpaid_bills, "invoice": self.unpaid_invoices, "vendor_credit": 0,
                   "credit_memo": 0, "bill_payment": 0, "received_payment": 0}
        return {"qbo": qbo, "creates": creates}


MID = Workload("mid-size", vendors=2000, customers=2000, accounts=300, classes=50, departments=20, items=500,
               terms=10, unpaid_bills=10_000, unpaid_invoices=10_000, paid_documents=5_000, attachments=100)
WORKLOADS = {
    "large": MID.scaled(10, "large"),
    "mid": MID,
    "half": MID.scaled(0.5, "half mid-size"),
    "small": MID.scaled(0.025, "small"),
    "half-small": MID.scaled(0.0125, "half small"),
}

_ADJECTIVES = ("Northern", "Pacific", "Golden", "Summit", "Harbor", "Cedar", "Granite", "Silver", "Maple",
               "Redwood", "Coastal", "Prairie", "Blue Ridge", "Evergreen", "Lakeside", "Iron", "Sunrise",
               "Valley", "Union", "Liberty")
_NOUNS = ("Lumber", "Hardware", "Logistics", "Design", "Electric", "Plumbing", "Paper", "Foods", "Print",
          "Software", "Freight", "Roofing", "Dental", "Legal", "Marketing", "Tooling", "Textiles", "Glass",
          "Security", "Cleaning")
_SUFFIXES = ("Co", "Inc", "LLC", "Group", "Partners", "Supply", "Services", "Works")
_CITIES = (("San Francisco", "CA", "94105"), ("Portland", "OR", "97201"), ("Austin", "TX", "73301"),
           ("Denver", "CO", "80202"), ("Chicago", "IL", "60601"), ("Boston", "MA", "02108"))
_EXPENSE_WORDS = ("Materials", "Consulting", "Freight", "Maintenance", "Subscriptions", "Utilities",
                  "Equipment rental", "Repairs", "Printing", "Cleaning")
_ACCOUNT_TYPES = (("Expense", 70), ("Cost of Goods Sold", 8), ("Other Expense", 5), ("Income", 6),
                  ("Other Current Asset", 4), ("Fixed Asset", 3), ("Other Current Liability", 4))


def _company_name(rng, i, kind):
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_SUFFIXES)} {kind}{i:05d}"


def _address(rng, i):
    city, state, zip_code = _CITIES[i % len(_CITIES)]
    return {"Line1": f"{100 + rng.randrange(9900)} {rng.choice(_ADJECTIVES)} St", "City": city,
            "CountrySubDivisionCode": state, "PostalCode": zip_code, "Country": "US"}


def _ref(obj, name_field="DisplayName"):
    return {"value": obj["Id"], "name": obj.get(name_field) or obj.get("Name")}


def _money(rng, low, high):
    return round(rng.uniform(low, high), 2)


def seed_company(sb, workload, seed=20261120, today=None):
    """Create the company in QBO (Bill.com starts empty, as before a first sync).
    Returns what the rules will do with it: {object type: records to create in Bill.com}
    plus the QBO object counts per entity."""
    rng = random.Random(seed)
    q = sb.qbo
    today = today or datetime.date(2026, 11, 20)
    w = workload

    accounts = q.all("Account")
    weights = [n for _, n in _ACCOUNT_TYPES]
    for i in range(len(accounts), w.accounts):
        atype = rng.choices([t for t, _ in _ACCOUNT_TYPES], weights)[0]
        accounts.append(q.add("Account", {"Name": f"{rng.choice(_EXPENSE_WORDS)} {i:04d}", "AccountType": atype,
                                          "AcctNum": str(5000 + i)}))
    expense = [a for a in accounts if a["AccountType"] in ("Expense", "Cost of Goods Sold", "Other Expense")]
    income = next(a for a in accounts if a["Name"] == "Services")
    classes = [q.add("Class", {"Name": f"Class {rng.choice(_NOUNS)} {i:03d}"}) for i in range(w.classes)]
    departments = [q.add("Department", {"Name": f"{_CITIES[i % len(_CITIES)][0]} {i:03d}"})
                   for i in range(w.departments)]
    terms = [q.add("Term", {"Name": f"Net {15 * (i + 1)}", "DueDays": 15 * (i + 1)}) for i in range(w.terms)]
    items = [q.add("Item", {"Name": f"{rng.choice(_EXPENSE_WORDS)} service {i:04d}", "Type": "Service",
                            "Description": f"{rng.choice(_NOUNS)} work, per hour",
                            "UnitPrice": rng.choice((25, 35, 50, 75, 95, 120, 150)),
                            "IncomeAccountRef": _ref(income, "Name")}) for i in range(w.items)]

    def party(entity, i, kind):
        name = _company_name(rng, i, kind)
        body = {"DisplayName": name, "CompanyName": name,
                "PrimaryEmailAddr": {"Address": f"ap{i}@{kind.lower()}{i}.example"},
                "PrimaryPhone": {"FreeFormNumber": f"(415) 555-{i % 10000:04d}"},
                "BillAddr": _address(rng, i)}
        if entity == "Vendor":
            body["AcctNum"] = f"V-{i:06d}"
        return q.add(entity, body)

    vendors = [party("Vendor", i, "V") for i in range(w.vendors)]
    customers = [party("Customer", i, "C") for i in range(w.customers)]

    def txn_dates():
        day = today - datetime.timedelta(days=rng.randrange(1, 330))
        return day.isoformat(), (day + datetime.timedelta(days=30)).isoformat()

    def bill(n):
        vendor = vendors[rng.randrange(len(vendors))]
        txn, due = txn_dates()
        lines = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            detail = {"AccountRef": _ref(rng.choice(expense), "Name")}
            if classes and rng.random() < 0.3:
                detail["ClassRef"] = _ref(rng.choice(classes), "Name")
            lines.append({"Amount": _money(rng, 20, 4000), "Description": rng.choice(_EXPENSE_WORDS),
                          "DetailType": "AccountBasedExpenseLineDetail", "AccountBasedExpenseLineDetail": detail})
        body = {"VendorRef": _ref(vendor), "DocNumber": f"B-{n:06d}", "TxnDate": txn, "DueDate": due,
                "SalesTermRef": {"value": rng.choice(terms)["Id"]}, "Line": lines}
        if departments and rng.random() < 0.2:
            body["DepartmentRef"] = {"value": rng.choice(departments)["Id"]}
        return q.add("Bill", body)

    def invoice(n):
        customer = customers[rng.randrange(len(customers))]
        txn, due = txn_dates()
        lines = []
        for _ in range(rng.choice((1, 2, 2, 3))):
            item = rng.choice(items)
            qty = rng.randrange(1, 20)
            detail = {"ItemRef": _ref(item, "Name"), "Qty": qty, "UnitPrice": item["UnitPrice"]}
            if classes and rng.random() < 0.2:
                detail["ClassRef"] = _ref(rng.choice(classes), "Name")
            lines.append({"Amount": round(qty * item["UnitPrice"], 2), "Description": item["Description"],
                          "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail})
        body = {"CustomerRef": _ref(customer), "DocNumber": f"I-{n:06d}", "TxnDate": txn, "DueDate": due,
                "Line": lines}
        return q.add("Invoice", body)

    # documents in a mixed order, as they were entered over the year
    kinds = (["bill"] * (w.unpaid_bills + w.paid_documents // 2)
             + ["invoice"] * (w.unpaid_invoices + w.paid_documents - w.paid_documents // 2))
    rng.shuffle(kinds)
    bills, invoices = [], []
    for n, kind in enumerate(kinds):
        (bills.append(bill(n)) if kind == "bill" else invoices.append(invoice(n)))
    checking = next(a for a in accounts if a["Name"] == "Checking")
    paid_bills = rng.sample(range(len(bills)), w.paid_documents // 2)
    paid_invoices = rng.sample(range(len(invoices)), w.paid_documents - w.paid_documents // 2)
    for index in paid_bills:
        doc = bills[index]
        amount = doc["TotalAmt"] if rng.random() < 0.8 else round(doc["TotalAmt"] / 2, 2)
        q.add("BillPayment", {"VendorRef": doc["VendorRef"], "PayType": "Check", "TotalAmt": amount,
                              "CheckPayment": {"BankAccountRef": _ref(checking, "Name")}, "TxnDate": doc["DueDate"],
                              "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": doc["Id"], "TxnType": "Bill"}]}]})
    for index in paid_invoices:
        doc = invoices[index]
        amount = doc["TotalAmt"] if rng.random() < 0.8 else round(doc["TotalAmt"] / 2, 2)
        q.add("Payment", {"CustomerRef": doc["CustomerRef"], "TotalAmt": amount, "TxnDate": doc["DueDate"],
                          "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": doc["Id"], "TxnType": "Invoice"}]}]})
    paid_bill_ids = {bills[i]["Id"] for i in paid_bills}
    unpaid = [d for d in bills if d["Id"] not in paid_bill_ids]
    for doc in rng.sample(unpaid, min(w.attachments, len(unpaid))):
        q.add("Attachable", {"FileName": f"{doc['DocNumber']}.pdf", "ContentType": "application/pdf",
                             "AttachableRef": [{"EntityRef": {"type": "Bill", "value": doc["Id"]}}]})
    return census(sb)


def census(sb):
    """What is in QBO per entity, and what the documented rules send to Bill.com on a
    first sync: active list entries, vendors, customers, and USD bills and invoices
    that are not paid in any part."""
    q = sb.qbo
    qbo_counts, creates = {}, {}
    for otype, (entity, _) in ENTITIES.items():
        objects = q.all(entity)
        qbo_counts[entity] = len(objects)
        if otype in ("bill", "invoice"):
            creates[otype] = sum(1 for o in objects
                                 if float(o.get("Balance", 0)) == float(o.get("TotalAmt", 0)) != 0)
        elif otype in ("bill_payment", "received_payment", "vendor_credit", "credit_memo"):
            creates[otype] = 0 if otype in ("bill_payment", "received_payment") else len(objects)
        else:
            creates[otype] = sum(1 for o in objects if o.get("Active", True) is not False)
    qbo_counts["Attachable"] = len(q.all("Attachable"))
    return {"qbo": qbo_counts, "creates": creates}

