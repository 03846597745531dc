"""The HTTP plumbing both sandboxes share.

A real ``ThreadingHTTPServer`` on 127.0.0.1 (ephemeral port by default) that
  * dispatches to a route table of ``(method, regex) -> handler``,
  * logs every request (method, path, query, status) for tests to assert on,
  * injects faults for the next N matching requests (429, 5xx, a timeout,
    a dropped connection, malformed JSON, or a sandbox-specific kind such as
    an expired token or session), from Python or over HTTP,
  * adds a fixed per-request latency.

Control endpoints (not part of either real API) live under ``/_sandbox/``:
  ``GET /_sandbox/requests``, ``DELETE /_sandbox/requests``,
  ``POST /_sandbox/faults`` ``{"kind", "count", "method", "path"}``,
  ``POST /_sandbox/latency`` ``{"seconds"}``.
"""
import json
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ..pacing import Clock

GENERIC_FAULTS = ("429", "500", "502", "503", "timeout", "drop", "malformed_json", "html")


@dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    match: object = None

    def json(self):
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def param(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: object = None  # dict/list -> JSON; str/bytes -> sent as is
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self):
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int
    at: float
    fault: str = None

    def as_dict(self):
        return {"method": self.method, "path": self.path, "query": self.query,
                "status": self.status, "at": self.at, "fault": self.fault}


@dataclass
class Fault:
    kind: str
    count: int = 1
    method: str = None
    path: str = None  # regex searched in the request path

    def matches(self, method, path):
        if self.method and self.method.upper() != method:
            return False
        if self.path and not re.search(self.path, path):
            return False
        return True


class _DropConnection(Exception):
    pass


