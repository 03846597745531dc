"""The QBO sandbox speaks the documented wire format: OAuth, entities, server-side
amounts, the query language, CDC, batch, requestid, limits and faults."""
import base64
import urllib.parse

import pytest
import requests

from sync_engine.pacing import FakeClock
from sync_engine.sandbox.qbo import DUPLICATE_PERSON_DETAIL, QBOFault, QBOSandbox

from sync_engine.tests.qbo_support import (ISO_OFFSET_RE, Raw, account, bill, bill_payment, customer, expense_line, fixture, invoice,
                          item, payment, raw, ref, sales_line, sandbox, clock, vendor)  # noqa: F401

DAY = 86400


def _fault(response):
    body = response.json()
    assert response.status_code == 400, body
    return body["Fault"]["Error"][0]


# ------------------------------------------------------------------ a new company
def test_a_new_company_has_the_default_chart_of_accounts_preferences_and_company_info(sandbox):
    accounts = {a["Name"]: a for a in sandbox.all("Account")}
    expected = {
        "Checking": ("Bank", "Checking", "Asset"), "Savings": ("Bank", "Savings", "Asset"),
        "Accounts Receivable (A/R)": ("Accounts Receivable", "AccountsReceivable", "Asset"),
        "Undeposited Funds": ("Other Current Asset", "UndepositedFunds", "Asset"),
        "Inventory Asset": ("Other Current Asset", "Inventory", "Asset"),
        "Accounts Payable (A/P)": ("Accounts Payable", "AccountsPayable", "Liability"),
        "Opening Balance Equity": ("Equity", "OpeningBalanceEquity", "Equity"),
        "Retained Earnings": ("Equity", "RetainedEarnings", "Equity"),
        "Sales of Product Income": ("Income", "SalesOfProductIncome", "Revenue"),
        "Services": ("Income", "ServiceFeeIncome", "Revenue"),
        "Cost of Goods Sold": ("Cost of Goods Sold", "SuppliesMaterialsCogs", "Expense"),
        "Advertising": ("Expense", "AdvertisingPromotional", "Expense"),
        "Bank Charges": ("Expense", "BankCharges", "Expense"),
        "Office Supplies & Software": ("Expense", "OfficeGeneralAdministrativeExpenses", "Expense"),
        "Utilities": ("Expense", "Utilities", "Expense"),
        "Uncategorized Expense": ("Expense", "OtherMiscellaneousServiceCost", "Expense"),
        "Uncategorized Income": ("Income", "OtherPrimaryIncome", "Revenue"),
    }
    for name, (atype, sub, classification) in expected.items():
        a = accounts[name]
        assert (a["AccountType"], a["AccountSubType"], a["Classification"]) == (atype, sub, classification)
        assert a["Active"] is True and a["FullyQualifiedName"] == name
    prefs = sandbox.preferences()
    assert prefs["AccountingInfoPrefs"]["ClassTrackingPerTxn"] is False
    assert prefs["AccountingInfoPrefs"]["ClassTrackingPerTxnLine"] is False
    assert prefs["CurrencyPrefs"] == {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}}
    info = sandbox.get("CompanyInfo", "1")
    assert info["CompanyStartDate"] == "2023-11-14" and info["Country"] == "US"
    assert len(sandbox.realm_id) == 16 and sandbox.realm_id.isdigit()


