"""Seed data for the sandboxes: a realistic small company (``demo``) or a JSON file.

The demo company has something for every rule to decide: unpaid, partially
and fully paid bills and invoices in QBO, a non-USD vendor bill, a document
with an attachment, a credit memo and a vendor credit, classes and locations,
a vendor that already exists on both sides, a bill and an invoice entered in
Bill.com (one not yet approved) and payments made and received in Bill.com.
"""
import json


def _ref(obj, name_field="DisplayName"):
    return {"value": obj["Id"], "name": obj.get(name_field) or obj.get("Name")}


def seed_demo(sb):
    q, b = sb.qbo, sb.billcom
    acct = {a["Name"]: a for a in q.all("Account")}
    expense = acct.get("Office Supplies & Software") or next(a for a in acct.values() if a.get("AccountType") == "Expense")
    utilities = acct.get("Utilities", expense)
    income = acct.get("Services") or next(a for a in acct.values() if a.get("AccountType") == "Income")

    # lists
    classes = [q.add("Class", {"Name": n}) for n in ("Landscaping", "Maintenance")]
    locations = [q.add("Department", {"Name": n}) for n in ("Palo Alto", "San Jose")]
    net30 = q.add("Term", {"Name": "Net 30", "Type": "STANDARD", "DueDays": 30})
    q.add("Term", {"Name": "Net 15", "Type": "STANDARD", "DueDays": 15})
    items = [q.add("Item", {"Name": n, "Type": "Service", "UnitPrice": p, "IncomeAccountRef": _ref(income, "Name")})
             for n, p in (("Design", 75), ("Installation", 50), ("Pest Control", 35))]

    # vendors and customers; "Norton Lumber" is already in Bill.com too
    def vendor(name, email, currency=None):
        body = {"DisplayName": name, "CompanyName": name, "PrimaryEmailAddr": {"Address": email},
                "BillAddr": {"Line1": "1 Market St", "City": "San Francisco", "CountrySubDivisionCode": "CA",
                             "PostalCode": "94105", "Country": "US"}}
        if currency:
            body["CurrencyRef"] = {"value": currency}
        return q.add("Vendor", body)

    norton = vendor("Norton Lumber", "ap@norton.example")
    hicks = vendor("Hicks Hardware", "billing@hicks.example")
    pg = vendor("Pacific Gas", "pay@pacificgas.example")
    maple = vendor("Maple Supplies Ltd", "ar@maple.example", currency="CAD")
    b.add("vendors", {"name": "Norton Lumber", "email": "ap@norton.example", "accountType": "BUSINESS"})

    def customer(name, email, parent=None):
        body = {"DisplayName": name, "CompanyName": name, "PrimaryEmailAddr": {"Address": email}}
        if parent:
            body.update({"Job": True, "ParentRef": {"value": parent["Id"]}, "BillWithParent": False})
        return q.add("Customer", body)

    cool = customer("Cool Cars", "ap@coolcars.example")
    amy = customer("Amy's Bird Sanctuary", "amy@birds.example")
    freeman = customer("Freeman Sporting Goods", "billing@freeman.example")
    customer("0969 Ocean View Road", "site@freeman.example", parent=freeman)
    q.add("Employee", {"DisplayName": "Emily Platt", "GivenName": "Emily", "FamilyName": "Platt"})

    def bill(vendor_obj, number, lines, **extra):
        body = {"VendorRef": _ref(vendor_obj), "DocNumber": number, "TxnDate": "2026-11-02",
                "DueDate": "2026-12-02", "SalesTermRef": {"value": net30["Id"]},
                "Line": [{"Amount": amount, "Description": desc, "DetailType": "AccountBasedExpenseLineDetail",
                          "AccountBasedExpenseLineDetail": {"AccountRef": _ref(account, "Name"),
                                                            **({"ClassRef": _ref(cls, "Name")} if cls else {})}}
                         for amount, desc, account, cls in lines]}
        body.update(extra)
        return q.add("Bill", body)

    bill(norton, "NL-1001", [(1250.00, "Framing lumber", expense, classes[0])])
    b2 = bill(hicks, "HH-2207", [(89.99, "Hinges", expense, None), (10.01, "Screws", expense, classes[1])],
              DepartmentRef={"value": locations[0]["Id"]})
    bill(pg, "PG-NOV", [(412.37, "November electricity", utilities, None)])
    partial = bill(hicks, "HH-2150", [(300.00, "Tools", expense, None)])
    paid = bill(pg, "PG-OCT", [(398.12, "October electricity", utilities, None)])
    bill(maple, "MS-88", [(500.00, "Imported tiles", expense, None)], CurrencyRef={"value": "CAD"})
    checking = acct["Checking"]
    for doc, amount in ((partial, 120.00), (paid, 398.12)):
        q.add("BillPayment", {"VendorRef": doc["VendorRef"], "PayType": "Check", "TotalAmt": amount,
                              "CheckPayment": {"BankAccountRef": _ref(checking, "Name")}, "TxnDate": "2026-11-10",
                              "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": doc["Id"], "TxnType": "Bill"}]}]})
    q.add("Attachable", {"FileName": "HH-2207.pdf", "ContentType": "application/pdf",
                         "AttachableRef": [{"EntityRef": {"type": "Bill", "value": b2["Id"]}}]})

    def invoice(cust, number, lines):
        return q.add("Invoice", {"CustomerRef": _ref(cust), "DocNumber": number, "TxnDate": "2026-11-03",
                                 "DueDate": "2026-12-03",
                                 "Line": [{"Amount": qty * price, "Description": desc, "DetailType": "SalesItemLineDetail",
                                           "SalesItemLineDetail": {"ItemRef": _ref(item, "Name"), "Qty": qty,
                                                                   "UnitPrice": price}}
                                          for item, qty, price, desc in lines]})

    invoice(cool, "1001", [(items[0], 10, 75, "Garden design"), (items[1], 8, 50, "Installation")])
    invoice(amy, "1002", [(items[2], 3, 35, "Quarterly pest control")])
    inv_partial = invoice(freeman, "1003", [(items[1], 20, 50, "Installation")])
    inv_paid = invoice(amy, "1004", [(items[2], 1, 35, "Pest control")])
    for doc, amount in ((inv_partial, 400.00), (inv_paid, 35.00)):
        q.add("Payment", {"CustomerRef": doc["CustomerRef"], "TotalAmt": amount, "TxnDate": "2026-11-12",
                          "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": doc["Id"], "TxnType": "Invoice"}]}]})
    q.add("CreditMemo", {"CustomerRef": _ref(cool), "DocNumber": "CM-1", "TxnDate": "2026-11-05",
                         "Line": [{"Amount": 75.00, "Description": "Goodwill credit", "DetailType": "SalesItemLineDetail",
                                   "SalesItemLineDetail": {"ItemRef": _ref(items[0], "Name"), "Qty": 1, "UnitPrice": 75}}]})
    q.add("VendorCredit", {"VendorRef": _ref(norton), "DocNumber": "NL-CR-7", "TxnDate": "2026-11-06",
                           "Line": [{"Amount": 60.00, "Description": "Returned boards",
                                     "DetailType": "AccountBasedExpenseLineDetail",
                                     "AccountBasedExpenseLineDetail": {"AccountRef": _ref(expense, "Name")}}]})

    # entered in Bill.com: a vendor, a bill (approved, then paid in part), one not yet approved,
    # a customer and an invoice with a class (QBO tracks no classes per line) paid in Bill.com
    acme = b.add("vendors", {"name": "Acme Paper Co", "email": "ap@acmepaper.example", "accountType": "BUSINESS"})
    paper = b.add("bills", {"vendorId": acme["id"], "invoice": {"invoiceNumber": "AP-778", "invoiceDate": "2026-11-04"},
                            "dueDate": "2026-12-04", "approvalStatus": "APPROVED",
                            "billLineItems": [{"amount": 240.00, "description": "Copy paper"}]})
    b.add("bills", {"vendorId": acme["id"], "invoice": {"invoiceNumber": "AP-779", "invoiceDate": "2026-11-05"},
                    "dueDate": "2026-12-05", "approvalStatus": "APPROVING",
                    "billLineItems": [{"amount": 95.50, "description": "Toner"}]})
    b.pay_bill(paper["id"], 100.00, process_date="2026-11-15")
    rivera = b.add("customers", {"name": "Rivera Dental", "email": "office@riveradental.example"})
    cls = b.add("classifications/accounting-classes", {"name": "Consulting"})
    dental = b.add("invoices", {"customer": {"id": rivera["id"]}, "invoiceNumber": "BC-5001",
                                "invoiceDate": "2026-11-06", "dueDate": "2026-12-06",
                                "invoiceLineItems": [{"description": "Office plan review", "quantity": 2, "price": 150.00,
                                                      "classifications": {"accountingClassId": cls["id"]}}]})
    b.receive_payment(rivera["id"], invoices=[(dental["id"], 300.00)], payment_type="CHECK",
                      payment_date="2026-11-16")
    return {"qbo_bills": len(q.all("Bill")), "billcom_bills": len(b.all("bills"))}


