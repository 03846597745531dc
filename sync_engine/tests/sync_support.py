"""Shared set-up for sync tests: seeded sandboxes, a store, and a view of both
sides as a finance user would compare them (names and amounts, not ids)."""
import contextlib
import datetime

from sync_engine.config import OrgFacts
from sync_engine.pacing import FakeClock
from sync_engine.sandbox import Sandboxes
from sync_engine.sandbox.seed import seed_demo
from sync_engine.service import SyncService
from sync_engine.store import SQLiteStore

TWO_WAY = OrgFacts(datetime.date(2020, 3, 2), datetime.date(2020, 3, 2), False)
ONE_WAY = OrgFacts(datetime.date(2017, 9, 14), datetime.date(2020, 3, 2), False)
NO_CREDITS = OrgFacts(datetime.date(2020, 3, 2), datetime.date(2019, 1, 14), False)


@contextlib.contextmanager
def demo_company(facts=TWO_WAY, clock=None, seed=seed_demo, **settings):
    clock = clock or FakeClock(start=datetime.datetime(2026, 11, 20, 9, 0).timestamp())
    with Sandboxes(clock=clock) as sb:
        if seed:
            seed(sb)
        config = sb.connection_config(facts=facts, settings=sb.default_settings(**settings))
        store = SQLiteStore(":memory:")
        yield Company(sb, config, store, clock)


class Company:
    def __init__(self, sb, config, store, clock):
        self.sb, self.config, self.store, self.clock = sb, config, store, clock

    def service(self, **kw):
        return SyncService(self.config, self.store, clock=self.clock, **kw)

    def run(self, **kw):
        result = self.service().run("manual", user="test", **kw)
        self.clock.advance(3600)  # the next run happens later, as on a real day
        return result

    def writes(self):
        return len(self.sb.qbo.writes()) + len(self.sb.billcom.writes())

    def lines(self, result, **match):
        return [l for l in result.lines if all(getattr(l, k) == v for k, v in match.items())]


def business_view(sb):
    """Both sides as sorted tuples of names, numbers and amounts: equal views
    mean the same books, whatever ids the servers handed out."""
    q, b = sb.qbo, sb.billcom
    qname = {}
    for entity in ("Vendor", "Customer", "Account", "Item", "Class", "Department", "Term"):
        for obj in q.all(entity):
            qname[(entity, obj["Id"])] = obj.get("DisplayName") or obj.get("Name")
    qdoc = {}
    for entity in ("Bill", "Invoice"):
        for obj in q.all(entity):
            qdoc[(entity, obj["Id"])] = obj.get("DocNumber")
    view = {}
    for entity in ("Vendor", "Customer", "Class", "Department", "Term", "Item"):
        view[f"qbo {entity}"] = sorted(qname[(entity, o["Id"])] for o in q.all(entity))
    for entity, party in (("Bill", "Vendor"), ("Invoice", "Customer"), ("VendorCredit", "Vendor"),
                          ("CreditMemo", "Customer")):
        key = "VendorRef" if party == "Vendor" else "CustomerRef"
        view[f"qbo {entity}"] = sorted((qname.get((party, o[key]["value"])), o.get("DocNumber"),
                                        str(o.get("TotalAmt")), str(o.get("Balance")))
                                       for o in q.all(entity))
    for entity, doc in (("BillPayment", "Bill"), ("Payment", "Invoice")):
        key = "VendorRef" if doc == "Bill" else "CustomerRef"
        party = "Vendor" if doc == "Bill" else "Customer"
        view[f"qbo {entity}"] = sorted(
            (qname.get((party, o[key]["value"])), str(o.get("TotalAmt")),
             tuple(sorted((qdoc.get((doc, t["TxnId"])), str(line.get("Amount")))
                          for line in o.get("Line", []) for t in line.get("LinkedTxn", []))))
            for o in q.all(entity))
    bname = {}
    for coll in ("vendors", "customers"):
        for obj in b.all(coll):
            bname[obj["id"]] = obj["name"]
    bdoc = {o["id"]: o.get("invoice", {}).get("invoiceNumber") for o in b.all("bills")}
    bdoc.update({o["id"]: o.get("invoiceNumber") for o in b.all("invoices")})
    for coll in ("vendors", "customers", "classifications/accounting-classes", "classifications/locations",
                 "classifications/items", "payment-terms", "classifications/chart-of-accounts"):
        view[f"billcom {coll}"] = sorted(o["name"] for o in b.all(coll))
    view["billcom bills"] = sorted((bname.get(o["vendorId"]), o["invoice"]["invoiceNumber"], str(o["amount"]),
                                    str(o.get("dueAmount"))) for o in b.all("bills"))
    view["billcom invoices"] = sorted((bname.get(o["customerId"]), o.get("invoiceNumber"), str(o["totalAmount"]),
                                       str(o.get("dueAmount"))) for o in b.all("invoices"))
    view["billcom vendor-credits"] = sorted((bname.get(o["vendorId"]), o.get("referenceNumber"))
                                            for o in b.all("vendor-credits"))
    view["billcom credit-memos"] = sorted((bname.get(o["customerId"]), o.get("referenceNumber"))
                                          for o in b.all("credit-memos"))
    view["billcom payments"] = sorted((bname.get(o.get("vendorId")), str(o.get("amount")),
                                       tuple(sorted((bdoc.get(p["billId"]), str(p["amount"]))
                                                    for p in o.get("billPayments", []))))
                                      for o in b.all("payments"))
    view["billcom receivable-payments"] = sorted(
        (bname.get(o.get("customerId")), str(o.get("amount")),
         tuple(sorted((bdoc.get(p["invoiceId"]), str(p["amount"])) for p in o.get("invoicePayments", []))))
        for o in b.all("receivable-payments"))
    return view