# ------------------------------------------------------------------------ OAuth
def test_authorize_redirects_back_with_code_state_and_realm_then_the_code_works_once(sandbox):
    http = requests.Session()
    response = http.get(sandbox.authorize_url, params={
        "client_id": sandbox.client_id, "response_type": "code", "scope": "com.intuit.quickbooks.accounting",
        "redirect_uri": "https://odoo.example/qbo/callback", "state": "xyz"}, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    location = urllib.parse.urlsplit(response.headers["Location"])
    params = dict(urllib.parse.parse_qsl(location.query))
    assert location.netloc == "odoo.example" and params["state"] == "xyz" and params["realmId"] == sandbox.realm_id
    form = {"grant_type": "authorization_code", "code": params["code"],
            "redirect_uri": "https://odoo.example/qbo/callback"}
    first = http.post(sandbox.token_url, data=form, auth=(sandbox.client_id, sandbox.client_secret), timeout=5)
    assert first.status_code == 200 and first.json()["token_type"] == "bearer"
    again = http.post(sandbox.token_url, data=form, auth=(sandbox.client_id, sandbox.client_secret), timeout=5)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_authorize_reports_a_declined_consent_and_a_missing_scope(sandbox):
    params = {"client_id": sandbox.client_id, "response_type": "code", "redirect_uri": "https://x.example/cb",
              "state": "s", "scope": "openid"}
    response = requests.get(sandbox.authorize_url, params=params, allow_redirects=False, timeout=5)
    assert "error=invalid_scope" in response.headers["Location"]
    sandbox.authorize_outcome = "deny"
    params["scope"] = "com.intuit.quickbooks.accounting"
    response = requests.get(sandbox.authorize_url, params=params, allow_redirects=False, timeout=5)
    assert "error=access_denied" in response.headers["Location"] and "code=" not in response.headers["Location"]


def test_refresh_rotates_the_refresh_token_and_the_old_one_stops_working(sandbox, raw):
    response = raw.token({"grant_type": "refresh_token", "refresh_token": sandbox.initial_refresh_token},
                         **{"x-include-refresh-token-hard-expires-in": "true"})
    body = response.json()
    assert set(body) == {"token_type", "access_token", "expires_in", "refresh_token", "x_refresh_token_expires_in",
                         "x_refresh_token_hard_expires_in"}
    assert body["expires_in"] == 3600 and body["x_refresh_token_expires_in"] == 8726400
    assert body["x_refresh_token_hard_expires_in"] == 5 * 365 * DAY
    assert body["refresh_token"] != sandbox.initial_refresh_token
    stale = raw.token({"grant_type": "refresh_token", "refresh_token": sandbox.initial_refresh_token})
    assert stale.status_code == 400 and stale.json() == fixture("token_error.json")


def test_refresh_without_rotation_keeps_the_token_and_extends_it(clock):
    with QBOSandbox(clock=clock, rotate_refresh_token=False) as sb:
        raw_client = requests.Session()
        clock.advance(10 * DAY)
        body = raw_client.post(sb.token_url, data={"grant_type": "refresh_token", "refresh_token": sb.initial_refresh_token},
                               auth=(sb.client_id, sb.client_secret), timeout=5).json()
        assert body["refresh_token"] == sb.initial_refresh_token and body["x_refresh_token_expires_in"] == 8726400


def test_token_endpoint_rejects_a_wrong_secret_and_an_expired_refresh_token(sandbox, raw, clock):
    bad = raw.token({"grant_type": "refresh_token", "refresh_token": sandbox.initial_refresh_token},
                    basic=(sandbox.client_id, "wrong"))
    assert bad.status_code == 401 and bad.json() == {"error": "invalid_client"}
    clock.advance(8726400 + 1)
    expired = raw.token({"grant_type": "refresh_token", "refresh_token": sandbox.initial_refresh_token})
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


def test_revoke_ends_every_token_of_the_grant(sandbox, raw):
    auth = base64.b64encode(f"{sandbox.client_id}:{sandbox.client_secret}".encode()).decode()
    response = requests.post(sandbox.revoke_url, json={"token": raw.refresh},
                             headers={"Authorization": f"Basic {auth}"}, timeout=5)
    assert response.status_code == 200
    assert raw.get("preferences").status_code == 401
    assert raw.token({"grant_type": "refresh_token", "refresh_token": raw.refresh}).status_code == 400


def test_api_needs_a_live_bearer_token_and_says_so_in_the_lower_camel_fault(sandbox, raw, clock):
    missing = requests.get(f"{sandbox.api_base}/preferences", headers={"Accept": "application/json"}, timeout=5)
    assert missing.status_code == 401
    body = missing.json()
    assert set(body) == set(fixture("fault_401.json"))
    assert body["fault"]["error"][0]["code"] == "3200" and body["fault"]["type"] == "AUTHENTICATION"
    assert raw.get("preferences").status_code == 200
    clock.advance(3600)
    expired = raw.get("preferences")
    assert expired.status_code == 401 and expired.json()["fault"]["error"][0]["detail"].startswith("Token expired")
    sandbox.issue_tokens()  # a second grant does not revive the first
    assert raw.get("preferences").status_code == 401


def test_expire_and_revoke_helpers(sandbox, raw):
    sandbox.expire_access_tokens()
    assert raw.get("preferences").status_code == 401
    sandbox.revoke_all_tokens()
    assert raw.token({"grant_type": "refresh_token", "refresh_token": raw.refresh}).status_code == 400
    assert sandbox.refresh_tokens() == []


# ---------------------------------------------------------------------- records
def test_create_assigns_id_synctoken_metadata_in_company_offset_and_time(raw):
    response = raw.post("vendor", {"DisplayName": "Acme Paper Co"})
    assert response.status_code == 200
    body = response.json()
    v = body["Vendor"]
    assert v["Id"].isdigit() and v["SyncToken"] == "0" and v["domain"] == "QBO" and v["sparse"] is False
    assert ISO_OFFSET_RE.match(v["MetaData"]["CreateTime"]) and ISO_OFFSET_RE.match(v["MetaData"]["LastUpdatedTime"])
    assert body["time"].endswith("-08:00") and "." in body["time"]
    assert raw.get(f"vendor/{v['Id']}").json()["Vendor"] == v


def test_display_names_are_unique_across_vendors_customers_and_employees(sandbox, raw):
    vendor(sandbox, "Cool Cars")
    response = raw.post("customer", {"DisplayName": "cool cars"})
    assert response.status_code == 400
    assert response.json()["Fault"] == fixture("fault_duplicate_name.json")["Fault"]
    sandbox.add("Employee", {"GivenName": "Emily", "FamilyName": "Platt"})
    with pytest.raises(QBOFault) as exc:
        sandbox.add("Vendor", {"DisplayName": "Emily Platt"})
    assert exc.value.code == "6240" and exc.value.detail == DUPLICATE_PERSON_DETAIL


def test_missing_required_fields_name_the_field(raw, sandbox):
    assert _fault(raw.post("bill", {"Line": []}))["element"] == "VendorRef"
    v = vendor(sandbox)
    error = _fault(raw.post("bill", {"VendorRef": {"value": v["Id"]}}))
    assert (error["code"], error["element"]) == ("2020", "Line")
    error = _fault(raw.post("billpayment", {"VendorRef": {"value": v["Id"]}, "PayType": "Check", "TotalAmt": 1,
                                            "Line": []}))
    assert error["element"] == "CheckPayment.BankAccountRef"


def test_references_to_unknown_or_inactive_records_are_2500(sandbox, raw):
    v = vendor(sandbox)
    expense = account(sandbox, "Utilities")
    body = {"VendorRef": {"value": "99999"}, "Line": [expense_line(10.0, expense)]}
    error = _fault(raw.post("bill", body))
    assert (error["code"], error["element"]) == ("2500", "VendorRef")
    sandbox.user_delete("Vendor", v["Id"])  # name lists are made inactive, not deleted
    assert sandbox.get("Vendor", v["Id"])["Active"] is False
    body["VendorRef"] = {"value": v["Id"]}
    assert _fault(raw.post("bill", body))["code"] == "2500"
    other = vendor(sandbox, "Other")
    cls_body = {"VendorRef": {"value": other["Id"]},
                "Line": [expense_line(10.0, expense, ClassRef={"value": "424242"})]}
    assert _fault(raw.post("bill", cls_body))["element"] == "ClassRef"


def test_stale_synctoken_is_5010_and_unknown_id_is_610(sandbox, raw):
    v = vendor(sandbox)
    ok = raw.post("vendor", {"Id": v["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "A-1"})
    assert ok.json()["Vendor"]["SyncToken"] == "1"
    stale = _fault(raw.post("vendor", {"Id": v["Id"], "SyncToken": "0", "sparse": True, "AcctNum": "A-2"}))
    assert stale["code"] == "5010" and stale["Message"] == "Stale Object Error"
    assert _fault(raw.get("vendor/424242"))["code"] == "610"
    assert _fault(raw.post("vendor", {"Id": "424242", "SyncToken": "0", "DisplayName": "X"}))["code"] == "610"


def test_sparse_update_keeps_other_fields_and_replaces_the_whole_line_list(sandbox, raw):
    v = vendor(sandbox, CompanyName="Norton Co", AcctNum="N-1")
    b = bill(sandbox, v, 10.0, 20.0, DocNumber="INV-1", PrivateNote="keep me")
    expense = account(sandbox, "Utilities")
    updated = raw.post("bill", {"Id": b["Id"], "SyncToken": b["SyncToken"], "sparse": True,
                                "Line": [expense_line(5.25, expense)]}).json()["Bill"]
    assert updated["PrivateNote"] == "keep me" and updated["DocNumber"] == "INV-1"
    assert [line["Amount"] for line in updated["Line"]] == [5.25]
    assert updated["TotalAmt"] == 5.25 and updated["Balance"] == 5.25
    # a full update drops the writable fields it leaves out
    full = raw.post("vendor", {"Id": v["Id"], "SyncToken": v["SyncToken"], "DisplayName": "Norton Lumber"}).json()
    assert "CompanyName" not in full["Vendor"] and "AcctNum" not in full["Vendor"]
    assert full["Vendor"]["Active"] is True


def test_delete_returns_a_stub_and_name_lists_cannot_be_deleted(sandbox, raw):
    v = vendor(sandbox)
    b = bill(sandbox, v)
    response = raw.post("bill", {"Id": b["Id"], "SyncToken": b["SyncToken"]}, operation="delete")
    assert response.json()["Bill"] == {"status": "Deleted", "domain": "QBO", "Id": b["Id"]}
    assert sandbox.get("Bill", b["Id"]) is None and _fault(raw.get(f"bill/{b['Id']}"))["code"] == "610"
    error = _fault(raw.post("vendor", {"Id": v["Id"], "SyncToken": v["SyncToken"]}, operation="delete"))
    assert error["code"] == "500" and "not supported" in error["Detail"]
    assert raw.query("select * from Vendor").json()["QueryResponse"]["Vendor"][0]["Id"] == v["Id"]
    raw.post("vendor", {"Id": v["Id"], "SyncToken": v["SyncToken"], "sparse": True, "Active": False})
    assert raw.query("select * from Vendor").json()["QueryResponse"] == {}
    everyone = raw.query("select * from Vendor where Active in (true, false)").json()["QueryResponse"]
    assert [o["Id"] for o in everyone["Vendor"]] == [v["Id"]]


def test_sub_customers_get_job_level_and_fully_qualified_name(sandbox):
    parent = customer(sandbox, "Freeman Sporting Goods")
    job = customer(sandbox, "0969 Ocean View Road", ParentRef={"value": parent["Id"]})
    assert (job["Job"], job["Level"], job["FullyQualifiedName"]) == \
        (True, 1, "Freeman Sporting Goods:0969 Ocean View Road")
    assert parent["Job"] is False and "Level" not in parent
    inv = invoice(sandbox, job, 562.5)
    assert sandbox.get("Customer", job["Id"])["Balance"] == 562.5
    parent_now = sandbox.get("Customer", parent["Id"])
    assert parent_now["Balance"] == 0 and parent_now["BalanceWithJobs"] == 562.5
    assert inv["Balance"] == 562.5


# ----------------------------------------------------------- server-side amounts
def test_totals_come_from_lines_in_exact_cents(sandbox):
    v = vendor(sandbox)
    b = bill(sandbox, v, 0.1, 0.2, 1675.52)
    assert b["TotalAmt"] == 1675.82 and b["Balance"] == 1675.82
    c = customer(sandbox)
    it = item(sandbox)
    inv = sandbox.add("Invoice", {"CustomerRef": ref(c), "TxnTaxDetail": {"TotalTax": 175.52},
                                  "Line": [sales_line(1750.0, it, 50), sales_line(444.0, it, 8),
                                           {"Amount": 1.0, "DetailType": "SubTotalLineDetail",
                                            "SubTotalLineDetail": {}}]})
    assert inv["TotalAmt"] == 2369.52 and inv["Balance"] == 2369.52
    assert inv["Line"][-1] == {"Amount": 2194.0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    assert inv["DocNumber"] == "1001" and inv["EmailStatus"] == "NotSet"


def test_bill_payments_reduce_the_bill_balance_and_both_sides_show_the_link(sandbox, raw):
    v = vendor(sandbox)
    b = bill(sandbox, v, 205.0)
    bp = bill_payment(sandbox, v, [(b, 100.0, "Bill")])
    paid = sandbox.get("Bill", b["Id"])
    assert paid["Balance"] == 105.0 and paid["SyncToken"] == "1"
    assert paid["LinkedTxn"] == [{"TxnId": bp["Id"], "TxnType": "BillPaymentCheck"}]
    assert sandbox.get("Vendor", v["Id"])["Balance"] == 105.0
    # the payment grows: the bill follows
    grown = raw.post("billpayment", {"Id": bp["Id"], "SyncToken": bp["SyncToken"], "sparse": True, "TotalAmt": 205.0,
                                     "Line": [{"Amount": 205.0, "LinkedTxn": [{"TxnId": b["Id"], "TxnType": "Bill"}]}]})
    assert grown.status_code == 200 and sandbox.get("Bill", b["Id"])["Balance"] == 0
    # more than the open balance is refused and changes nothing
    other = bill(sandbox, v, 50.0)
    over = {"VendorRef": ref(v), "PayType": "Check", "TotalAmt": 60.0,
                                "CheckPayment": {"BankAccountRef": ref(account(sandbox, "Checking"))},
                                "Line": [{"Amount": 60.0, "LinkedTxn": [{"TxnId": other["Id"], "TxnType": "Bill"}]}]}
    assert _fault(raw.post("billpayment", over))["code"] == "6000"
    assert sandbox.get("Bill", other["Id"])["Balance"] == 50.0 and len(sandbox.all("BillPayment")) == 1
    # a bill with payments cannot be deleted; deleting the payment reopens the bill
    current = sandbox.get("Bill", b["Id"])
    assert _fault(raw.post("bill", {"Id": b["Id"], "SyncToken": current["SyncToken"]}, operation="delete"))["code"] == "6000"
    bp_now = sandbox.get("BillPayment", bp["Id"])
    raw.post("billpayment", {"Id": bp["Id"], "SyncToken": bp_now["SyncToken"]}, operation="delete")
    reopened = sandbox.get("Bill", b["Id"])
    assert reopened["Balance"] == 205.0 and "LinkedTxn" not in reopened
    assert int(reopened["SyncToken"]) == int(current["SyncToken"]) + 1


def test_voiding_a_bill_payment_either_way_reopens_the_bill(sandbox, raw):
    v = vendor(sandbox)
    b1, b2 = bill(sandbox, v, 80.0), bill(sandbox, v, 40.0)
    p1 = bill_payment(sandbox, v, [(b1, 80.0, "Bill")])
    p2 = bill_payment(sandbox, v, [(b2, 40.0, "Bill")])
    voided = raw.post("billpayment", {"Id": p1["Id"], "SyncToken": p1["SyncToken"], "sparse": True},
                      operation="update", include="void").json()["BillPayment"]
    assert voided["TotalAmt"] == 0 and voided["PrivateNote"] == "Voided"
    assert [(line["Amount"], line["LinkedTxn"][0]["TxnId"]) for line in voided["Line"]] == [(0, b1["Id"])]
    raw.post("billpayment", {"Id": p2["Id"], "SyncToken": p2["SyncToken"]}, operation="void")
    assert sandbox.get("Bill", b1["Id"])["Balance"] == 80.0 and sandbox.get("Bill", b2["Id"])["Balance"] == 40.0
    assert _fault(raw.post("bill", {"Id": b1["Id"], "SyncToken": sandbox.get("Bill", b1["Id"])["SyncToken"]},
                           operation="void"))["code"] == "500"


def test_vendor_credits_and_credit_memos_are_applied_through_payments(sandbox):
    v = vendor(sandbox)
    b = bill(sandbox, v, 100.0)
    vc = sandbox.add("VendorCredit", {"VendorRef": ref(v), "Line": [expense_line(30.0, account(sandbox, "Utilities"))]})
    bp = bill_payment(sandbox, v, [(b, 100.0, "Bill"), (vc, 30.0, "VendorCredit")])
    assert bp["TotalAmt"] == 70.0
    assert sandbox.get("Bill", b["Id"])["Balance"] == 0 and sandbox.get("VendorCredit", vc["Id"])["Balance"] == 0
    c = customer(sandbox)
    inv = invoice(sandbox, c, 2369.52)
    cm = sandbox.add("CreditMemo", {"CustomerRef": ref(c), "Line": [sales_line(100.0, item(sandbox, "Credit"))]})
    first = payment(sandbox, c, [(inv, 694.0, "Invoice")])
    assert sandbox.get("Invoice", inv["Id"])["Balance"] == 1675.52 and first["UnappliedAmt"] == 0
    second = payment(sandbox, c, [(inv, 160.0, "Invoice"), (cm, 60.0, "CreditMemo")], total=150.0)
    assert second["UnappliedAmt"] == 50.0
    assert sandbox.get("Invoice", inv["Id"])["Balance"] == 1515.52
    memo = sandbox.get("CreditMemo", cm["Id"])
    assert memo["RemainingCredit"] == 40.0 and memo["Balance"] == 40.0
    assert [l["TxnId"] for l in sandbox.get("Invoice", inv["Id"])["LinkedTxn"]] == [first["Id"], second["Id"]]
    sandbox.user_void("Payment", second["Id"])
    assert sandbox.get("CreditMemo", cm["Id"])["RemainingCredit"] == 100.0
    assert sandbox.get("Invoice", inv["Id"])["Balance"] == 1675.52


def test_voided_invoice_keeps_its_lines_with_zero_amounts(sandbox, raw):
    inv = invoice(sandbox, customer(sandbox), 120.0)
    body = raw.post("invoice", {"Id": inv["Id"], "SyncToken": inv["SyncToken"]}, operation="void").json()["Invoice"]
    assert body["TotalAmt"] == 0 and body["Balance"] == 0 and body["PrivateNote"] == "Voided"
    assert all(line["Amount"] == 0 for line in body["Line"])


def test_attachables_point_at_documents(sandbox):
    b = bill(sandbox, vendor(sandbox))
    att = sandbox.add("Attachable", {"Note": "scan", "AttachableRef": [{"EntityRef": {"type": "Bill", "value": b["Id"]}}]})
    assert att["AttachableRef"][0] == {"EntityRef": {"type": "Bill", "value": b["Id"]}, "IncludeOnSend": False}
    with pytest.raises(QBOFault):
        sandbox.add("Attachable", {"Note": "x", "AttachableRef": [{"EntityRef": {"type": "Bill", "value": "777"}}]})


# ------------------------------------------------------------------------ query
def test_query_language_subset(sandbox, raw):
    sandbox.enforce_limits = False  # many requests in one fake second; limits have their own tests
    v1, v2 = vendor(sandbox, "Adam's Supplies"), vendor(sandbox, "Zed Corp")
    for amount in (10.0, 200.0, 35.5):
        bill(sandbox, v1, amount)
    bill(sandbox, v2, 99.0)

    def rows(text, entity="Bill"):
        response = raw.query(text)
        assert response.status_code == 200, response.text
        return response.json()["QueryResponse"].get(entity, [])

    assert [b["TotalAmt"] for b in rows(f"SELECT * FROM Bill WHERE VendorRef = '{v1['Id']}' ORDERBY TotalAmt DESC")] == \
        [200.0, 35.5, 10.0]
    assert len(rows("select * from bill where TotalAmt >= '35.5' and TotalAmt < '200'")) == 2
    assert len(rows(f"Select * From BILL Where VendorRef In ('{v2['Id']}', '424242')")) == 1
    assert [o["DisplayName"] for o in rows("select * from Vendor where DisplayName = 'Adam\\'s Supplies'", "Vendor")] == \
        ["Adam's Supplies"]
    assert [o["DisplayName"] for o in rows("select * from Vendor where DisplayName like '%corp'", "Vendor")] == ["Zed Corp"]
    assert len(rows("select * from Bill where MetaData.LastUpdatedTime >= '2023-11-14T14:00:00-08:00' "
                    "order by Metadata.LastUpdatedTime asc")) == 4
    assert rows("select * from Bill where MetaData.LastUpdatedTime > '2023-11-15'") == []
    page = raw.query("select * from Bill orderby Id startposition 2 maxresults 2").json()["QueryResponse"]
    assert (page["startPosition"], page["maxResults"], len(page["Bill"])) == (2, 2, 2)
    assert raw.query("select count(*) from Bill").json()["QueryResponse"] == {"totalCount": 4}
    projected = rows("select Id, TotalAmt from Bill maxresults 1")[0]
    assert set(projected) == {"Id", "TotalAmt", "domain", "sparse"}
    posted = raw.http.post(f"{sandbox.api_base}/query", data="select * from Term",
                           headers=raw.headers(**{"Content-Type": "application/text"}), timeout=5)
    assert posted.json()["QueryResponse"] == {}
    error = _fault(raw.query("select * from Bill where"))
    assert error["code"] == "4000" and "QueryParserError" in error["Detail"]
    assert _fault(raw.query("select * from Nothing"))["code"] == "4000"


def test_query_pages_are_capped_at_1000_and_default_to_100(sandbox, raw):
    v = vendor(sandbox)
    expense = account(sandbox, "Utilities")
    for n in range(1100):
        sandbox.add("Bill", {"VendorRef": ref(v), "Line": [expense_line(1.0 + n, expense)]})
    assert len(raw.query("select * from Bill").json()["QueryResponse"]["Bill"]) == 100
    page = raw.query("select * from Bill maxresults 5000").json()["QueryResponse"]
    assert page["maxResults"] == 1000 and len(page["Bill"]) == 1000


# -------------------------------------------------------------------------- CDC
def test_cdc_returns_changes_grouped_by_entity_with_deleted_stubs_last(sandbox, raw, clock):
    since = "2023-11-14T14:13:21-08:00"
    v = vendor(sandbox)
    clock.advance(5)
    b1, b2 = bill(sandbox, v, 10.0), bill(sandbox, v, 20.0)
    clock.advance(5)
    sandbox.user_delete("Bill", b1["Id"])
    clock.advance(5)
    sandbox.user_update("Vendor", v["Id"], {"AcctNum": "N-9"})
    body = raw.get("cdc", entities="Bill,Vendor", changedSince=since).json()
    groups = body["CDCResponse"][0]["QueryResponse"]
    assert [list(g)[0] for g in groups] == ["Bill", "Vendor"]
    bills = groups[0]["Bill"]
    assert [b.get("Id") for b in bills] == [b2["Id"], b1["Id"]]
    assert bills[1] == {"status": "Deleted", "domain": "QBO", "Id": b1["Id"],
                        "MetaData": {"LastUpdatedTime": "2023-11-14T14:13:30-08:00"}}
    assert groups[1]["Vendor"][0]["AcctNum"] == "N-9" and groups[1]["maxResults"] == 1
    later = raw.get("cdc", entities="Bill", changedSince="2023-11-14T14:13:31-08:00").json()
    assert later["CDCResponse"] == fixture("cdc_empty.json")["CDCResponse"]


def test_cdc_refuses_windows_older_than_30_days_and_caps_responses(clock):
    with QBOSandbox(clock=clock, cdc_max_objects=5) as sb:
        clock.advance(31 * DAY)
        r = _raw(sb)
        old = r.get("cdc", entities="Account", changedSince="2023-11-14T00:00:00-08:00")
        assert old.status_code == 400 and "30 days" in old.json()["Fault"]["Error"][0]["Detail"]
        for n in range(8):
            vendor(sb, f"V{n}")
            clock.advance(1)
        since = sb.all("Vendor")[0]["MetaData"]["CreateTime"]
        groups = r.get("cdc", entities="Vendor,Bill", changedSince=since).json()["CDCResponse"][0]["QueryResponse"]
        assert [o["DisplayName"] for o in groups[0]["Vendor"]] == ["V0", "V1", "V2", "V3", "V4"]


def _raw(sb):
    return Raw(sb)


# ------------------------------------------------------------------------ batch
def test_batch_answers_each_item_by_bid_with_http_200_even_when_items_fail(sandbox, raw):
    v = vendor(sandbox)
    b = bill(sandbox, v)
    request = {"BatchItemRequest": [
        {"bId": "v1", "operation": "create", "Vendor": {"DisplayName": "Acme Paper Co"}},
        {"bId": "b7", "operation": "update", "Bill": {"Id": b["Id"], "SyncToken": "9", "sparse": True}},
        {"bId": "q1", "Query": "select * from Vendor where DisplayName = 'Norton Lumber'"},
        {"bId": "d1", "operation": "delete", "Bill": {"Id": b["Id"], "SyncToken": b["SyncToken"]}},
        {"bId": "x1", "operation": "create", "Vendor": {"DisplayName": "Norton Lumber"}},
    ]}
    response = raw.post("batch", request)
    assert response.status_code == 200
    items = {i["bId"]: i for i in response.json()["BatchItemResponse"]}
    assert items["v1"]["Vendor"]["DisplayName"] == "Acme Paper Co"
    assert items["b7"]["Fault"]["Error"][0]["code"] == "5010"
    assert items["q1"]["QueryResponse"]["Vendor"][0]["Id"] == v["Id"]
    assert items["d1"]["Bill"]["status"] == "Deleted"
    assert items["x1"]["Fault"]["Error"][0]["code"] == "6240"
    too_many = {"BatchItemRequest": [{"bId": f"q{n}", "Query": "select * from Term"} for n in range(31)]}
    assert raw.post("batch", too_many).status_code == 400


# -------------------------------------------------------------------- requestid
def test_a_repeated_requestid_replays_the_answer_without_doing_the_work_again(sandbox, raw, clock):
    first = raw.post("vendor", {"DisplayName": "Once"}, requestid="req-1")
    again = raw.post("vendor", {"DisplayName": "Once"}, requestid="req-1")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert [o["DisplayName"] for o in sandbox.all("Vendor")] == ["Once"]
    failed = raw.post("vendor", {"DisplayName": "Once"}, requestid="req-2")
    assert failed.status_code == 400 and raw.post("vendor", {"DisplayName": "Other"}, requestid="req-2").json() == \
        failed.json()
    clock.advance(86400)
    expired = Raw(sandbox).post("vendor", {"DisplayName": "Once"}, requestid="req-1")
    assert expired.status_code == 400 and _fault(expired)["code"] == "6240"


# ------------------------------------------------------------------------ limits
def test_the_eleventh_request_in_a_second_is_throttled_with_the_xml_body_and_does_nothing(sandbox, raw, clock):
    for _ in range(10):
        assert raw.get("preferences").status_code == 200
    throttled = raw.post("vendor", {"DisplayName": "Not Created"})
    assert throttled.status_code == 429 and throttled.headers["Content-Type"] == "application/xml"
    assert '<Error code="3001">' in throttled.text and 'Fault type="SERVICE"' in throttled.text
    assert sandbox.all("Vendor") == []
    clock.advance(1)
    assert raw.post("vendor", {"DisplayName": "Created"}).status_code == 200


def test_500_a_minute_and_40_batches_a_minute(clock):
    with QBOSandbox(clock=clock) as sb:
        r = _raw(sb)
        for n in range(40):
            assert r.post("batch", {"BatchItemRequest": [{"bId": "q", "Query": "select * from Term"}]}).status_code == 200
            clock.advance(0.2)
        assert r.post("batch", {"BatchItemRequest": [{"bId": "q", "Query": "select * from Term"}]}).status_code == 429
        assert r.get("preferences").status_code == 200   # plain requests still pass
        clock.advance(60)
        for n in range(500):
            assert r.get("preferences").status_code == 200, n
            clock.advance(0.1)
        assert r.get("preferences").status_code == 429
        assert sb.throttled == 2


def test_limits_can_be_switched_off(clock):
    with QBOSandbox(clock=clock, enforce_limits=False) as sb:
        r = _raw(sb)
        assert all(r.get("preferences").status_code == 200 for _ in range(30))


# ------------------------------------------------------------------------ faults
@pytest.mark.parametrize("kind, status, check", [
    ("expired_token", 401, lambda r: r.json()["fault"]["error"][0]["code"] == "3200"),
    ("throttle_xml", 429, lambda r: "ThrottleExceeded" in r.text and "xml" in r.headers["Content-Type"]),
    ("429", 429, lambda r: '<Error code="3001">' in r.text),
    ("throttle_403", 403, lambda r: '<Error code="3001">' in r.text),
    ("stale", 400, lambda r: r.json()["Fault"]["Error"][0]["code"] == "5010"),
    ("server_fault", 500, lambda r: r.json()["Fault"]["type"] == "SystemFault"),
    ("fault_in_200", 200, lambda r: "Fault" in r.json()),
    ("503", 503, lambda r: True),
    ("html", 502, lambda r: r.text.startswith("<html>")),
])
def test_injected_faults_use_the_qbo_wire_format(sandbox, raw, kind, status, check):
    sandbox.inject(kind, path="/preferences")
    response = raw.get("preferences")
    assert response.status_code == status and check(response)
    assert raw.get("preferences").status_code == 200
    assert sandbox.request_log()[-2].fault == kind


def test_commit_then_drop_does_the_work_and_loses_the_answer(sandbox, raw):
    sandbox.inject("commit_then_drop", method="POST", path="/vendor")
    with pytest.raises(requests.ConnectionError):
        raw.post("vendor", {"DisplayName": "Saved"}, requestid="lost-1")
    assert [o["DisplayName"] for o in sandbox.all("Vendor")] == ["Saved"]
    assert raw.post("vendor", {"DisplayName": "Saved"}, requestid="lost-1").json()["Vendor"]["DisplayName"] == "Saved"
    assert len(sandbox.all("Vendor")) == 1


# ----------------------------------------------------------- Python API, scale
def test_python_api_snapshot_is_comparable_between_runs():
    def run(start):
        with QBOSandbox(clock=FakeClock(start), realm_id="1234567890123456") as sb:
            v = vendor(sb)
            b = bill(sb, v, 50.0)
            bill_payment(sb, v, [(b, 20.0, "Bill")])
            sb.user_update("Vendor", v["Id"], {"AcctNum": "X"})
            sb.set_preferences(ClassTrackingPerTxnLine=True, CurrencyPrefs={"MultiCurrencyEnabled": True})
            return sb.snapshot()
    first = run(1_700_000_000)
    second = run(1_700_003_000)  # later the same day: dates agree, times do not
    assert first == second
    assert "MetaData" not in first["entities"]["Bill"]["26"] and first["entities"]["Bill"]["26"]["Balance"] == 30.0
    prefs = first["entities"]["Preferences"]["1"]
    assert prefs["AccountingInfoPrefs"]["ClassTrackingPerTxnLine"] is True
    assert prefs["CurrencyPrefs"] == {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "USD"}}


def test_control_endpoints(sandbox):
    vendor(sandbox)
    state = requests.get(sandbox.base_url + "/_sandbox/state", timeout=5).json()
    assert state == sandbox.snapshot()
    added = requests.post(sandbox.base_url + "/_sandbox/records", timeout=5,
                          json={"entity": "Customer", "record": {"DisplayName": "Via HTTP"}}).json()
    assert sandbox.get("Customer", added["Id"])["DisplayName"] == "Via HTTP"
    requests.post(sandbox.base_url + "/_sandbox/preferences", json={"TrackDepartments": True}, timeout=5)
    assert sandbox.preferences()["AccountingInfoPrefs"]["TrackDepartments"] is True


def test_thirty_thousand_bills_load_and_page_through_query_and_cdc(sandbox, raw, clock):
    v = vendor(sandbox)
    expense = account(sandbox, "Utilities")
    since = "2023-11-14T14:13:20-08:00"
    for n in range(30_000):
        sandbox.add("Bill", {"VendorRef": {"value": v["Id"]}, "Line": [expense_line(1.0, expense)]})
        if n % 100 == 99:
            clock.advance(1)
    assert len(sandbox.all("Bill")) == 30_000
    seen = 0
    for start in range(1, 30_001, 1000):
        page = raw.query(f"select * from Bill orderby MetaData.LastUpdatedTime startposition {start} maxresults 1000")
        seen += len(page.json()["QueryResponse"]["Bill"])
        clock.advance(1)  # stay inside 10 requests a second
    assert seen == 30_000
    groups = raw.get("cdc", entities="Bill", changedSince=since).json()["CDCResponse"][0]["QueryResponse"]
    assert groups[0]["maxResults"] == 1000


def test_batch_items_do_not_see_each_others_creations():
    import requests

    from sync_engine.sandbox.qbo import QBOSandbox
    with QBOSandbox(enforce_limits=False) as sb:
        access, _ = sb.issue_tokens()
        url = f"{sb.base_url}/v3/company/{sb.realm_id}/batch?minorversion=75"
        expense = next(a["Id"] for a in sb.all("Account") if a["AccountType"] == "Expense")
        bill = {"VendorRef": {"value": "25"}, "Line": [
            {"Amount": 10, "DetailType": "AccountBasedExpenseLineDetail",
             "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense}}}]}
        body = {"BatchItemRequest": [
            {"bId": "v1", "operation": "create", "Vendor": {"DisplayName": "New Vendor"}},
            {"bId": "b1", "operation": "create", "Bill": bill}]}
        answer = requests.post(url, json=body, headers={"Authorization": f"Bearer {access}",
                                                        "Accept": "application/json"}).json()
        items = {i["bId"]: i for i in answer["BatchItemResponse"]}
        assert items["v1"]["Vendor"]["Id"] == "25"
        assert items["b1"]["Fault"]["Error"][0]["code"] == "2500"
        # the same bill in the next batch finds its vendor
        answer = requests.post(url, json={"BatchItemRequest": [{"bId": "b2", "operation": "create", "Bill": bill}]},
                               headers={"Authorization": f"Bearer {access}", "Accept": "application/json"}).json()
        assert "Bill" in answer["BatchItemResponse"][0]
