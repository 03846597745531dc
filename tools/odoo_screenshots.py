"""Screenshots of the add-on's screens for the README, taken from a real Odoo.

Starts, all on 127.0.0.1 and stopped at the end:

* both sandboxes in a process of their own (``bench.sandbox_server``), seeded
  with a generated company, with a latency per request so that a sync lasts
  long enough to be seen running;
* Odoo 19 with two cron threads (the workers that carry out previews and
  runs), in a new database with the add-on installed;

then drives headless Chromium with Playwright, signed in as admin/admin, and
saves in ``doc/``: the QuickBooks company form (connected through the
sandbox's consent page and the add-on's callback), the preview dialog and its
records held for a person, a run in progress, the finished run, the tie-out,
the connection form, the connections list.

    python tools/odoo_screenshots.py [--latency 0.1] [--workload half-small] [--out doc]

Needs ``requirements-docs.txt`` (Playwright; no browser download: it drives
the system's Chromium, ``--chromium`` or ``CHROMIUM``, default
``/usr/bin/chromium``). Odoo is found as in ``tools/odoo_background_proof.py``:
``ODOO_PYTHON``, ``ODOO_ROOT``, ``ODOO_DB_HOST``, ``ODOO_DB_USER``.
"""
import argparse
import os
import pathlib
import sys

from odoo_harness import ADMIN, REPO, connect, odoo_and_sandboxes, say

VIEWPORT = {"width": 1280, "height": 800}
WORKER_TIMEOUT = 600_000  # ms: a preview or a run, done by the scheduler workers
CONNECTIONS = "/odoo/action-billcom_qbo_sync.action_connection"
QBO_COMPANIES = "/odoo/action-billcom_qbo_sync.action_qbo_company"


class Screens:
    """A signed-in browser page that saves what it shows into ``out``."""

    def __init__(self, page, base_url, out):
        self.page, self.base_url, self.out = page, base_url, out
        self.saved = []

    def goto(self, path):
        self.page.goto(self.base_url + path)
        self.settle()

    def settle(self):
        """Give the web client a moment to render what it loaded (the bus and the
        live progress keep the network busy, so "network idle" never comes)."""
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(1000)

    def click(self, selector):
        self.page.locator(selector).first.click()
        self.settle()

    def wait(self, selector, timeout=30_000):
        self.page.locator(selector).first.wait_for(state="visible", timeout=timeout)

    def shot(self, name, caption):
        path = self.out / f"{name}.png"
        self.page.mouse.move(0, VIEWPORT["height"] - 1)  # no hover effects in the picture
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(path))
        self.saved.append((path, caption))
        say(f"saved {path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {caption}")


