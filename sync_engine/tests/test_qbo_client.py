"""QBOClient against a live QBOSandbox on a shared FakeClock: OAuth, reads, CDC,
writes with requestid, batch, errors, retries and pacing; then the shapes the
client parses from the sandbox compared with the reference examples."""
import datetime as dt
import re
import urllib.parse

from decimal import Decimal

import pytest
import requests

from sync_engine import errors as base_errors
from sync_engine.pacing import FakeClock
from sync_engine.qbo import (BatchItem, CDCSecondTooFull, CDCWindowTooOld, DuplicateName, InvalidReference,
                             ObjectNotFound, QBOAuthError, QBOClient, QBOMalformedResponse, QBOServerError,
                             QBOThrottled, QBOValidationError, StaleObject, quote)
from sync_engine.qbo.client import (entity_of, find_fault, parse_batch_response, parse_cdc_response,
                                    parse_query_response, parse_token_response, parse_xml_fault)
from sync_engine.sandbox.qbo import QBOSandbox
from sync_engine.tests.qbo_support import (Recreate, account, bill, bill_payment, client, clock,  # noqa: F401
                                           customer, expense_line, fixture, invoice, make_client, raw,
                                           ref_paths, sandbox, tokens, vendor)

T0 = 1_700_000_000  # FakeClock's start: 2023-11-14T14:13:20-08:00


def api_log(sandbox, kind=None):
    """Logged /v3 requests, optionally only those whose path ends with ``/kind``."""
    return [r for r in sandbox.request_log() if "/v3/company/" in r.path
            and (kind is None or r.path.rsplit("/", 1)[-1] == kind)]


def token_calls(sandbox):
    return [r for r in sandbox.request_log() if r.path.endswith("/tokens/bearer")]


def requestids(entries):
    return [urllib.parse.parse_qs(r.query).get("requestid", [None])[0] for r in entries]


# ======================================================================== OAuth
def test_authorization_url_carries_client_scope_redirect_and_state(client):
    url = client.authorization_url("https://odoo.example/qbo/callback", "st4te")
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://appcenter.intuit.com/connect/oauth2"
    assert dict(urllib.parse.parse_qsl(parts.query)) == {
        "client_id": client.client_id, "response_type": "code", "scope": "com.intuit.quickbooks.accounting",
        "redirect_uri": "https://odoo.example/qbo/callback", "state": "st4te"}
    with pytest.raises(ValueError):
        client.authorization_url("https://odoo.example/qbo/callback", "")


def test_connecting_a_company_exchanges_the_callback_code_for_tokens(sandbox, clock):
    received = []
    c = QBOClient(sandbox.base_url, None, sandbox.client_id, sandbox.client_secret, None, sandbox.token_url,
                  on_tokens=received.append, clock=clock, timeout=5)
    redirect = "https://odoo.example/qbo/callback"
    url = c.authorization_url(redirect, "csrf-1", authorize_url=sandbox.authorize_url)
    location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert params["state"] == "csrf-1"
    tokens_ = c.exchange_code(params["code"], redirect, realm_id=params["realmId"])
    assert received == [tokens_] and tokens_.realm_id == sandbox.realm_id
    assert tokens_.access_token_expires_at == T0 + 3600
    assert tokens_.refresh_token_expires_at == T0 + 8726400
    assert tokens_.refresh_token_hard_expires_at == T0 + 5 * 365 * 86400
    assert c.company_info()["Id"] == "1"
    assert len(token_calls(sandbox)) == 1  # the fresh access token was used as is
    with pytest.raises(base_errors.ReconnectNeeded):
        c.exchange_code(params["code"], redirect)  # a code works once


def test_first_call_refreshes_and_the_rotated_refresh_token_reaches_on_tokens(sandbox, client, tokens, raw):
    client.preferences()
    assert len(tokens) == 1
    new = tokens[0].refresh_token
    assert new != sandbox.initial_refresh_token and client.refresh_token == new
    assert sandbox.refresh_tokens() == [new] or new in sandbox.refresh_tokens()
    old = raw.token({"grant_type": "refresh_token", "refresh_token": sandbox.initial_refresh_token})
    assert old.status_code == 400


def test_access_token_is_refreshed_shortly_before_it_expires_without_a_401(sandbox, client, tokens, clock):
    client.preferences()
    clock.advance(3600 - 59)  # inside the 60-second margin
    client.preferences()
    assert len(tokens) == 2 and tokens[1].refresh_token != tokens[0].refresh_token
    assert [r.status for r in api_log(sandbox)] == [200, 200]


def test_a_401_refreshes_once_and_retries_the_request(sandbox, client, tokens):
    client.preferences()
    sandbox.inject("expired_token", path="/preferences$")
    assert client.preferences()["Id"] == "1"
    assert [r.status for r in api_log(sandbox, "preferences")] == [200, 401, 200]
    assert len(tokens) == 2