def demo_next_day(sb):
    """A day after the first sync: what happens in a real company. In Bill.com a
    bill is paid with cash and a vendor credit, a customer pays an invoice with
    some cash left unapplied, and the payment made on AP-778 is voided; in
    QuickBooks a bill is paid by check and an unpaid bill entered by mistake is
    deleted. Returns what was done, in words."""
    q, b = sb.qbo, sb.billcom

    def bc_bill(number):
        return next(o for o in b.all("bills") if o["invoice"]["invoiceNumber"] == number)

    def qbo_doc(entity, number):
        return next(o for o in q.all(entity) if o.get("DocNumber") == number)

    credit = next(o for o in b.all("vendor-credits") if o.get("referenceNumber") == "NL-CR-7")
    b.pay_bill(bc_bill("NL-1001")["id"], 450.00, process_date="2026-11-21", vendor_credits=[(credit["id"], 60.00)])
    invoice = next(o for o in b.all("invoices") if o.get("invoiceNumber") == "1002")
    b.receive_payment(invoice["customerId"], invoices=[(invoice["id"], 105.00)], amount=150.00,
                      payment_type="CHECK", payment_date="2026-11-21")
    paper = bc_bill("AP-778")
    payment = next(p for p in b.all("payments") if any(x["billId"] == paper["id"] for x in p.get("billPayments", [])))
    b.void_payment(payment["id"])
    pg = qbo_doc("Bill", "PG-NOV")
    checking = next(a for a in q.all("Account") if a.get("Name") == "Checking")
    q.add("BillPayment", {"VendorRef": pg["VendorRef"], "PayType": "Check", "TotalAmt": 412.37, "TxnDate": "2026-11-21",
                          "CheckPayment": {"BankAccountRef": {"value": checking["Id"]}},
                          "Line": [{"Amount": 412.37, "LinkedTxn": [{"TxnId": pg["Id"], "TxnType": "Bill"}]}]})
    q.user_delete("Bill", qbo_doc("Bill", "HH-2207")["Id"])
    return ["Bill.com: NL-1001 paid 450.00 in cash and 60.00 with vendor credit NL-CR-7",
            "Bill.com: invoice 1002 paid 105.00 by a 150.00 check (45.00 left unapplied)",
            "Bill.com: the 100.00 payment on AP-778 voided",
            "QuickBooks: PG-NOV paid by check (412.37)",
            "QuickBooks: bill HH-2207 deleted"]


def seed_file(sb, path):
    """Load ``{"qbo": {Entity: [obj, ...]}, "billcom": {collection: [obj, ...]}}`` in order."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    for entity, objects in (data.get("qbo") or {}).items():
        for obj in objects:
            sb.qbo.add(entity, obj)
    for collection, objects in (data.get("billcom") or {}).items():
        for obj in objects:
            sb.billcom.add(collection, obj)
