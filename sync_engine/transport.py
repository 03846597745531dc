"""The HTTP session both clients use.

``new_session(base_url)`` answers the part of ``requests.Session`` the clients
call: ``request(method, url, params=, data=, json=, headers=, timeout=)``,
``get``, ``post`` and ``close``; the response has ``status_code``,
``headers`` (case-insensitive), ``content``, ``text`` and ``json()``. Errors
are the ``requests`` exceptions the clients catch (``ConnectionError``,
``Timeout``, ``ConnectTimeout``), so their retries and pacing stay where they
are.

By default it is ``UrllibSession``: ``urllib3`` (which ``requests`` is built on)
called directly, one keep-alive connection pool per host. Measured on the
benchmark's sandboxes (``python -m bench.transport_cpu``) it spends about a
third of the CPU per request that a ``requests.Session`` does, which is most of
the engine's CPU per record written where one record costs one request.
``requests`` remains, as ``new_session(base_url, kind="requests")`` and
whenever the environment names a proxy for ``base_url``.

What ``requests`` does that this session does not, on purpose: it follows no
redirect (an API answering a write with a redirect is an error to see, not a
GET to make silently), keeps no cookies (neither API uses them; each call
carries its credentials), and reads no ``.netrc``. Answers are read whole
(no streaming) and gzip/deflate bodies are decoded, as with ``requests``.
"""
import json as _json
import threading
import urllib.parse

import requests
import urllib3
from urllib3.util.url import parse_url
from urllib3.exceptions import (ConnectTimeoutError, HTTPError, NewConnectionError, ProtocolError,
                                ReadTimeoutError, SSLError)

USER_AGENT = f"billcom-qbo-sync urllib3/{urllib3.__version__}"
DEFAULT_POOL_SIZE = 10
_DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate", "User-Agent": USER_AGENT}


DEFAULT_KIND = "urllib3"   # "requests": every new session a requests.Session (to compare them)


def new_session(base_url, pool_maxsize=DEFAULT_POOL_SIZE, kind=None):
    """A keep-alive session for ``base_url``: ``UrllibSession`` unless ``kind`` (by
    default ``DEFAULT_KIND``) is ``"requests"`` or the environment sends
    ``base_url`` through a proxy."""
    kind = kind or DEFAULT_KIND
    proxies = requests.utils.get_environ_proxies(base_url)
    if kind == "requests" or proxies:
        return requests_session(base_url, pool_maxsize, proxies)
    return UrllibSession(pool_maxsize)