def test_a_401_that_survives_a_refresh_is_an_auth_error_not_a_loop(sandbox, client, tokens):
    sandbox.inject("expired_token", count=5, path="/preferences$")
    with pytest.raises(QBOAuthError) as exc:
        client.preferences()
    assert exc.value.code == "3200" and exc.value.status == 401
    assert len(api_log(sandbox, "preferences")) == 2 and len(tokens) == 2


def test_a_refused_refresh_token_means_reconnect_with_a_clear_message(sandbox, client):
    sandbox.revoke_all_tokens()
    with pytest.raises(base_errors.ReconnectNeeded) as exc:
        client.preferences()
    assert "QuickBooks refused the refresh token; reconnect the company" in str(exc.value)
    assert exc.value.side == "QuickBooks" and exc.value.code == "invalid_grant"
    assert sandbox.initial_refresh_token not in str(exc.value) + repr(exc.value)


def test_a_wrong_client_secret_is_an_auth_error(sandbox, clock):
    c = QBOClient(sandbox.base_url, sandbox.realm_id, sandbox.client_id, "not-the-secret",
                  sandbox.initial_refresh_token, sandbox.token_url, clock=clock, timeout=5)
    with pytest.raises(QBOAuthError) as exc:
        c.preferences()
    assert not isinstance(exc.value, base_errors.ReconnectNeeded)
    assert "not-the-secret" not in str(exc.value)


def test_revoke_disconnects_the_company(sandbox, client, clock):
    client.preferences()
    assert client.revoke() is True
    assert sandbox.refresh_tokens() == [] and client.refresh_token is None
    again = make_client(sandbox, clock=clock)
    with pytest.raises(base_errors.ReconnectNeeded):
        again.preferences()


# ======================================================================== reads
def test_query_is_a_lazy_generator_that_pages_by_1000_until_a_short_page(sandbox, client):
    for n in range(2500):
        sandbox.add("Vendor", {"DisplayName": f"Vendor {n:05d}"})
    rows = client.query("select * from Vendor orderby Id")
    client.preferences()  # token refresh happens here, not in the pager
    sandbox.clear_log()
    assert api_log(sandbox, "query") == []
    first = next(rows)
    assert first["DisplayName"] == "Vendor 00000" and len(api_log(sandbox, "query")) == 1
    rest = list(rows)
    assert len(rest) + 1 == 2500 and len({r["Id"] for r in rest + [first]}) == 2500
    queries = [urllib.parse.parse_qs(r.query)["query"][0] for r in api_log(sandbox, "query")]
    assert queries == [f"select * from Vendor orderby Id STARTPOSITION {s} MAXRESULTS 1000" for s in (1, 1001, 2001)]
    assert all("minorversion=75" in r.query for r in api_log(sandbox))


def test_query_with_an_exact_multiple_of_the_page_ends_on_an_empty_page(sandbox, client):
    for n in range(6):
        vendor(sandbox, f"V{n}")
    assert len(list(client.query("select * from Vendor", page_size=3))) == 6
    assert len(api_log(sandbox, "query")) == 3


def test_query_helpers(sandbox, client):
    v = vendor(sandbox, "Adam's \\ Supplies")
    assert [o["Id"] for o in client.query(f"select * from Vendor where DisplayName = {quote(v['DisplayName'])}")] == \
        [v["Id"]]
    with pytest.raises(ValueError):
        client.query("select * from Vendor MAXRESULTS 5")
    assert client.query_count("Account") == 24
    assert client.query_count("Account", "AccountType = 'Bank'") == 2
    assert client.query_one("select * from Account where Name = 'Checking'")["Name"] == "Checking"
    assert client.query_one("select * from Term") is None
    client.query_post_threshold = 10
    assert len(list(client.query("select * from Account where Active = true"))) == 24
    assert api_log(sandbox, "query")[-1].method == "POST"


def test_read_preferences_and_company_info(sandbox, client):
    v = vendor(sandbox)
    assert client.read("Vendor", v["Id"]) == sandbox.get("Vendor", v["Id"])
    assert client.preferences()["AccountingInfoPrefs"]["ClassTrackingPerTxnLine"] is False
    sandbox.set_preferences(ClassTrackingPerTxnLine=True)
    assert client.preferences()["AccountingInfoPrefs"]["ClassTrackingPerTxnLine"] is True
    assert client.company_info()["CompanyName"] == "Sandbox Company_US_1"
    with pytest.raises(ObjectNotFound) as exc:
        client.read("Bill", "424242")
    assert exc.value.code == "610" and exc.value.status == 400


