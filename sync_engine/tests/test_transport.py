"""The session both clients use: what it sends and what it answers, as requests would."""
import json
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from sync_engine.transport import UrllibSession, form_encode, new_session


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path.startswith("/latin1"):
            data = "Café".encode("latin-1")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=ISO-8859-1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        data = json.dumps({"method": self.command, "path": self.path, "body": body.decode("utf-8"),
                           "headers": {k.lower(): v for k, v in self.headers.items()},
                           "amount": 12.30}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Request-Id", "abc")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def session():
    s = UrllibSession()
    yield s
    s.close()


def test_new_session_is_urllib3_unless_asked_or_proxied(monkeypatch):
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert isinstance(new_session("http://127.0.0.1:1"), UrllibSession)
    assert isinstance(new_session("http://127.0.0.1:1", kind="requests"), requests.Session)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert isinstance(new_session("https://gateway.prod.bill.com/connect"), requests.Session)


def test_params_json_and_headers_as_requests_sends_them(server, session):
    answer = session.request("GET", server + "/v3/vendors", params={"max": 100, "page": None, "q": "a b&c"},
                             headers={"devKey": "k", "Accept": "application/json"}, timeout=5)
    echo = answer.json()
    assert answer.status_code == 200 and answer.ok
    assert echo["path"] == "/v3/vendors?max=100&q=a+b%26c"   # None left out, as requests does
    assert echo["headers"]["devkey"] == "k" and echo["headers"]["accept"] == "application/json"
    assert "gzip" in echo["headers"]["accept-encoding"]
    assert answer.headers["x-request-id"] == "abc"            # headers are case-insensitive

    posted = session.post(server + "/v3/customers", json={"name": "Café Noir"}, timeout=5).json()
    assert json.loads(posted["body"]) == {"name": "Café Noir"}
    assert posted["headers"]["content-type"] == "application/json"


def test_a_long_filtered_list_and_odd_paths_arrive_as_requests_sends_them(server, session):
    # a Bill.com read-back of 100 ids: quotes, colons and commas in one long query
    ids = [f"00n01ABCDEFGH{i:05d}" for i in range(100)]
    params = {"max": 100, "filters": 'id:in:"' + ",".join(ids) + '"', "sort": "createdTime:asc"}
    ours = session.request("GET", server + "/v3/bills", params=params, timeout=5).json()["path"]
    with requests.Session() as reference:
        theirs = reference.get(server + "/v3/bills", params=params, timeout=5).json()["path"]
    assert ours == theirs and urllib.parse.parse_qs(urllib.parse.urlsplit(ours).query)["filters"] == [
        params["filters"]]
    # a path with a space and a query already in the URL, and no path at all
    assert session.get(server + "/v3/a b/c?x=1", params={"y": "2"}, timeout=5).json()["path"] == \
        "/v3/a%20b/c?x=1&y=2"
    assert session.get(server, timeout=5).json()["path"] == "/"
    # a fragment is not sent, and the parameters still are
    with requests.Session() as reference:
        theirs = reference.get(server + "/v3/a?x=1#top", params={"y": "2"}, timeout=5).json()["path"]
    assert session.get(server + "/v3/a?x=1#top", params={"y": "2"}, timeout=5).json()["path"] == theirs == \
        "/v3/a?x=1&y=2"
    assert session.get(server + "/v3/a#top", timeout=5).json()["path"] == "/v3/a"
    with pytest.raises(requests.exceptions.InvalidURL):
        session.get("/v3/bills", timeout=5)


def test_form_and_text_bodies(server, session):
    form = session.post(server + "/token", data={"grant_type": "refresh_token", "refresh_token": "r/t"},
                        timeout=5).json()
    assert form["body"] == "grant_type=refresh_token&refresh_token=r%2Ft"
    assert form["headers"]["content-type"] == "application/x-www-form-urlencoded"
    text = session.request("POST", server + "/query", data="select * from Term",
                           headers={"Content-Type": "application/text"}, timeout=5).json()
    assert text["body"] == "select * from Term" and text["headers"]["content-type"] == "application/text"
    empty = session.request("POST", server + "/nothing", timeout=5).json()
    assert empty["headers"]["content-length"] == "0"


@pytest.mark.parametrize("value", [
    "", "plain-Text_1.0~", "a b+c%d&e=f/g?h#i", "%%++  %20", "Café Noir — 5 €, 𝄞", "\x00\x7f\n\t\"'<>",
    json.dumps([{"entity": "Bill", "invoiceNumber": "INV 7/8", "amount": "12.30", "description": "50% + tax"}]),
    12.3, b"r/t +"])
def test_a_form_is_encoded_as_urlencode_encodes_it(value):
    pairs = [("data", value), ("devKey", "k&k"), ("many", ["1 2", "3"])]
    assert form_encode(pairs) == urllib.parse.urlencode(pairs, doseq=True)
    assert urllib.parse.parse_qsl(form_encode([("data", value)]), keep_blank_values=True) == [
        ("data", value.decode() if isinstance(value, bytes) else str(value))]


def test_answers_decode_like_requests(server, session):
    from decimal import Decimal
    answer = session.get(server + "/x", timeout=5)
    assert answer.json(parse_float=Decimal)["amount"] == Decimal("12.3")
    assert session.get(server + "/latin1", timeout=5).text == "Café"
    with pytest.raises(ValueError):
        session.get(server + "/latin1", timeout=5).json()


def test_redirects_are_answers_not_followed(server, session):
    answer = session.post(server + "/redirect", json={}, timeout=5)
    assert answer.status_code == 302 and answer.headers["Location"] == "/elsewhere"


def test_errors_are_the_requests_exceptions_the_clients_catch(session):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(requests.ConnectionError) as refused:
        session.get(f"http://127.0.0.1:{port}/", timeout=2)
    assert "NewConnectionError" in repr(refused.value)   # what the Bill.com client reads as "never sent"

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        with pytest.raises(requests.Timeout) as slow:
            session.get(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=0.3)
        assert not isinstance(slow.value, requests.ConnectTimeout)
    finally:
        listener.close()


def test_unsupported_arguments_fail_loudly(server, session):
    with pytest.raises(TypeError):
        session.get(server + "/x", timeout=5, stream=True)