def requests_session(base_url, pool_maxsize=DEFAULT_POOL_SIZE, proxies=None):
    """A ``requests.Session`` that reads the proxy settings once, not on every
    request (requests looks them up in the environment each time, ~150 us a call)."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(base_url) if proxies is None else proxies)
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=pool_maxsize)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# what application/x-www-form-urlencoded leaves as it is (urllib.parse.quote_plus)
_FORM_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def _form_quote(value):
    """``urllib.parse.quote_plus`` of one value, a byte value at a time rather
    than a character at a time: a bulk call's ``data`` is 30 KB of JSON, which
    quote_plus walks in Python (1 ms a call against 0.35 ms here)."""
    raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
    unsafe = set(raw) - _FORM_SAFE
    if not unsafe:
        return raw.decode("ascii")
    if 0x25 in unsafe:  # "%" first: the escapes below bring their own
        raw = raw.replace(b"%", b"%25")
        unsafe.discard(0x25)
    space = 0x20 in unsafe
    unsafe.discard(0x20)
    for byte in unsafe:
        raw = raw.replace(bytes((byte,)), b"%%%02X" % byte)
    if space:  # after "+" became %2B
        raw = raw.replace(b" ", b"+")
    return raw.decode("ascii")


def form_encode(pairs):
    """``urllib.parse.urlencode(pairs, doseq=True)``: a list or tuple value is one pair per item."""
    return "&".join(f"{_form_quote(k)}={_form_quote(v)}" for k, value in pairs
                    for v in (value if isinstance(value, (list, tuple)) else (value,)))


class Response:
    """The answer, read whole."""

    __slots__ = ("status_code", "headers", "content", "url", "reason", "_text")

    def __init__(self, status_code, headers, content, url, reason):
        self.status_code, self.headers, self.content, self.url, self.reason = (status_code, headers, content, url,
                                                                               reason)
        self._text = None

    @property
    def ok(self):
        return self.status_code < 400

    @property
    def encoding(self):
        content_type = self.headers.get("Content-Type") or ""
        for part in content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("'\"")
        return None

    @property
    def text(self):
        if self._text is None:
            try:
                self._text = self.content.decode(self.encoding or "utf-8", errors="replace")
            except LookupError:   # an unknown charset name
                self._text = self.content.decode("utf-8", errors="replace")
        return self._text

    def json(self, **kwargs):
        """The decoded JSON answer; ``ValueError`` when it is not JSON (as with requests)."""
        if self._text is None and self.encoding in (None, "utf-8", "UTF-8"):
            return _json.loads(self.content, **kwargs)   # bytes: json detects UTF-8/16/32 itself
        return _json.loads(self.text, **kwargs)

    def raise_for_status(self):
        if self.status_code >= 400:
            raise requests.HTTPError(f"HTTP {self.status_code} {self.reason} for {self.url}", response=self)

    def __repr__(self):
        return f"<Response [{self.status_code}]>"


class UrllibSession:
    """``urllib3.PoolManager`` behind the ``requests.Session`` calls the clients make
    (see the module docstring). Thread-safe: each pool hands one connection to
    one request at a time."""

    def __init__(self, pool_maxsize=DEFAULT_POOL_SIZE):
        self.pool = urllib3.PoolManager(num_pools=10, maxsize=pool_maxsize, block=False, retries=False)
        self.headers = dict(_DEFAULT_HEADERS)
        self._timeouts = {}
        self._lock = threading.Lock()

    def _timeout(self, timeout):
        found = self._timeouts.get(timeout)
        if found is None:
            if isinstance(timeout, tuple):
                found = urllib3.Timeout(connect=timeout[0], read=timeout[1])
            else:
                found = urllib3.Timeout(connect=timeout, read=timeout)
            with self._lock:
                self._timeouts[timeout] = found
        return found

    def _pool_and_target(self, url):
        """The host's connection pool and the request target ("/path?query").
        Split here rather than in ``PoolManager.urlopen``: it parses the whole
        URL and the host's pool then encodes the target again, each a Python
        loop over every character of a query that holds a percent sign (a
        Bill.com list asking for 100 ids by a filter is 3,000 of them)."""
        parts = urllib.parse.urlsplit(url)
        if not parts.scheme or not parts.netloc:
            raise requests.exceptions.InvalidURL(f"not an absolute URL: {url}")
        origin = parse_url(f"{parts.scheme}://{parts.netloc}")   # host and port as the PoolManager reads them
        pool = self.pool.connection_from_host(origin.host, port=origin.port, scheme=origin.scheme)
        target = parts.path or "/"
        return pool, (f"{target}?{parts.query}" if parts.query else target)

    def request(self, method, url, params=None, data=None, json=None, headers=None, timeout=None, **unsupported):
        if unsupported:
            raise TypeError(f"UrllibSession.request() does not take {', '.join(sorted(unsupported))}")
        all_headers = dict(self.headers)
        if headers:
            all_headers.update((k, v) for k, v in headers.items() if v is not None)
        if params:
            pairs = [(k, v) for k, v in (params.items() if hasattr(params, "items") else params) if v is not None]
            if pairs:
                # the query goes before any fragment, which is never sent (as requests does)
                url = url.partition("#")[0]
                url += ("&" if "?" in url else "?") + urllib.parse.urlencode(pairs, doseq=True)
        body = None
        if data is not None and data != {}:
            if isinstance(data, (dict, list, tuple)):
                pairs = data.items() if isinstance(data, dict) else data
                body = form_encode((k, v) for k, v in pairs if v is not None)
                all_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
            else:
                body = data
        elif json is not None:
            body = _json.dumps(json, allow_nan=False)
            all_headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body is None and method in ("POST", "PUT", "PATCH"):
            body = b""   # a Content-Length of 0, as requests sends
        pool, target = self._pool_and_target(url)
        try:
            answer = pool.urlopen(method, target, body=body, headers=all_headers, redirect=False,
                                  assert_same_host=False, retries=False, timeout=self._timeout(timeout),
                                  preload_content=True)
        except NewConnectionError as exc:   # refused (urllib3 1.26 makes it a ConnectTimeoutError too)
            raise requests.ConnectionError(exc) from exc
        except ConnectTimeoutError as exc:
            raise requests.ConnectTimeout(exc) from exc
        except ReadTimeoutError as exc:
            raise requests.ReadTimeout(exc) from exc
        except SSLError as exc:
            raise requests.exceptions.SSLError(exc) from exc
        except (ProtocolError, HTTPError, OSError) as exc:
            raise requests.ConnectionError(exc) from exc
        return Response(answer.status, answer.headers, answer.data or b"", url, answer.reason)

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)

    def put(self, url, **kwargs):
        return self.request("PUT", url, **kwargs)

    def patch(self, url, **kwargs):
        return self.request("PATCH", url, **kwargs)

    def delete(self, url, **kwargs):
        return self.request("DELETE", url, **kwargs)

    def close(self):
        self.pool.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