# ========================================================================= CDC
def test_cdc_returns_active_changes_then_deleted_stubs_and_a_checkpoint(sandbox, client, clock):
    since = dt.datetime.fromtimestamp(T0, dt.timezone.utc)
    v = vendor(sandbox)
    b1, b2 = bill(sandbox, v, 10.0), bill(sandbox, v, 20.0)
    clock.advance(3)
    sandbox.user_delete("Bill", b1["Id"])
    result = client.cdc(["Bill", "Vendor"], since)
    assert [o["Id"] for o in result.active("Bill")] == [b2["Id"]]
    assert [o["Id"] for o in result.deleted("Bill")] == [b1["Id"]]
    assert [o["Id"] for o in result.entities["Bill"]] == [b2["Id"], b1["Id"]]
    assert result.active("Vendor")[0]["Id"] == v["Id"]
    assert result.checkpoint == T0 + 3 and result.requests == 1
    assert result.checkpoint_iso == "2023-11-14T22:13:23+00:00"
    nothing = client.cdc(["Bill"], result.checkpoint + 1)
    assert nothing.entities == {} and nothing.count() == 0


def test_cdc_older_than_30_days_asks_for_a_full_read_without_calling_qbo(sandbox, client, clock):
    clock.advance(31 * 86400)
    with pytest.raises(CDCWindowTooOld) as exc:
        client.cdc(["Bill"], T0)
    assert "full" in str(exc.value) and "30 days" in str(exc.value)
    assert api_log(sandbox, "cdc") == []


def test_cdc_over_the_1000_cap_splits_the_window_and_returns_every_change_once(sandbox, client, clock):
    v = vendor(sandbox)
    expense = account(sandbox, "Utilities")
    start = clock.now()
    vendors, bills = [], []
    for n in range(1500):
        vendors.append(sandbox.add("Vendor", {"DisplayName": f"Supplier {n}"})["Id"])
        bills.append(sandbox.add("Bill", {"VendorRef": {"value": v["Id"]}, "Line": [expense_line(5.0, expense)]})["Id"])
        if n % 7 == 6:
            clock.advance(1)
    # one bill changes again later: it must come back once, in its newest version
    sandbox.user_update("Bill", bills[0], {"PrivateNote": "edited"})
    clock.advance(1)
    result = client.cdc(["Vendor", "Bill"], start)
    assert sorted(o["Id"] for o in result.active("Vendor")) == sorted([v["Id"]] + vendors)
    got_bills = result.active("Bill")
    assert len(got_bills) == 1500 and len({o["Id"] for o in got_bills}) == 1500
    assert next(o for o in got_bills if o["Id"] == bills[0])["PrivateNote"] == "edited"
    assert result.requests > 3 and len(api_log(sandbox, "cdc")) == result.requests
    assert result.checkpoint == int(clock.now())
    # every answer that reached the cap was used only for the part it covers completely
    assert all(r.status == 200 for r in api_log(sandbox, "cdc"))


def test_cdc_with_an_upper_bound(sandbox, client, clock):
    early = vendor(sandbox, "Early")
    clock.advance(10)
    vendor(sandbox, "Late")
    result = client.cdc("Vendor", T0, until=T0 + 5)
    assert [o["DisplayName"] for o in result.active("Vendor")] == [early["DisplayName"]]
    assert result.checkpoint == T0 + 5


def test_more_than_1000_changes_in_one_second_cannot_be_split_and_say_so(sandbox, client):
    for n in range(1001):
        sandbox.add("Vendor", {"DisplayName": f"Burst {n}"})
    with pytest.raises(CDCSecondTooFull) as exc:
        client.cdc(["Vendor"], T0)
    assert "full query" in str(exc.value)


# ======================================================================= writes
def test_create_update_delete_and_void_carry_the_callers_requestid(sandbox, client):
    v = client.create("Vendor", {"DisplayName": "Acme Paper Co"}, request_id="vendor-acme-1")
    assert sandbox.get("Vendor", v["Id"])["DisplayName"] == "Acme Paper Co"
    sparse = client.update("Vendor", {"Id": v["Id"], "SyncToken": v["SyncToken"], "AcctNum": "A-77"},
                           request_id="vendor-acme-2")
    assert sparse["AcctNum"] == "A-77" and sparse["DisplayName"] == "Acme Paper Co" and sparse["SyncToken"] == "1"
    full = client.update("Vendor", {"Id": v["Id"], "SyncToken": 1, "DisplayName": "Acme Paper"},
                         request_id="vendor-acme-3", sparse=False)
    assert "AcctNum" not in full
    b = bill(sandbox, sandbox.get("Vendor", v["Id"]))
    stub = client.delete("Bill", b["Id"], b["SyncToken"], request_id="bill-del-1")
    assert stub == {"status": "Deleted", "domain": "QBO", "Id": b["Id"]} and sandbox.get("Bill", b["Id"]) is None
    b2 = bill(sandbox, sandbox.get("Vendor", v["Id"]), 40.0)
    bp = bill_payment(sandbox, sandbox.get("Vendor", v["Id"]), [(b2, 40.0, "Bill")])
    voided = client.void("BillPayment", bp["Id"], bp["SyncToken"], request_id="bp-void-1")
    assert voided["TotalAmt"] == 0 and sandbox.get("Bill", b2["Id"])["Balance"] == 40.0
    inv = invoice(sandbox, customer(sandbox), 75.0)
    assert client.void("Invoice", inv["Id"], inv["SyncToken"], request_id="inv-void-1")["PrivateNote"] == "Voided"
    writes = [r for r in sandbox.writes()]
    assert requestids(writes) == ["vendor-acme-1", "vendor-acme-2", "vendor-acme-3", "bill-del-1", "bp-void-1",
                                  "inv-void-1"]
    assert "operation=update&include=void" in writes[4].query and "operation=void" in writes[5].query