class SandboxServer:
    """Base class: subclasses register routes in ``setup_routes`` and may
    override ``fault_response`` for their own wire format of a fault."""

    name = "sandbox"

    def __init__(self, host="127.0.0.1", port=0, latency=0.0, clock=None,
                 timeout_fault_seconds=5.0):
        self.host = host
        self.port = port
        self.latency = latency
        self.clock = clock or Clock()
        self.timeout_fault_seconds = timeout_fault_seconds
        self.routes = []
        self.requests = []
        self.faults = []
        self.after_dispatch = None  # callable(request, response): a test's hook, e.g. to kill a client
        self.lock = threading.RLock()  # guards the sandbox's state
        self._log_lock = threading.Lock()
        self._httpd = None
        self._thread = None
        self.setup_routes()

    # ----------------------------------------------------------- lifecycle
    @property
    def base_url(self):
        return f"http://{self.host}:{self.port}"

    def start(self):
        server = self

        class Handler(_Handler):
            sandbox = server

        self._httpd = _Server((self.host, self.port), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{self.name}-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    # what keeps serving across ``reset``: the address, the routes, the locks, the thread
    _SERVING = frozenset({"host", "port", "routes", "lock", "_log_lock", "_gate_lock", "_httpd", "_thread"})

    def reset(self, **options):
        """Start over while the server keeps running on its address: the
        records, credentials, tokens, faults and request log of a sandbox just
        built with ``options`` (the constructor's keywords), on the same clock."""
        fresh = type(self)(clock=self.clock, **options)
        with self.lock, self._log_lock:
            for name in set(vars(self)) - set(vars(fresh)) - self._SERVING:
                delattr(self, name)  # e.g. a class setting a test changed on this sandbox
            for name, value in vars(fresh).items():
                if name not in self._SERVING:
                    setattr(self, name, value)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -------------------------------------------------------------- routes
    def setup_routes(self):
        pass

    def route(self, method, pattern, handler):
        self.routes.append((method, re.compile("^" + pattern + "$"), handler))

    # ------------------------------------------------------- fault control
    def inject(self, kind, count=1, method=None, path=None):
        """Make the next ``count`` requests matching method/path fail with ``kind``."""
        with self._log_lock:
            self.faults.append(Fault(kind, count, method, path))

    def clear_faults(self):
        with self._log_lock:
            self.faults.clear()

    def _take_fault(self, method, path):
        with self._log_lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(method, path):
                    fault.count -= 1
                    kind = fault.kind
                    self.faults = [f for f in self.faults if f.count > 0]
                    return kind
        return None

    def fault_response(self, kind, request):
        """Wire format of a generic fault; sandboxes override for their own kinds."""
        if kind in ("500", "502", "503"):
            return Response(int(kind), {"error": "injected server error"})
        if kind == "429":
            return Response(429, {"error": "too many requests"})
        if kind == "malformed_json":
            return Response(200, '{"this is": not json', content_type="application/json")
        if kind == "html":
            return Response(502, "<html><body>Bad Gateway</body></html>", content_type="text/html")
        raise ValueError(f"unknown fault kind {kind!r}")

    # ---------------------------------------------------------- request log
    def log(self, method, path, query, status, fault=None):
        with self._log_lock:
            self.requests.append(LoggedRequest(method, path, query, status, time.time(), fault))

    def request_log(self):
        with self._log_lock:
            return list(self.requests)

    def clear_log(self):
        with self._log_lock:
            self.requests.clear()

    def writes(self):
        """Logged requests that could change state (POST/PUT/PATCH/DELETE),
        leaving out logins and OAuth token calls, which change no record."""
        return [r for r in self.request_log()
                if r.method in ("POST", "PUT", "PATCH", "DELETE") and not self.is_auth_path(r.path)]

    def is_auth_path(self, path):
        return False

    # ------------------------------------------------------------ dispatch
    def dispatch(self, request):
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        for method, regex, handler in self.routes:
            if method != request.method:
                continue
            match = regex.match(request.path)
            if match:
                request.match = match
                return handler(request)
        return self.not_found(request)

    def not_found(self, request):
        return Response(404, {"error": f"no route for {request.method} {request.path}"})

    def _control(self, request):
        path = request.path
        if path == "/_sandbox/requests" and request.method == "GET":
            return Response(200, {"requests": [r.as_dict() for r in self.request_log()]})
        if path == "/_sandbox/requests" and request.method == "DELETE":
            self.clear_log()
            return Response(200, {"cleared": True})
        if path == "/_sandbox/faults" and request.method == "POST":
            body = request.json() or {}
            self.inject(body["kind"], int(body.get("count", 1)), body.get("method"), body.get("path"))
            return Response(200, {"injected": body})
        if path == "/_sandbox/faults" and request.method == "DELETE":
            self.clear_faults()
            return Response(200, {"cleared": True})
        if path == "/_sandbox/latency" and request.method == "POST":
            self.latency = float((request.json() or {}).get("seconds", 0))
            return Response(200, {"latency": self.latency})
        return self.control(request)

    def control(self, request):
        """Sandbox-specific control endpoints."""
        return self.not_found(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # read when the socket starts listening


class _Handler(BaseHTTPRequestHandler):
    sandbox = None
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # answer in one segment: no Nagle delay between headers and body
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _serve(self):
        sandbox = self.sandbox
        parsed = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(self.command, parsed.path, urllib.parse.parse_qs(parsed.query),
                          {k.lower(): v for k, v in self.headers.items()}, body)
        control = parsed.path.startswith("/_sandbox/")
        if sandbox.latency and not control:
            time.sleep(sandbox.latency)
        fault = None if control else sandbox._take_fault(self.command, parsed.path)
        try:
            if fault == "drop":
                sandbox.log(self.command, parsed.path, parsed.query, 0, fault)
                raise _DropConnection()
            if fault == "timeout":
                sandbox.log(self.command, parsed.path, parsed.query, 0, fault)
                time.sleep(sandbox.timeout_fault_seconds)
                raise _DropConnection()
            if fault:
                response = sandbox.fault_response(fault, request)
            else:
                try:
                    response = sandbox.dispatch(request)
                except Exception as exc:  # a sandbox bug must still answer like a server
                    response = Response(500, {"error": f"sandbox error: {exc!r}"})
                if sandbox.after_dispatch and not control:
                    sandbox.after_dispatch(request, response)
            if not control:
                sandbox.log(self.command, parsed.path, parsed.query, response.status, fault)
            payload = response.encoded()
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for key, value in response.headers.items():
                self.send_header(key, value)
            self._headers_buffer.append(b"\r\n")
            self._headers_buffer.append(payload)
            self.wfile.write(b"".join(self._headers_buffer))
            self._headers_buffer = []
        except _DropConnection:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
