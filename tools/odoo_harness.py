"""What the Odoo proofs and benchmarks share: an Odoo 19 server of their own
in a new database, JSON-RPC, and the sandboxes in a process of their own.

Odoo is found as ``.ci/odoo-tests`` finds it: ``ODOO_PYTHON`` (a Python that
imports odoo 19), ``ODOO_ROOT`` for a source tree; PostgreSQL at
``ODOO_DB_HOST`` (127.0.0.1) as ``ODOO_DB_USER`` (the current user).
"""
import contextlib
import getpass
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests

REPO = pathlib.Path(__file__).resolve().parent.parent
ADMIN = ("admin", "admin")  # a new database's administrator
FINISHED = ("done", "partial", "failed", "interrupted")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Odoo:
    """An Odoo 19 server of its own (and its database), stopped by ``stop``."""

    def __init__(self, python, root, db_host, db_user):
        self.python, self.db_host, self.db_user = python, db_host, db_user
        self.env = dict(os.environ)
        if root:
            self.env["PYTHONPATH"] = root + os.pathsep + self.env.get("PYTHONPATH", "")
        odoo_root = subprocess.check_output(
            [python, "-c", "import odoo, os; print(os.path.dirname(list(odoo.__path__)[0]))"],
            env=self.env, text=True).strip()
        self.odoo_root = odoo_root
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="bqs-proof-"))
        (self.work / "addons").mkdir()
        (self.work / "addons" / "billcom_qbo_sync").symlink_to(REPO)
        self.addons = f"{odoo_root}/addons,{odoo_root}/odoo/addons,{self.work / 'addons'}"
        self.db = f"bqs_proof_{os.getpid()}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log = self.work / "odoo.log"

    def _command(self, *extra):
        # odoo-bin when there is one: workers that restart re-run the command
        # that started the server, and ``-m odoo`` cannot be re-run as a script
        odoo_bin = pathlib.Path(self.odoo_root) / "odoo-bin"
        start = [self.python, str(odoo_bin)] if odoo_bin.exists() else [self.python, "-m", "odoo"]
        return [*start, f"--addons-path={self.addons}", "-d", self.db,
                f"--db-filter=^{self.db}$", f"--db_host={self.db_host}", f"--db_user={self.db_user}",
                "--http-interface=127.0.0.1", f"--http-port={self.port}", f"--gevent-port={free_port()}", f"--data-dir={self.work / 'data'}",
                *extra]

    def install(self):
        say(f"Installing the add-on in a new database {self.db} ...")
        with open(self.log, "ab") as log:
            subprocess.run(self._command("-i", "billcom_qbo_sync", "--without-demo=all", "--stop-after-init"),
                           env=self.env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=900)

    def start(self, *options):
        say("Starting Odoo: " + " ".join(options))
        log = open(self.log, "ab")
        self.process = subprocess.Popen(self._command(*options), env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                requests.post(f"{self.url}/jsonrpc", timeout=5, json={"jsonrpc": "2.0", "method": "call", "params": {
                    "service": "common", "method": "version", "args": []}}).raise_for_status()
                return
            except requests.RequestException:
                time.sleep(1)
        raise RuntimeError(f"Odoo did not answer within 2 minutes; see {self.log}")

    def stop_server(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def stop(self):
        """Stop the server, drop the database and remove the work folder."""
        self.stop_server()
        subprocess.run(["dropdb", "-h", self.db_host, "-U", self.db_user, "--if-exists", self.db],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.work, ignore_errors=True)


class Rpc:
    def __init__(self, url, db, login, password):
        self.url, self.db, self.password = url, db, password
        self.uid = self._call("common", "login", db, login, password)

    def _call(self, service, method, *args, timeout=60):
        answer = requests.post(f"{self.url}/jsonrpc", timeout=timeout, json={
            "jsonrpc": "2.0", "method": "call",
            "params": {"service": service, "method": method, "args": list(args)}}).json()
        if answer.get("error"):
            raise RuntimeError(json.dumps(answer["error"].get("data", answer["error"]), indent=1)[:2000])
        return answer["result"]

    def __call__(self, model, method, *args, rpc_timeout=60, **kwargs):
        return self._call("object", "execute_kw", self.db, self.uid, self.password, model, method,
                          list(args), kwargs, timeout=rpc_timeout)


def start_sandboxes(workload, latency):
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.sandbox_server", "--workload", workload, "--latency", str(latency),
         "--no-hourly-quota"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = json.loads(process.stdout.readline())
    return process, ready


def odoo_from_environment():
    return Odoo(os.environ.get("ODOO_PYTHON", "python3"), os.environ.get("ODOO_ROOT"),
                os.environ.get("ODOO_DB_HOST", "127.0.0.1"), os.environ.get("ODOO_DB_USER", getpass.getuser()))


def stop_sandboxes(process):
    process.stdin.close()
    process.wait(30)


def connect(rpc, config, name="Proof company", qbo=None, test_billcom=False):
    """The connection of the sandboxes' accounts (``config``, as
    ``bench.sandbox_server`` prints it): the QuickBooks company (``qbo``, or a
    new one already connected), its accounts, the Bill.com organization (signed
    in once when ``test_billcom``) and the connection itself, manual only."""
    q, b, facts = config["qbo"], config["billcom"], config["facts"]
    company = rpc("res.users", "read", [rpc.uid], ["company_id"])[0]["company_id"][0]
    if qbo is None:
        qbo = rpc("billcom_qbo.qbo_company", "create", {
            "name": f"{name} (QuickBooks)", "company_id": company, "environment": "local",
            "local_base_url": q["base_url"], "local_token_url": q["token_url"], "realm_id": q["realm_id"],
            "client_id": q["client_id"], "client_secret": q["client_secret"], "refresh_token": q["refresh_token"],
            "state": "connected"})
    rpc("billcom_qbo.qbo_company", "action_refresh_accounts", [qbo])
    org = rpc("billcom_qbo.billcom_org", "create", {
        "name": f"{name} (Bill.com)", "company_id": company, "environment": "local",
        "local_base_url": b["base_url"], "organization_id": b["organization_id"], "username": b["username"],
        "password": b["password"], "dev_key": b["dev_key"], "signup_date": facts["signup_date"],
        "start_date": facts["start_date"]})
    if test_billcom:
        rpc("billcom_qbo.billcom_org", "action_test_connection", [org])
    accounts = {}
    for account in rpc("billcom_qbo.qbo_account", "search_read", [("qbo_company_id", "=", qbo)],
                       ["account_type", "account_sub_type"]):
        accounts.setdefault(account["account_sub_type"], account["id"])
        accounts.setdefault(account["account_type"], account["id"])
    return rpc("billcom_qbo.connection", "create", {
        "name": name, "company_id": company, "qbo_company_id": qbo, "billcom_org_id": org,
        "auto_sync": False, "bank_account_id": accounts.get("Checking") or accounts.get("Bank"),
        "deposit_account_id": accounts.get("UndepositedFunds") or accounts.get("Bank"),
        "ap_account_id": accounts.get("Accounts Payable"),
        "ar_account_id": accounts.get("Accounts Receivable")})


@contextlib.contextmanager
def odoo_and_sandboxes(workload, latency, *odoo_options):
    """A new database with the add-on, the sandboxes (``workload`` company,
    ``latency`` seconds a request) and Odoo started with ``odoo_options``:
    yields (odoo, rpc as the administrator, the sandboxes' process, what they
    printed); stops all of it and drops the database at the end."""
    odoo = odoo_from_environment()
    sandboxes = None
    try:
        odoo.install()
        sandboxes, ready = start_sandboxes(workload, latency)
        say(f"Sandboxes up: {workload} company, {latency * 1000:.0f} ms a request")
        odoo.start(*odoo_options)
        yield odoo, Rpc(odoo.url, odoo.db, *ADMIN), sandboxes, ready
    finally:
        if sandboxes:
            stop_sandboxes(sandboxes)
        odoo.stop()