@pytest.mark.parametrize("request_id", [None, "", "x" * 51, "has space"])
def test_every_write_needs_a_valid_request_id(client, sandbox, request_id):
    with pytest.raises(ValueError):
        client.create("Vendor", {"DisplayName": "X"}, request_id=request_id)
    assert sandbox.writes() == []


def test_update_needs_id_and_synctoken(client):
    with pytest.raises(ValueError):
        client.update("Vendor", {"Id": "1", "DisplayName": "X"}, request_id="u-1")


def test_a_write_whose_answer_was_lost_is_retried_with_the_same_requestid_and_done_once(sandbox, client, clock):
    client.preferences()
    sandbox.inject("commit_then_drop", method="POST", path="/vendor$")
    v = client.create("Vendor", {"DisplayName": "Exactly Once"}, request_id="create-once-1")
    assert [o["DisplayName"] for o in sandbox.all("Vendor")] == ["Exactly Once"]
    posts = [r for r in sandbox.writes() if r.path.endswith("/vendor")]
    assert requestids(posts) == ["create-once-1", "create-once-1"] and posts[0].fault == "commit_then_drop"
    assert v["Id"] == sandbox.all("Vendor")[0]["Id"]
    assert clock.sleeps == [0.5] and client.stats["retries"] == 1


def test_qbo_faults_become_typed_errors(sandbox, client):
    v = vendor(sandbox, "Norton Lumber")
    client.update("Vendor", {"Id": v["Id"], "SyncToken": "0", "AcctNum": "1"}, request_id="t-1")
    with pytest.raises(StaleObject) as stale:
        client.update("Vendor", {"Id": v["Id"], "SyncToken": "0", "AcctNum": "2"}, request_id="t-2")
    assert stale.value.code == "5010" and not stale.value.retryable
    with pytest.raises(DuplicateName) as dup:
        client.create("Customer", {"DisplayName": "Norton Lumber"}, request_id="t-3")
    assert dup.value.detail.startswith("The name supplied already exists.")
    with pytest.raises(QBOValidationError) as missing:
        client.create("Bill", {"VendorRef": {"value": v["Id"]}}, request_id="t-4")
    assert (missing.value.code, missing.value.field) == ("2020", "Line")
    with pytest.raises(InvalidReference) as bad_ref:
        client.create("Bill", {"VendorRef": {"value": "424242"},
                               "Line": [expense_line(1.0, account(sandbox, "Utilities"))]}, request_id="t-5")
    assert bad_ref.value.field == "VendorRef"
    assert "QuickBooks error 6240" in str(dup.value)
    sandbox.inject("fault_in_200", path="/preferences$")
    with pytest.raises(QBOValidationError) as in_200:
        client.preferences()
    assert in_200.value.code == "6000" and in_200.value.status == 200


# ========================================================= throttling, retries
def test_a_429_without_retry_after_backs_off_from_a_short_delay_then_succeeds(sandbox, client, clock):
    client.preferences()
    sandbox.inject("429", path="/preferences$")
    assert client.preferences()["Id"] == "1"
    assert len(clock.sleeps) == 1 and 2 <= clock.sleeps[0] <= 2.2 and client.stats["throttled_waits"] == 1
    assert [r.status for r in api_log(sandbox, "preferences")] == [200, 429, 200]


def test_retry_after_is_honoured_when_present(sandbox, client, clock):
    client.preferences()
    sandbox.retry_after = 7
    sandbox.inject("throttle_xml", path="/preferences$")
    client.preferences()
    assert clock.sleeps == [7]


def test_a_403_with_the_throttle_body_is_a_throttle(sandbox, client, clock):
    client.preferences()
    sandbox.inject("throttle_403", path="/preferences$")
    client.preferences()
    assert len(clock.sleeps) == 1 and 2 <= clock.sleeps[0] <= 2.2