def sign_in(page, base_url):
    page.goto(f"{base_url}/web/login")
    page.fill("input[name=login]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("button[type=submit]")
    page.wait_for_url("**/odoo**")


def add_qbo_company(rpc, config, name):
    """A QuickBooks company pointed at the sandbox, not connected yet."""
    q = config["qbo"]
    company = rpc("res.users", "read", [rpc.uid], ["company_id"])[0]["company_id"][0]
    return rpc("billcom_qbo.qbo_company", "create", {
        "name": f"{name} (QuickBooks)", "company_id": company, "environment": "local",
        "local_base_url": q["base_url"], "local_token_url": q["token_url"],
        "local_authorize_url": q["authorize_url"], "local_revoke_url": q["revoke_url"],
        "client_id": q["client_id"], "client_secret": q["client_secret"]})


def connect_quickbooks(s):
    """"Connect to QuickBooks" on the company: the sandbox's consent page sends
    the browser back to the add-on's callback, which shows the company again."""
    s.goto(QBO_COMPANIES)
    s.click(".o_list_view .o_data_row .o_data_cell[name=name]")
    s.click(".o_form_view .o_form_statusbar button[name=action_connect]")
    try:
        s.wait(".o_form_view .o_statusbar_status button[data-value=connected][aria-checked=true]")
    except Exception:
        say(f"not connected; the browser is at {s.page.url}: {s.page.inner_text('body')[:500]}")
        raise
    s.settle()


def show_qbo_company(s):
    s.goto(QBO_COMPANIES)
    s.click(".o_list_view .o_data_row .o_data_cell[name=name]")
    s.wait(".o_form_view .o_statusbar_status button[data-value=connected][aria-checked=true]")
    s.shot("qbo-company", "The QuickBooks company once connected: its authorization, its accounts, what was read from it")


def run_reaches(s, state):
    """Wait on the run form until the run is in ``state``; a run that ended
    otherwise (failed, partial, interrupted) stops the script with its message."""
    reached = s.page.wait_for_function(
        """(wanted) => {
            const el = document.querySelector('.o_form_view .o_statusbar_status [aria-checked=true]');
            const value = el && el.dataset.value;
            return value && (value === wanted || !['queued', 'running'].includes(value)) && value;
        }""", arg=state, timeout=WORKER_TIMEOUT).json_value()
    if reached != state:
        message = s.page.locator(".o_form_view .o_field_widget[name=message]")
        raise RuntimeError(f"the run ended {reached} instead of reaching {state}: "
                           f"{message.first.inner_text() if message.count() else ''}")


def walk(s, rpc, connection):
    """Preview, run in progress, finished run, tie-out, connection, connections."""
    s.goto(CONNECTIONS)
    s.click(".o_list_view .o_data_row .o_data_cell[name=name]")
    s.click(".o_form_view .o_form_statusbar button[name=action_open_sync_wizard]")
    s.click(".modal .modal-footer button[name=action_preview]")
    s.wait(".modal .o_field_widget[name=write_count]", timeout=WORKER_TIMEOUT)
    s.settle()
    s.shot("preview", "The preview: what a sync would write, per type and direction, before anything is written")
    held = s.page.locator(".modal .o_horizontal_separator", has_text="Needs a person")
    if held.count():
        held.first.evaluate("el => el.scrollIntoView({block: 'start'})")
        s.page.wait_for_timeout(300)
        s.shot("preview-needs-a-person", "The preview's to-do list: the records held for a person, each with its reason")
        s.page.locator(".modal .modal-footer").first.scroll_into_view_if_needed()

    s.click(".modal .modal-footer button[name=action_sync_now].btn-primary")
    run_reaches(s, "running")
    # a few batches in, so the progress line says how far the run is
    s.page.wait_for_function(
        """() => {
            const el = document.querySelector('.o_form_view .o_field_widget[name=progress_written]');
            const state = document.querySelector('.o_form_view .o_statusbar_status [aria-checked=true]');
            return (el && parseInt(el.textContent.replace(/[^0-9]/g, '') || '0') > 0)
                || (state && state.dataset.value !== 'running');
        }""", timeout=WORKER_TIMEOUT)
    run_reaches(s, "running")
    s.shot("run-in-progress", "A run in progress: the stage, records done and written, time left, updated live")

    run_reaches(s, "done")
    s.wait(".o_form_view .o_field_widget[name=tie_out_verdict] .badge", timeout=WORKER_TIMEOUT)
    s.settle()
    s.shot("run-done", "A finished run: its tie-out verdict, its counts and amounts, every record it handled")

    s.click(".o_form_view .o_field_widget[name=connection_id] a")
    s.click(".o_form_view .o_form_statusbar button[name=action_tie_out]")
    s.wait(".o_list_view, .o_view_nocontent", timeout=WORKER_TIMEOUT)
    s.settle()
    s.shot("tie-out", "The tie-out: both books compared to the cent (here they agree; differences would be listed with their likely cause)")

    # daily sync on, as a finance team runs it
    rpc("billcom_qbo.connection", "write", [connection], {"auto_sync": True})
    s.goto(CONNECTIONS)
    s.click(".o_list_view .o_data_row .o_data_cell[name=name]")
    s.wait(".o_form_view .o_field_widget[name=last_tie_out] .badge")
    s.shot("connection", "A connection: accounts, schedule, health, its last run and tie-out; Sync now and Tie-out above")

    s.goto(CONNECTIONS)
    s.wait(".o_list_view .o_data_row")
    s.shot("connections", "Connections: last sync, next sync, what waits on a person, tie-out and state at a glance")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="half-small")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per sandbox request")
    parser.add_argument("--out", default=str(REPO / "doc"), help="where to save the PNG files")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # threaded, as a developer runs it: the web client's bus needs no separate port
    with odoo_and_sandboxes(args.workload, args.latency, "--max-cron-threads=2") as (odoo, rpc, _sb, ready):
        # where Intuit (here the sandbox) sends the browser back
        rpc("ir.config_parameter", "set_param", "web.base.url", odoo.url)
        qbo = add_qbo_company(rpc, ready["config"], "Northwind")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True)
            try:
                page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
                page.set_default_timeout(60_000)
                sign_in(page, odoo.url)
                screens = Screens(page, odoo.url, out)
                connect_quickbooks(screens)
                connection = connect(rpc, ready["config"], "Northwind", qbo=qbo, test_billcom=True)
                show_qbo_company(screens)
                walk(screens, rpc, connection)
            finally:
                browser.close()
    print()
    for path, caption in screens.saved:
        print(f"{path.name}: {caption}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
