"""The command line a script or an administrator uses: sandbox, preview, sync."""
import json
import os
import signal
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _cli(*args, timeout=120):
    # each command is a new process whose pacing starts empty: leave QBO's 10/s window to
    # the previous one, as a person typing the next command would
    time.sleep(1.1)
    return subprocess.run([sys.executable, "-m", "sync_engine", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_sandbox_prints_its_json_first_then_preview_and_sync_use_the_written_config(tmp_path):
    config_path = tmp_path / "sandbox.json"
    server = subprocess.Popen([sys.executable, "-m", "sync_engine", "sandbox", "--seed", "demo",
                               "--write-config", str(config_path)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(server.stdout.readline())
        assert set(info["qbo"]) == {"base_url", "token_url", "realm_id", "client_id", "client_secret",
                                    "refresh_token"}
        assert set(info["billcom"]) == {"base_url", "dev_key", "username", "password", "organization_id"}
        assert info["qbo"]["base_url"].startswith("http://127.0.0.1:") and "/v3" not in info["qbo"]["base_url"]
        server.stderr.readline()  # "configuration written to ..."
        assert config_path.exists()
        # the base URLs work exactly like the real hosts: the client appends /v3/...
        login = requests.post(info["billcom"]["base_url"] + "/v3/login", json={
            "username": info["billcom"]["username"], "password": info["billcom"]["password"],
            "organizationId": info["billcom"]["organization_id"], "devKey": info["billcom"]["dev_key"]})
        assert login.status_code == 200 and login.json()["sessionId"]

        preview = _cli("preview", "--config", str(config_path), "--json")
        assert preview.returncode == 0, preview.stderr
        plan = json.loads(preview.stdout)
        assert any(line["action"] == "create" for line in plan["lines"])

        first = _cli("sync", "--config", str(config_path))
        assert first.returncode == 0, first.stdout + first.stderr
        assert "Run 1: done" in first.stdout
        again = _cli("sync", "--config", str(config_path), "--json")
        result = json.loads(again.stdout)
        assert again.returncode == 0 and result["state"] == "done"
        assert not [l for l in result["lines"] if l["action"] in ("create", "update", "link")]
        # the refresh token QBO rotated was saved back into the configuration file
        assert json.loads(config_path.read_text())["qbo"]["refresh_token"] != info["qbo"]["refresh_token"]

        # a run that fails (Bill.com refuses the password) exits non-zero and does not echo the secret
        broken = json.loads(config_path.read_text())
        broken["billcom"]["password"] = "not-the-password-42"
        broken_path = tmp_path / "broken.json"
        broken_path.write_text(json.dumps(broken))
        failed = _cli("sync", "--config", str(broken_path))
        assert failed.returncode == 1
        assert "failed" in failed.stdout and "not-the-password-42" not in failed.stdout + failed.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