def test_throttling_that_does_not_stop_ends_in_qbo_throttled(sandbox, clock):
    c = make_client(sandbox, max_retries=2)
    c.preferences()
    sandbox.inject("429", count=10, path="/preferences$")
    with pytest.raises(QBOThrottled) as exc:
        c.preferences()
    assert isinstance(exc.value, base_errors.RateLimited) and exc.value.code == "3001"
    # backs off from a short delay upwards: about 2 then 4 seconds (a little jitter)
    assert len(clock.sleeps) == 2 and 2 <= clock.sleeps[0] <= 2.2 and 4 <= clock.sleeps[1] <= 4.4
    assert len(api_log(sandbox, "preferences")) == 4


@pytest.mark.parametrize("kind", ["500", "502", "503", "server_fault", "html"])
def test_server_errors_are_retried_with_bounded_backoff(sandbox, client, clock, kind):
    client.preferences()
    sandbox.inject(kind, count=2, path="/preferences$")
    assert client.preferences()["Id"] == "1"
    assert clock.sleeps == [0.5, 1.0]


def test_server_errors_that_persist_end_in_qbo_server_error(sandbox, clock):
    c = make_client(sandbox, max_retries=3)
    c.preferences()
    sandbox.inject("server_fault", count=10, path="/preferences$")
    with pytest.raises(QBOServerError) as exc:
        c.preferences()
    assert isinstance(exc.value, base_errors.RemoteUnavailable) and exc.value.status == 500
    assert exc.value.fault_type == "SystemFault"
    assert clock.sleeps == [0.5, 1.0, 2.0] and len(api_log(sandbox, "preferences")) == 5


def test_timeouts_and_dropped_connections_are_retried(sandbox, clock):
    c = make_client(sandbox, timeout=0.2)
    c.preferences()
    sandbox.inject("timeout", path="/preferences$")
    sandbox.inject("drop", path="/preferences$")
    assert c.preferences()["Id"] == "1"
    assert clock.sleeps == [0.5, 1.0]


def test_dropped_connections_that_persist_end_in_remote_unavailable(sandbox, clock):
    c = make_client(sandbox, max_retries=1)
    c.preferences()
    sandbox.inject("drop", count=5, path="/preferences$")
    with pytest.raises(base_errors.RemoteUnavailable):
        c.preferences()
    assert clock.sleeps == [0.5]


def test_malformed_json_is_retried_then_reported(sandbox, clock):
    c = make_client(sandbox, max_retries=2)
    c.preferences()
    sandbox.inject("malformed_json", path="/preferences$")
    assert c.preferences()["Id"] == "1"
    sandbox.inject("malformed_json", count=5, path="/preferences$")
    with pytest.raises(base_errors.MalformedResponse) as exc:
        c.preferences()
    assert isinstance(exc.value, QBOMalformedResponse) and "not JSON" in str(exc.value)
    assert clock.sleeps == [0.5, 0.5, 1.0]


def test_a_write_retried_after_a_server_error_keeps_its_requestid(sandbox, client):
    client.preferences()
    sandbox.inject("503", method="POST", path="/vendor$")
    client.create("Vendor", {"DisplayName": "After 503"}, request_id="after-503")
    assert requestids(sandbox.writes()) == ["after-503", "after-503"] and len(sandbox.all("Vendor")) == 1


# ======================================================================= pacing
def test_no_waiting_under_the_limits(sandbox, client, clock):
    for _ in range(5):
        client.preferences()
    assert clock.sleeps == [] and client.pacing_wait_seconds == 0


def test_the_client_paces_itself_so_qbo_never_throttles(sandbox, client, clock):
    for _ in range(35):
        client.preferences()
    assert sandbox.throttled == 0 and all(r.status == 200 for r in api_log(sandbox))
    assert sum(clock.sleeps) >= 3 and client.pacing_wait_seconds == sum(clock.sleeps)
    assert client.stats["requests"]["GET preferences"] == 35 and client.stats["requests"]["POST token"] == 1


def test_batches_are_paced_at_40_a_minute(sandbox, client, clock):
    for n in range(45):
        client.batch([BatchItem.query("q", "select * from Term")])
    assert sandbox.throttled == 0
    batches = api_log(sandbox, "batch")
    assert len(batches) == 45 and clock.now() - T0 >= 60
    assert client.stats["requests"]["POST batch"] == 45


def test_stats_count_requests_retries_and_waits(sandbox, client):
    client.preferences()
    sandbox.inject("429", path="/query$")
    sandbox.inject("500", path="/query$")
    list(client.query("select * from Account"))
    assert client.stats["requests"]["GET query"] == 3
    assert client.stats["retries"] == 2 and client.stats["throttled_waits"] == 1
    assert 2 <= client.stats["throttle_wait_seconds"] <= 2.2 and client.stats["backoff_seconds"] == 0.5


