"""The command line and the configuration file: one line naming the file and the
key for every configuration problem, files holding secrets readable by their
owner only, and no credential in any output."""
import base64
import copy
import json
import os
import signal
import stat
import subprocess
import sys

import pytest

from sync_engine import config as config_module
from sync_engine.config import ConnectionConfig, write_json_file
from sync_engine.errors import ConfigError
from sync_engine.sandbox import Sandboxes
from sync_engine.secrets import MASK, Scrubber, basic_forms
from sync_engine.store import SQLiteStore

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VALID = {
    "name": "acme",
    "qbo": {"base_url": "https://sandbox-quickbooks.api.intuit.com", "realm_id": "9341453000000",
            "client_id": "ABclientid0123456789", "client_secret": "qbo-client-secret-7f3a9c"},
    "billcom": {"base_url": "https://gateway.stage.bill.com/connect", "dev_key": "devkey-0123-4567",
                "username": "ap@example.com", "password": "billcom-password-42", "organization_id": "00801ABC"},
    "facts": {"signup_date": "2023-04-01", "start_date": "2024-01-01"},
    "settings": {"object_types": ["vendor", "bill"]},
}


def _cli(*args, umask=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "sync_engine", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _changed(change):
    def make(data):
        change(data)
        return json.dumps(data)
    return make


def _set(section, key, value):
    def change(data):
        data[section][key] = value
    return _changed(change)


def _drop(section, key=None):
    def change(data):
        if key is None:
            del data[section]
        else:
            del data[section][key]
    return _changed(change)


# (id, file content (None: no file), key named in the message, words the message holds)
CONFIG_ERRORS = [
    ("missing-file", None, None, "cannot read the file"),
    ("empty-file", lambda d: "", None, "empty"),
    ("blank-file", lambda d: "  \n\n", None, "empty"),
    ("malformed-json", lambda d: json.dumps(d)[:-20], None, "not valid JSON"),
    ("not-an-object", lambda d: "[1, 2]", None, "top level is a list"),
    ("missing-section", _drop("billcom"), "billcom", "missing"),
    ("section-not-object", _changed(lambda d: d.update(facts="2023-04-01")), "facts", "is a string"),
    ("missing-key", _drop("qbo", "client_id"), "qbo.client_id", "missing"),
    ("missing-secret", _drop("billcom", "password"), "billcom.password", "missing"),
    ("empty-key", _set("billcom", "organization_id", ""), "billcom.organization_id", "empty"),
    ("wrong-type", _set("qbo", "client_secret", 12345), "qbo.client_secret", "a number"),
    ("unknown-object-type", _set("settings", "object_types", ["vendor", "bill", "bils"]),
     "settings.object_types[2]", '"bils" is not an object type'),
    ("object-types-not-list", _set("settings", "object_types", "bill"), "settings.object_types", "a list"),
    ("invalid-date", _set("facts", "signup_date", "2023-02-30"), "facts.signup_date", "not a valid date"),
    ("date-not-iso", _set("facts", "start_date", "01/02/2024"), "facts.start_date", "YYYY-MM-DD"),
    ("missing-date", _drop("facts", "start_date"), "facts.start_date", "missing"),
    ("base-url-no-scheme-host", _set("qbo", "base_url", "htp:/nowhere"), "qbo.base_url", "htp:/nowhere"),
    ("base-url-no-host", _set("billcom", "base_url", "https://"), "billcom.base_url", "http(s) URL"),
    ("base-url-relative", _set("billcom", "base_url", "gateway.stage.bill.com/connect"), "billcom.base_url",
     "http(s) URL"),
    ("token-url-ftp", _set("qbo", "token_url", "ftp://oauth.example.com/token"), "qbo.token_url", "http(s) URL"),
    ("boolean-as-text", _set("facts", "under_accountant_console", "yes"), "facts.under_accountant_console",
     "true or false"),
    ("master-side", _set("settings", "master_side", "odoo"), "settings.master_side", "qbo"),
    ("v2-bulk-as-text", _set("settings", "billcom_v2_bulk", "on"), "settings.billcom_v2_bulk", "true or false"),
]
COMMANDS = ("preview", "sync", "reconcile")


@pytest.mark.parametrize("content, key, says", [c[1:] for c in CONFIG_ERRORS], ids=[c[0] for c in CONFIG_ERRORS])
def test_a_configuration_problem_is_one_line_naming_the_file_and_the_key(tmp_path, content, key, says):
    path = tmp_path / "connection.json"
    if content is not None:
        path.write_text(content(copy.deepcopy(VALID)))
    running = {command: subprocess.Popen([sys.executable, "-m", "sync_engine", command, "--config", str(path)],
                                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for command in COMMANDS}
    for command, process in running.items():
        stdout, stderr = process.communicate(timeout=60)
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 1, done.stderr
        line = lines[0]
        assert line.startswith(f"error: {path}: "), line
        if key:
            assert f": {key}: " in line, line
        assert says in line and "; expected " in line, line
        for secret in ("qbo-client-secret-7f3a9c", "billcom-password-42", "devkey-0123-4567"):
            assert secret not in line


def test_a_wrong_url_is_named_without_the_credentials_it_holds(tmp_path):
    data = copy.deepcopy(VALID)
    data["billcom"]["base_url"] = "https://admin:hunter2-secret@"
    path = tmp_path / "connection.json"
    path.write_text(json.dumps(data))
    done = _cli("preview", "--config", str(path))
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "billcom.base_url" in done.stderr and "hunter2-secret" not in done.stderr


def test_load_reads_what_save_wrote_and_tells_each_problem_by_key(tmp_path):
    path = tmp_path / "connection.json"
    path.write_text(json.dumps(VALID))
    config = ConnectionConfig.load(str(path))
    assert config.object_types() == ("vendor", "bill")
    copy_path = tmp_path / "copy.json"
    config.save(str(copy_path))
    assert ConnectionConfig.load(str(copy_path)) == config
    with pytest.raises(ConfigError) as caught:
        ConnectionConfig.from_dict({**VALID, "facts": {"signup_date": "2023-04-01", "start_date": 20240101}})
    assert (caught.value.key, caught.value.file) == ("facts.start_date", None)
    assert "\n" not in str(caught.value) and caught.value.expected


# ============================================================== file modes
def test_new_configuration_files_are_private_from_the_start(tmp_path, monkeypatch):
    path = tmp_path / "new.json"
    modes = []
    real_open = os.open

    def watching_open(name, flags, mode=0o777, *args, **kwargs):
        fd = real_open(name, flags, mode, *args, **kwargs)
        modes.append((os.path.basename(name), stat.S_IMODE(os.fstat(fd).st_mode)))
        return fd

    old_umask = os.umask(0)
    try:
        monkeypatch.setattr(config_module.os, "open", watching_open)
        ConnectionConfig.from_dict(VALID).save(str(path))
    finally:
        os.umask(old_umask)
    assert modes and all(mode == 0o600 for _, mode in modes), modes
    assert _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["new.json"]  # no temporary file left behind


def test_a_rewritten_file_keeps_its_mode(tmp_path):
    path = tmp_path / "shared.json"
    path.write_text("{}")
    os.chmod(path, 0o640)
    write_json_file(str(path), {"a": 1})
    assert _mode(path) == 0o640 and json.loads(path.read_text()) == {"a": 1}
    os.chmod(path, 0o600)
    ConnectionConfig.from_dict(VALID).save(str(path))
    assert _mode(path) == 0o600


def test_sandbox_write_config_is_private_even_with_an_open_umask(tmp_path):
    path = tmp_path / "sandbox.json"
    server = subprocess.Popen([sys.executable, "-m", "sync_engine", "sandbox", "--write-config", str(path)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              preexec_fn=lambda: os.umask(0))
    try:
        json.loads(server.stdout.readline())
        assert "configuration written" in server.stderr.readline()
        assert _mode(path) == 0o600
        assert ConnectionConfig.load(str(path)).qbo.client_secret
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


@pytest.mark.parametrize("mode", [0o600, 0o640], ids=["0600", "0640"])
def test_the_token_save_during_sync_keeps_the_file_mode(tmp_path, mode):
    path = tmp_path / "connection.json"
    with Sandboxes() as sb:
        sb.connection_config(store_path=str(tmp_path / "state.sqlite")).save(str(path))
        os.chmod(path, mode)
        before = json.loads(path.read_text())["qbo"]["refresh_token"]
        done = _cli("sync", "--config", str(path), umask=0)
        assert done.returncode == 0, done.stdout + done.stderr
        saved = json.loads(path.read_text())["qbo"]
        assert saved["refresh_token"] != before and saved["access_token"]  # the rotation was saved
        assert _mode(path) == mode
        assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# ================================================================= masking
def test_an_echoed_basic_credential_reaches_no_output(tmp_path):
    path = tmp_path / "connection.json"
    store_path = tmp_path / "state.sqlite"
    with Sandboxes() as sb:
        sb.connection_config(store_path=str(store_path)).save(str(path))
        basic = base64.b64encode(f"{sb.qbo.client_id}:{sb.qbo.client_secret}".encode()).decode()
        refresh_token = sb.qbo.initial_refresh_token
        sb.qbo.inject("echo_request", count=10, path=r"/oauth2/v1/tokens/bearer$")
        plain = _cli("sync", "--config", str(path))
        as_json = _cli("sync", "--config", str(path), "--json")
        assert [r.fault for r in sb.qbo.request_log()] == ["echo_request", "echo_request"]
    assert plain.returncode == 1 and as_json.returncode == 1
    result = json.loads(as_json.stdout)
    assert result["state"] == "failed" and "token endpoint answered HTTP 400" in result["message"]
    assert "Basic " + MASK in result["message"]  # the echo is there, its credential is not
    store = SQLiteStore(str(store_path))
    texts = [plain.stdout, plain.stderr, as_json.stdout, as_json.stderr, result["message"]]
    for run in store.runs():
        texts.append(run.message or "")
        for line in store.run_lines(run.run_id):
            texts.append(json.dumps(line.as_dict(), default=str))
    store.close()
    blob = "\n".join(texts)
    for secret in [basic, basic.rstrip("="), sb.qbo.client_secret, refresh_token]:
        assert secret not in blob


def test_the_scrubber_masks_every_credential_form():
    client_id, secret = "ABclientid0123456789", "qbo-client-secret-7f3a9c"
    scrub = Scrubber([(client_id, secret)])
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    assert basic in basic_forms(client_id, secret)
    cases = {
        f"credentials {basic} refused": basic,
        f"credentials {basic.rstrip('=')} refused": basic.rstrip("="),
        f"raw {secret}": secret,
        "Authorization: Basic dXNlcjpwYXNzd29yZA==": "dXNlcjpwYXNzd29yZA",
        '{"authorization": "Bearer eyJhbGciOi.payload.sig"}': "eyJhbGciOi",
        "sent with bearer abcdefgh12345678": "abcdefgh12345678",
        "GET https://h.example/cb?state=s1&code=AB0123456789&realmId=1": "AB0123456789",
        "POST https://h.example/token?refresh_token=RT1-42-H0-abc": "RT1-42-H0-abc",
        "https://admin:hunter2@gateway.example.com/connect": "hunter2",
        "https://tok_abcdef123456@api.example.com/": "tok_abcdef123456",
        "grant_type=refresh_token&refresh_token=RT1-77-H0-xyz": "RT1-77-H0-xyz",
    }
    for text, secret_part in cases.items():
        cleaned = scrub(text)
        assert secret_part not in cleaned and MASK in cleaned, (text, cleaned)
    # what is no credential stays readable
    for text in ("message=ThrottleExceeded; errorCode=003001; statusCode=429",
                 "http://127.0.0.1:8000/v3/company/1/query?minorversion=75", "ap@example.com",
                 "https://gateway.stage.bill.com/connect/v3/bills?max=100"):
        assert scrub(text) == text
    # the configuration's secrets carry the Basic form, so every scrubber built from them masks it
    config = ConnectionConfig.from_dict(VALID)
    assert basic in config.secrets()
    assert basic not in Scrubber(source=config.secrets)(f"echo {basic}")


def test_a_scrubber_masks_a_token_its_source_rotated_since_it_last_asked():
    held = {"token": "access-token-first-0001"}
    scrub = Scrubber(source=lambda: [held["token"]])
    assert scrub("sent access-token-first-0001") == f"sent {MASK}"
    held["token"] = "access-token-second-0002"   # QuickBooks rotated it during the run
    assert scrub.mask("sent access-token-second-0002") == "sent access-token-second-0002"  # not asked yet
    scrub.refresh()   # what the executor does once before each batch of run lines
    assert scrub.mask("sent access-token-second-0002, then access-token-first-0001") == f"sent {MASK}, then {MASK}"
