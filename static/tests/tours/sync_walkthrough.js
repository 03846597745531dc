import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_utils";

// The screens a finance team works through, in a real browser: connect
// QuickBooks, preview a sync, sync, (fix a held record), tie out both books.
// The test (tests/test_tour.py) runs the scheduler workers beside the browser,
// so previews and runs go through the same way as in production.

const CONNECTIONS_URL = "/odoo/action-billcom_qbo_sync.action_connection";
const QBO_COMPANIES_URL = "/odoo/action-billcom_qbo_sync.action_qbo_company";
// a preview or a batch of the sync takes a worker a few seconds; the live
// widget reloads the screen every 2.5 s while the work is under way
const WORKER_TIMEOUT = 60000;

function openConnection() {
    return [
        stepUtils.goToUrl(CONNECTIONS_URL),
        {
            content: "The connections list shows the connection",
            trigger: ".o_list_view .o_data_row .o_data_cell[name=name]:contains(Northwind)",
            run: "click",
        },
        {
            content: "Its form opens with the Sync now button",
            trigger: ".o_form_view .o_form_statusbar button[name=action_open_sync_wizard]",
        },
    ];
}

function checkQuickBooksConnected() {
    return [
        {
            content: "The connection shows QuickBooks as connected",
            trigger: ".o_form_view .o_field_widget[name=qbo_state] .badge:contains(Connected)",
        },
    ];
}

function previewAndSync() {
    return [
        {
            content: "Open the sync dialog",
            trigger: ".o_form_view .o_form_statusbar button[name=action_open_sync_wizard]",
            run: "click",
        },
        {
            content: "Ask for a preview (a worker prepares it; nothing is written)",
            trigger: ".modal .modal-footer button[name=action_preview]:contains(Preview)",
            run: "click",
        },
        {
            content: "The preview arrives by itself: counts and what goes through",
            trigger: ".modal .o_field_widget[name=write_count]",
            timeout: WORKER_TIMEOUT,
        },
        {
            content: "The preview lists the records the sync will write",
            trigger: ".modal .o_field_widget[name=through_line_ids] .o_data_row",
        },
        {
            content: "Sync now: the run is queued for a worker and opens",
            trigger: ".modal .modal-footer button[name=action_sync_now].btn-primary",
            run: "click",
        },
        {
            content: "The run form opens on its status bar",
            trigger: ".o_form_view .o_statusbar_status button[data-value]",
        },
        {
            content: "The run finishes on its own (the screen follows the worker)",
            trigger: ".o_form_view .o_statusbar_status button[data-value=done][aria-checked=true]",
            timeout: WORKER_TIMEOUT,
        },
        {
            content: "After the run, the books are compared: its tie-out verdict shows",
            trigger: ".o_form_view .o_field_widget[name=tie_out_verdict] .badge:contains(Books agree)",
            timeout: WORKER_TIMEOUT,
        },
        {
            content: "The run lists what it did",
            trigger: ".o_form_view .o_field_widget[name=line_ids] .o_data_row",
        },
    ];
}

// Fix a held record from its line: the paid bill HH-2150 is held for a person
// (QuickBooks has it paid); "Don't sync this record" puts it on the
// connection's list, written in the connection's chatter.
function fixHeldRecord() {
    return [
        {
            content: "The run lists the records that need a person first: open the held bill",
            trigger: ".o_form_view .o_field_widget[name=line_ids] .o_data_row .o_data_cell[name=record]:contains(HH-2150)",
            run: "click",
        },
        {
            content: "Its form says why it was held and offers the fixes",
            trigger: ".modal .o_form_view:contains(Needs a person) button[name=action_exclude]",
        },
        {
            content: "Don't sync this record",
            trigger: ".modal button[name=action_exclude]",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal:contains(will not sync any more) .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "The fix is done and said so",
            trigger: ".o_notification:contains(will not sync any more)",
        },
    ];
}

function backToConnection() {
    return [
        {
            content: "Back to the connection from the run",
            trigger: ".o_form_view .o_field_widget[name=connection_id] a:contains(Northwind)",
            run: "click",
        },
        {
            content: "The connection form shows the last run's tie-out",
            trigger: ".o_form_view .o_field_widget[name=last_tie_out] .badge:contains(Books agree)",
        },
    ];
}

registry.category("web_tour.tours").add("billcom_qbo_sync_admin_tour", {
    url: QBO_COMPANIES_URL,
    steps: () => [
        // connect
        {
            content: "Open the QuickBooks company, not connected yet",
            trigger: ".o_list_view .o_data_row .o_data_cell[name=name]:contains(QuickBooks)",
            run: "click",
        },
        {
            content: "It says it is not connected",
            trigger: ".o_form_view .o_statusbar_status button[data-value=draft][aria-checked=true]",
        },
        {
            content: "Connect to QuickBooks: Intuit's consent page sends the browser back to Odoo",
            trigger: ".o_form_view .o_form_statusbar button[name=action_connect]:contains(Connect to QuickBooks)",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Back on the QuickBooks company: connected",
            trigger: ".o_form_view .o_statusbar_status button[data-value=connected][aria-checked=true]",
            timeout: WORKER_TIMEOUT,
        },
        {
            content: "The company's name was read from QuickBooks",
            trigger: ".o_form_view .o_field_widget[name=company_name]:not(:empty)",
        },
        // preview, sync
        ...openConnection(),
        ...checkQuickBooksConnected(),
        ...previewAndSync(),
        ...fixHeldRecord(),
        // tie-out
        ...backToConnection(),
        {
            content: "Tie-out: compare both books now, to the cent",
            trigger: ".o_form_view .o_form_statusbar button[name=action_tie_out]",
            run: "click",
        },
        {
            content: "The tie-out says the books agree and lists no difference",
            trigger: ".o_view_nocontent:contains(Books agree)",
        },
    ],
});

registry.category("web_tour.tours").add("billcom_qbo_sync_user_tour", {
    url: CONNECTIONS_URL,
    steps: () => [
        // connect: a sync user cannot connect QuickBooks; the connection says it is
        {
            content: "The connections list shows the connection",
            trigger: ".o_list_view .o_data_row .o_data_cell[name=name]:contains(Northwind)",
            run: "click",
        },
        ...checkQuickBooksConnected(),
        {
            content: "The Tie-out button is for sync managers only",
            trigger:
                ".o_form_view .o_form_statusbar:has(button[name=action_open_sync_wizard]):not(:has(button[name=action_tie_out]))",
        },
        // preview, sync
        ...previewAndSync(),
        ...fixHeldRecord(),
        // tie-out: the run's own verdict, shown on the connection
        ...backToConnection(),
    ],
});