# ======================================================================== batch
def test_batch_results_are_matched_by_bid_with_per_item_errors(sandbox, client):
    v = vendor(sandbox)
    b = bill(sandbox, v)
    results = client.batch([
        BatchItem("v1", "create", "Vendor", {"DisplayName": "Acme Paper Co"}),
        BatchItem("b7", "update", "Bill", {"Id": b["Id"], "SyncToken": "5", "sparse": True, "PrivateNote": "x"}),
        BatchItem.query("q1", "select * from Vendor where DisplayName = 'Norton Lumber'"),
        BatchItem("d1", "delete", "Bill", {"Id": b["Id"], "SyncToken": b["SyncToken"]}),
    ], request_id="batch-0001")
    assert results["v1"]["DisplayName"] == "Acme Paper Co"
    assert isinstance(results["b7"], StaleObject) and results["b7"].code == "5010"
    assert [o["Id"] for o in results["q1"]] == [v["Id"]]
    assert results["d1"]["status"] == "Deleted"
    again = client.batch([BatchItem("v1", "create", "Vendor", {"DisplayName": "Acme Paper Co"})],
                         request_id="batch-0001")
    assert again["v1"]["Id"] == results["v1"]["Id"]
    assert [o["DisplayName"] for o in sandbox.all("Vendor")].count("Acme Paper Co") == 1


def test_batch_matching_does_not_depend_on_order():
    payload = fixture("batch_response.json")
    payload["BatchItemResponse"].reverse()
    items = [BatchItem("b1", "create", "Vendor", {}), BatchItem("b2", "update", "Bill", {}),
             BatchItem.query("b3", "select * from Term"), BatchItem("b4", "create", "Vendor", {})]
    results = parse_batch_response(payload, items)
    assert results["b1"]["DisplayName"] == "Acme Paper Co" and isinstance(results["b2"], StaleObject)
    assert results["b3"][0]["Name"] == "Net 30" and isinstance(results["b4"], QBOMalformedResponse)


def test_batch_limits_are_checked_before_sending(sandbox, client):
    with pytest.raises(ValueError):
        client.batch([BatchItem.query(f"q{n}", "select * from Term") for n in range(31)])
    with pytest.raises(ValueError):
        client.batch([BatchItem.query("a-very-long-bid", "select * from Term")], request_id="r-1")
    with pytest.raises(ValueError):
        client.batch([BatchItem.query("q", "select * from Term")], request_id="x" * 37)
    with pytest.raises(ValueError):
        client.batch([BatchItem("u", "update", "Bill", {"Id": "1"})])
    assert api_log(sandbox, "batch") == []


# ===================================================================== secrets
def test_no_error_message_carries_a_token_or_the_client_secret(sandbox, client, tokens, clock):
    seen = []
    client.preferences()
    sandbox.inject("expired_token", count=3, path="/preferences$")
    for action in (client.preferences,
                   lambda: client.read("Bill", "1"),
                   lambda: client.create("Vendor", {}, request_id="s-1")):
        try:
            action()
        except QBOAuthError as exc:
            seen.append(exc)
        except QBOValidationError as exc:
            seen.append(exc)
    sandbox.inject("server_fault", count=2, path="/preferences$")
    try:
        make_client(sandbox, max_retries=1).preferences()
    except Exception as exc:  # noqa: BLE001 - any error is checked below
        seen.append(exc)
    sandbox.revoke_all_tokens()
    try:
        make_client(sandbox).preferences()
    except base_errors.ReconnectNeeded as exc:
        seen.append(exc)
    assert len(seen) == 5
    secrets_ = [sandbox.client_secret, sandbox.initial_refresh_token] + \
        [t.access_token for t in tokens] + [t.refresh_token for t in tokens]
    text = " ".join(str(e) + repr(e) + repr(vars(e)) for e in seen) + repr(client) + repr(tokens)
    assert not [s for s in secrets_ if s and s in text]
    assert "Bearer" not in text and "Basic" not in text


# ===================================================== shapes vs the reference
ENTITY_FIXTURES = ["vendor", "customer", "class", "department", "item", "term", "bill", "billpayment",
                   "vendorcredit", "invoice", "payment", "creditmemo"]
# keys the sandbox adds that a reference example happens not to show
EXTRA_KEYS = {"vendorcredit": {"CurrencyRef"}, "creditmemo": {"CurrencyRef"}}


