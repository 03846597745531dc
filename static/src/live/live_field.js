import { Component, onWillUnmount, useEffect } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

// Work a scheduler worker is doing: a run waiting, running or checking its
// tie-out, a preview being prepared. While the record shows such work, the
// widget reloads it every few seconds, so the form and the list follow the
// worker without the user reloading anything.
const ACTIVE_STATES = ["queued", "running", "computing"];
const POLL_MS = 2500;

export class LiveField extends Component {
    static template = "billcom_qbo_sync.LiveField";
    static props = { ...standardFieldProps };

    setup() {
        this.timer = null;
        useEffect(
            (active) => {
                if (active) {
                    this.schedule();
                }
                return () => this.stop();
            },
            () => [this.isActive]
        );
        onWillUnmount(() => this.stop());
    }

    get isActive() {
        const data = this.props.record.data;
        return ACTIVE_STATES.includes(data.state) || Boolean(data.tie_out_due);
    }

    get text() {
        const field = this.props.record.fields[this.props.name];
        const value = this.props.record.data[this.props.name];
        if (field.type === "selection") {
            const option = (field.selection || []).find(([key]) => key === value);
            return option ? option[1] : "";
        }
        return value || "";
    }

    schedule() {
        this.stop();
        this.timer = setTimeout(async () => {
            this.timer = null;
            if (!this.isActive) {
                return;
            }
            try {
                await this.props.record.load();
            } catch {
                // a reload that failed (server restarting) is tried again next time
            }
            if (this.isActive) {
                this.schedule();
            }
        }, POLL_MS);
    }

    stop() {
        if (this.timer) {
            clearTimeout(this.timer);
            this.timer = null;
        }
    }
}

export const liveField = {
    component: LiveField,
    displayName: "Live progress",
    supportedTypes: ["char", "selection", "text"],
};

registry.category("fields").add("billcom_qbo_live", liveField);
