"""The QuickBooks Online sandbox's HTTP side: routes, the control endpoints,
injected faults, OAuth 2.0 (authorize, token exchange and refresh with
rotation, revoke), bearer checks, the rate limits and the accounting API's
dispatch with ``requestid`` replay."""
import base64
import json
import secrets
import urllib.parse

from .httpserver import Response, _DropConnection
from .qbo_common import SINGLETONS, STALE_DETAIL, QBOFault, _required, _unsupported, canonical_entity

THROTTLE_XML = (
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{time}">\n'
    '  <Fault type="SERVICE"><Error code="3001">\n'
    '    <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n'
    '    <Detail>The request limit was reached.  Try again later</Detail>\n'
    '  </Error></Fault></IntuitResponse>')


class HttpMixin:
    """Routes, OAuth, limits and the API dispatch of ``QBOSandbox``."""

    # ======================================================== HTTP routing
    def setup_routes(self):
        self.route("GET", r"/oauth2/authorize", self._http_authorize)
        self.route("POST", r"/oauth2/v1/tokens/bearer", self._http_token)
        self.route("POST", r"/v2/oauth2/tokens/revoke", self._http_revoke)
        self.route("GET", r"/v3/company/(?P<realm>[^/]+)/(?P<rest>.+)", self._http_api)
        self.route("POST", r"/v3/company/(?P<realm>[^/]+)/(?P<rest>.+)", self._http_api)

    def control(self, request):
        path, method = request.path, request.method
        try:
            if path == "/_sandbox/state" and method == "GET":
                return Response(200, self.snapshot())
            if path == "/_sandbox/credentials" and method == "GET":
                return Response(200, self.credentials())
            if path == "/_sandbox/expire_tokens" and method == "POST":
                self.expire_access_tokens()
                return Response(200, {"expired": True})
            if path == "/_sandbox/revoke_tokens" and method == "POST":
                self.revoke_all_tokens()
                return Response(200, {"revoked": True})
            if path == "/_sandbox/preferences" and method == "POST":
                return Response(200, self.set_preferences(**(request.json() or {})))
            body = request.json() or {}
            if path == "/_sandbox/records" and method == "POST":
                return Response(200, self.add(body["entity"], body["record"]))
            if path == "/_sandbox/user_update" and method == "POST":
                return Response(200, self.user_update(body["entity"], body["id"], body.get("changes") or {}))
            if path == "/_sandbox/user_delete" and method == "POST":
                return Response(200, self.user_delete(body["entity"], body["id"]))
        except QBOFault as fault:
            return Response(fault.status, {"Fault": fault.fault(), "time": self._time()})
        return self.not_found(request)

    def fault_response(self, kind, request):
        if kind in ("429", "throttle_xml"):
            return self._throttle_response(429)
        if kind == "throttle_403":
            return self._throttle_response(403)
        if kind == "expired_token":
            return Response(401, self._auth_fault_body(
                f"Token expired: {self._time()}"))
        if kind == "stale":
            return self._fault(QBOFault("5010", "Stale Object Error", STALE_DETAIL))
        if kind == "server_fault":
            return self._fault(QBOFault("10000", "An application error has occurred while processing your request",
                                        "System Failure Error: An unexpected error occurred while accessing or "
                                        "saving your data. Please wait a few minutes and try again.",
                                        fault_type="SystemFault", status=500))
        if kind == "fault_in_200":
            fault = QBOFault("6000", "A business validation error has occurred while processing your request",
                             "Business Validation Error: injected")
            return Response(200, {"Fault": fault.fault(), "time": self._time()})
        if kind == "echo_request":
            # a gateway that answers a token request with the request itself in the error:
            # its headers (the Basic credential too), that credential alone and the form
            authorization = request.headers.get("authorization", "")
            echoed = json.dumps(request.headers, sort_keys=True)
            return Response(400, {"error": "invalid_request", "error_description": (
                f"Request rejected. Received headers: {echoed}; credentials: {authorization.partition(' ')[2]}; "
                f"body: {request.body.decode('utf-8', 'replace')}")})
        if kind == "commit_then_drop":
            # the work is done and stored, then the connection drops before the answer
            response = self.dispatch(request)
            self.log(request.method, request.path, urllib.parse.urlencode(request.query, doseq=True),
                     response.status, kind)
            raise _DropConnection()
        return super().fault_response(kind, request)

    # ------------------------------------------------------------- pieces
    def _fault(self, fault):
        return Response(fault.status, {"Fault": fault.fault(), "time": self._time()})

    def _throttle_response(self, status):
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return Response(status, THROTTLE_XML.format(time=self._time()), headers=headers,
                        content_type="application/xml")

    def _auth_fault_body(self, detail, code="3200", status=401, kind="AuthenticationFailed",
                         fault_type="AUTHENTICATION"):
        return {"warnings": None, "intuitObject": None,
                "fault": {"error": [{"message": f"message={kind}; errorCode={int(code):06d}; statusCode={status}",
                                     "detail": detail, "code": code, "element": None}],
                          "type": fault_type},
                "report": None, "queryResponse": None, "batchItemResponse": [], "attachableResponse": [],
                "syncErrorResponse": None, "requestId": None, "time": int(self.clock.now() * 1000),
                "status": None, "cdcresponse": []}
    # =============================================================== OAuth
    def _new_grant(self):
        self._grant_seq += 1
        return self._grant_seq

    def _issue_access_token(self, grant):
        token = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(96)
        self._access[token] = {"grant": grant, "expires_at": self.clock.now() + self.access_token_lifetime}
        return token

    def _issue_refresh_token(self, grant, hard_expires_at=None):
        token = f"RT1-{secrets.randbelow(90) + 10}-H0-{int(self.clock.now())}{secrets.token_hex(10)}"
        now = self.clock.now()
        hard = hard_expires_at if hard_expires_at is not None else now + self.refresh_token_hard_expires_in
        self._refresh[token] = {"grant": grant, "expires_at": min(now + self.refresh_token_lifetime, hard),
                                "hard_expires_at": hard}
        return token

    def _http_authorize(self, request):
        if request.param("client_id") != self.client_id:
            return Response(400, {"error": "invalid_client", "error_description": "Unknown client_id"})
        redirect_uri = request.param("redirect_uri")
        if not redirect_uri:
            return Response(400, {"error": "invalid_request", "error_description": "redirect_uri is required"})
        params = {"state": request.param("state", "")}
        scopes = (request.param("scope") or "").split()
        if request.param("response_type") != "code":
            params["error"] = "unsupported_response_type"
        elif "com.intuit.quickbooks.accounting" not in scopes:
            params["error"] = "invalid_scope"
        elif self.authorize_outcome == "deny":
            params["error"] = "access_denied"
        else:
            code = "AB" + secrets.token_urlsafe(36)
            with self.lock:
                self._codes[code] = {"redirect_uri": redirect_uri,
                                     "expires_at": self.clock.now() + self.auth_code_lifetime}
            params = {"code": code, "state": params["state"], "realmId": self.realm_id}
        separator = "&" if "?" in redirect_uri else "?"
        return Response(302, None, headers={"Location": redirect_uri + separator + urllib.parse.urlencode(params)})

    def _client_authenticated(self, request, form):
        header = request.headers.get("authorization", "")
        client_id = client_secret = None
        if header.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
        else:
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        return (secrets.compare_digest(str(client_id or ""), self.client_id)
                and secrets.compare_digest(str(client_secret or ""), self.client_secret))

    def _http_token(self, request):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(request.body.decode("utf-8", "replace")).items()}
        if not self._client_authenticated(request, form):
            return Response(401, {"error": "invalid_client"})
        grant_type = form.get("grant_type")
        now = self.clock.now()
        with self.lock:
            if grant_type == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)
                if not code or code["expires_at"] <= now or code["redirect_uri"] != form.get("redirect_uri"):
                    return Response(400, {"error": "invalid_grant"})
                grant = self._new_grant()
                access = self._issue_access_token(grant)
                refresh = self._issue_refresh_token(grant)
            elif grant_type == "refresh_token":
                old_token = form.get("refresh_token", "")
                record = self._refresh.get(old_token)
                if not record or record["expires_at"] <= now or record["hard_expires_at"] <= now:
                    self._refresh.pop(old_token, None)
                    return Response(400, {"error": "invalid_grant",
                                          "error_description": "Incorrect or invalid refresh token"})
                grant = record["grant"]
                access = self._issue_access_token(grant)
                if self.rotate_refresh_token:
                    del self._refresh[old_token]
                    refresh = self._issue_refresh_token(grant, record["hard_expires_at"])
                else:
                    refresh = old_token
                    record["expires_at"] = min(now + self.refresh_token_lifetime, record["hard_expires_at"])
            else:
                return Response(400, {"error": "unsupported_grant_type"})
            record = self._refresh[refresh]
            body = {"token_type": "bearer", "access_token": access, "expires_in": self.access_token_lifetime,
                    "refresh_token": refresh, "x_refresh_token_expires_in": int(record["expires_at"] - now)}
            if request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true":
                body["x_refresh_token_hard_expires_in"] = int(record["hard_expires_at"] - now)
        return Response(200, body, headers={"Cache-Control": "no-store"})

    def _http_revoke(self, request):
        if not self._client_authenticated(request, {}):
            return Response(401, {"error": "invalid_client"})
        try:
            token = (json.loads(request.body or b"{}") or {}).get("token", "")
        except ValueError:
            return Response(400, {"error": "invalid_request"})
        with self.lock:
            record = self._refresh.get(token) or self._access.get(token)
            if record:
                grant = record["grant"]
                for store in (self._refresh, self._access):
                    for key in [k for k, v in store.items() if v["grant"] == grant]:
                        del store[key]
        return Response(200, None)

    def _bearer_problem(self, request, realm):
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return Response(401, self._auth_fault_body(None))
        token = header[7:].strip()
        with self.lock:
            record = self._access.get(token)
            if record is None:
                detail = None if len(token) > 40 else "Malformed bearer token: too short or too long"
                return Response(401, self._auth_fault_body(detail))
            if record["expires_at"] <= self.clock.now():
                return Response(401, self._auth_fault_body(f"Token expired: {self._time()}"))
        if realm != self.realm_id:
            return Response(403, self._auth_fault_body(None, code="3100", status=403, kind="AuthorizationFailed",
                                                       fault_type="AUTHORIZATION"))
        return None

    # =============================================================== limits
    def _admit(self, is_batch):
        """Sliding windows per realm; a throttled request does no work and is not counted."""
        now = self.clock.now()
        slack = self.limit_tolerance

        def full(hits, count, seconds):
            while hits and hits[0] <= now - 60 + slack:
                hits.popleft()
            if seconds >= 60:
                return len(hits) >= count
            recent = 0
            for t in reversed(hits):
                if t <= now - seconds + slack:
                    break
                recent += 1
                if recent >= count:
                    return True
            return False

        if full(self._hits, self.rate_per_minute, 60) or full(self._hits, self.rate_per_second, 1):
            return False
        if is_batch and full(self._batch_hits, self.batch_per_minute, 60):
            return False
        self._hits.append(now)
        if is_batch:
            self._batch_hits.append(now)
        return True

    # ================================================================= API
    def _http_api(self, request):
        realm = request.match.group("realm")
        parts = [p for p in request.match.group("rest").split("/") if p]
        head = parts[0].lower() if parts else ""
        if self.enforce_limits:
            with self.lock:
                admitted = self._admit(request.method == "POST" and head == "batch")
                if not admitted:
                    self.throttled += 1
            if not admitted:
                return self._throttle_response(429)
        problem = self._bearer_problem(request, realm)
        if problem is not None:
            return problem
        with self.lock:
            is_write = request.method == "POST" and head != "query"
            request_id = request.param("requestid") if is_write else None
            if request_id:
                stored = self._replays.get(request_id)
                if stored and stored[0] > self.clock.now():
                    _, status, body, content_type = stored
                    return Response(status, body, content_type=content_type)
            try:
                response = self._api_route(request, parts, head)
            except QBOFault as fault:
                response = self._fault(fault)
            if request_id and response.status < 500:
                if len(self._replays) >= 100_000:
                    now = self.clock.now()
                    self._replays = {k: v for k, v in self._replays.items() if v[0] > now}
                self._replays[request_id] = (self.clock.now() + self.requestid_retention, response.status,
                                             response.encoded().decode("utf-8"), response.content_type)
            return response

    def _api_route(self, request, parts, head):
        method = request.method
        if head == "query":
            if method == "GET":
                text = request.param("query")
            else:
                text = request.body.decode("utf-8", "replace")
            if not text:
                raise _required("query")
            return self._ok({"QueryResponse": self._query(text)})
        if head == "cdc" and method == "GET":
            return self._ok(self._cdc(request.param("entities"), request.param("changedSince")))
        if head == "batch" and method == "POST":
            return self._ok(self._batch(self._json(request)))
        entity = canonical_entity(head)
        if not entity:
            return Response(404, {"Fault": {"Error": [{"Message": "Resource not found", "Detail":
                                                       f"No resource {head}", "code": "404", "element": ""}],
                                            "type": "ValidationFault"}, "time": self._time()})
        if method == "GET":
            if entity in SINGLETONS:
                return self._ok({entity: self._data[entity]["1"]})
            if len(parts) < 2:
                raise _required("Id")
            return self._ok({entity: self._stored(entity, parts[1])})
        # POST: create / update / delete / void
        body = self._json(request)
        operation = (request.param("operation") or "").lower()
        include = (request.param("include") or "").lower()
        if entity == "Preferences":
            return self._ok({entity: self._update_preferences(body)})
        if entity == "CompanyInfo":
            return self._ok({entity: self._update(entity, body)})
        if operation == "delete":
            return self._ok({entity: self._delete(entity, body)})
        if operation == "void" or (operation == "update" and include == "void"):
            return self._ok({entity: self._void(entity, body)})
        if operation not in ("", "create", "update"):
            raise _unsupported(f"Operation {operation} is not supported.")
        if body.get("Id") not in (None, ""):
            return self._ok({entity: self._update(entity, body)})
        return self._ok({entity: self._create(entity, body)})

    def _ok(self, payload):
        payload["time"] = self._time()
        return Response(200, payload)

    def _json(self, request):
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body else None
        except (ValueError, UnicodeDecodeError):
            raise QBOFault("2010", "Request has invalid or unsupported property",
                           "Error parsing object: the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise QBOFault("2010", "Request has invalid or unsupported property",
                           "The request body must be a JSON object")
        return body