def _scenario(sandbox, name):
    """Recreate the reference example ``name`` in the sandbox; returns (entity, id)."""
    rec = Recreate(sandbox)
    doc = {k: fixture(f"{k}.json") for k in ("bill", "billpayment", "invoice", "payment")}
    if name in ("bill", "billpayment"):
        b = rec.add("Bill", entity_of(doc["bill"]))
        bp = rec.add("BillPayment", entity_of(doc["billpayment"]), links={"126": b["Id"]})
        return ("Bill", b["Id"]) if name == "bill" else ("BillPayment", bp["Id"])
    if name in ("invoice", "payment"):
        inv = rec.add("Invoice", entity_of(doc["invoice"]))
        first = {"CustomerRef": {"value": inv["CustomerRef"]["value"]}, "TotalAmt": 694.0,
                 "Line": [{"Amount": 694.0, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}]}
        sandbox.add("Payment", first)
        p = rec.add("Payment", entity_of(doc["payment"]), links={"12": inv["Id"]})
        return ("Invoice", inv["Id"]) if name == "invoice" else ("Payment", p["Id"])
    obj = entity_of(fixture(f"{name}.json"))
    entity = next(iter(fixture(f"{name}.json")))
    return entity, rec.add(entity, obj)["Id"]


def _assert_same_shape(documented, live, extra=frozenset()):
    assert set(documented) <= set(live), set(documented) - set(live)
    assert set(live) - set(documented) <= set(extra), set(live) - set(documented)
    assert isinstance(live["Id"], str) and isinstance(live["SyncToken"], str)
    assert set(live["MetaData"]) == set(documented["MetaData"])
    for path, value in ref_paths(documented).items():
        got = ref_paths(live).get(path)
        assert got is not None, path
        assert "value" in got and isinstance(got["value"], str) and set(got) <= {"value", "name"}, (path, got)
    for doc_line, live_line in zip(documented.get("Line") or [], live.get("Line") or []):
        assert set(doc_line) <= set(live_line) and set(live_line) - set(doc_line) <= {"LineNum"}
        kind = doc_line.get("DetailType")
        if kind:
            assert live_line["DetailType"] == kind and set(live_line[kind]) == set(doc_line[kind])


@pytest.mark.parametrize("name", ENTITY_FIXTURES)
def test_entities_have_the_documented_shape(sandbox, client, name):
    entity, id_ = _scenario(sandbox, name)
    live = client.read(entity, id_)
    documented = entity_of(fixture(f"{name}.json"), entity)
    _assert_same_shape(documented, live, EXTRA_KEYS.get(name, ()))


def test_recreated_bill_has_the_documented_amounts(sandbox, client):
    b = client.read(*_scenario(sandbox, "bill"))
    assert (b["TotalAmt"], b["Balance"]) == (205.0, 105.0) and b["LinkedTxn"][0]["TxnType"] == "BillPaymentCheck"


def test_recreated_invoice_has_the_documented_amounts(sandbox, client):
    inv = client.read(*_scenario(sandbox, "invoice"))
    assert inv["TotalAmt"] == Decimal("2369.52") and inv["Line"][-1]["Amount"] == Decimal("2194.0")
    assert inv["Balance"] == 0 and [l["TxnType"] for l in inv["LinkedTxn"]] == ["Payment", "Payment"]


def test_recreated_sub_customer_has_the_documented_hierarchy(sandbox, client):
    job = client.read(*_scenario(sandbox, "customer"))
    assert (job["Job"], job["Level"], job["FullyQualifiedName"]) == \
        (True, 1, "Freeman Sporting Goods:0969 Ocean View Road")


def test_account_preferences_and_company_info_have_the_documented_shape(sandbox, client):
    ap = next(iter(client.query("select * from Account where AccountType = 'Accounts Payable'")))
    _assert_same_shape(entity_of(fixture("account.json")), ap)
    prefs, documented = client.preferences(), entity_of(fixture("preferences.json"))
    assert set(prefs) == set(documented)
    assert set(prefs["AccountingInfoPrefs"]) == set(documented["AccountingInfoPrefs"]) - {"BookCloseDate"}
    assert set(prefs["CurrencyPrefs"]) == set(documented["CurrencyPrefs"])
    assert set(prefs["SalesFormsPrefs"]) == set(documented["SalesFormsPrefs"]) - {"DefaultTerms"}
    info, documented = client.company_info(), entity_of(fixture("companyinfo.json"))
    assert set(info) == set(documented) and set(info["CompanyAddr"]) == set(documented["CompanyAddr"])
    assert [n["Name"] for n in info["NameValue"]] == [n["Name"] for n in documented["NameValue"]]


def test_query_responses_have_the_documented_shape(sandbox, raw):
    v = vendor(sandbox)
    bill(sandbox, v)
    bill(sandbox, v)
    live = raw.query("select * from Bill maxresults 2").json()
    documented = fixture("query_response.json")
    assert set(live) == set(documented)
    assert set(live["QueryResponse"]) == set(documented["QueryResponse"]) - {"totalCount"}
    assert parse_query_response(live)[0] == parse_query_response(documented)[0] == "Bill"
    assert parse_query_response(live)[3] == 2 and parse_query_response(documented)[3] == 2
    count = raw.query("select count(*) from Bill").json()
    assert set(count["QueryResponse"]) == set(fixture("query_count.json")["QueryResponse"])


def test_cdc_responses_have_the_documented_shape(sandbox, raw, clock):
    v = vendor(sandbox)
    b = bill(sandbox, v)
    dead = bill(sandbox, v)
    sandbox.user_delete("Bill", dead["Id"])
    live = raw.get("cdc", entities="Bill,Vendor", changedSince="2023-11-14T00:00:00-08:00").json()
    documented = fixture("cdc_response.json")
    assert set(live) == set(documented)
    for group in live["CDCResponse"][0]["QueryResponse"]:
        assert {"startPosition", "maxResults"} <= set(group) <= {"Bill", "Vendor", "startPosition", "maxResults",
                                                                   "totalCount"}
    doc_stub = documented["CDCResponse"][0]["QueryResponse"][1]["Vendor"][1]
    live_stub = parse_cdc_response(live)["Bill"][-1]
    assert set(live_stub) == set(doc_stub) and set(live_stub["MetaData"]) == set(doc_stub["MetaData"])
    assert parse_cdc_response(live)["Bill"][0]["Id"] == b["Id"]
    assert set(parse_cdc_response(documented)) == {"Bill", "Vendor"}
    assert parse_cdc_response(fixture("cdc_empty.json")) == {}


def test_batch_responses_have_the_documented_shape(sandbox, raw):
    v = vendor(sandbox)
    b = bill(sandbox, v)
    sandbox.add("Term", {"Name": "Net 30", "DueDays": 30})
    request = fixture("batch_request.json")
    request["BatchItemRequest"][1]["Bill"]["Id"] = b["Id"]
    request["BatchItemRequest"][1]["Bill"]["SyncToken"] = "7"
    live = raw.post("batch", request).json()
    documented = fixture("batch_response.json")
    assert set(live) == set(documented)
    for live_item, doc_item in zip(live["BatchItemResponse"], documented["BatchItemResponse"]):
        assert set(live_item) == set(doc_item)
    live_fault = live["BatchItemResponse"][1]["Fault"]
    doc_fault = documented["BatchItemResponse"][1]["Fault"]
    assert set(live_fault) == set(doc_fault) and set(live_fault["Error"][0]) == set(doc_fault["Error"][0])
    items = [BatchItem("v1", "create", "Vendor", {}), BatchItem("b7", "update", "Bill", {}),
             BatchItem.query("q1", "select * from Term where Active = true")]
    parsed = parse_batch_response(live, items)
    assert isinstance(parsed["v1"], dict) and isinstance(parsed["b7"], StaleObject) and isinstance(parsed["q1"], list)


def test_faults_have_the_documented_shape(sandbox, raw):
    vendor(sandbox, "Taken")
    live = raw.post("customer", {"DisplayName": "Taken"}).json()
    documented = fixture("fault_duplicate_name.json")
    assert set(live) == set(documented) and live["Fault"] == documented["Fault"]
    assert type(find_fault(live)) is dict and find_fault(live) == find_fault(documented)
    unauth = requests.get(f"{sandbox.api_base}/preferences", timeout=5).json()
    doc401 = fixture("fault_401.json")
    assert set(unauth) == set(doc401) and set(unauth["fault"]["error"][0]) == set(doc401["fault"]["error"][0])
    assert find_fault(unauth)["Error"][0]["code"] == find_fault(doc401)["Error"][0]["code"] == "3200"
    assert re.match(r"message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    unauth["fault"]["error"][0]["message"])


def test_the_throttle_body_is_the_documented_xml(sandbox, raw):
    sandbox.inject("429")
    live = raw.get("preferences")
    documented = fixture("throttle_429.xml")
    strip_time = re.compile(r' time="[^"]*"')
    assert strip_time.sub("", live.text) == strip_time.sub("", documented.strip())
    assert parse_xml_fault(live.text) == parse_xml_fault(documented)
    assert parse_xml_fault(documented)["Error"][0]["code"] == "3001"


def test_the_token_response_has_the_documented_shape(sandbox, raw):
    live = raw.token({"grant_type": "refresh_token", "refresh_token": sandbox.initial_refresh_token}).json()
    documented = fixture("token_response.json")
    assert set(live) == set(documented) - {"id_token"}  # id_token only with the openid scope
    now = 1000.0
    assert parse_token_response(live, now).access_token_expires_at == now + 3600
    assert parse_token_response(documented, now).refresh_token_expires_at == now + 8726400


def test_a_fresh_fakeclock_sandbox_and_client_agree_on_time():
    clock_ = FakeClock(T0 + 12345)
    with QBOSandbox(clock=clock_) as sb:
        c = make_client(sb)
        v = c.create("Vendor", {"DisplayName": "Timed"}, request_id="timed-1")
        assert v["MetaData"]["CreateTime"] == "2023-11-14T17:39:05-08:00"
        c.session.close()
