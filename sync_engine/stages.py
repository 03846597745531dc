"""A run's stage in words a finance user reads on a progress line.

The executor reports its stage as ``"<object type>: <what>"`` (``"customer:
Bill.com create"``, ``"bill: QuickBooks update"``); ``describe`` turns it into
"Creating customers in Bill.com". Stages it does not know are shown as they are.
"""

PLURALS = {
    "account": "accounts", "class": "classes", "location": "locations", "item": "items",
    "term": "payment terms", "vendor": "vendors", "customer": "customers", "bill": "bills",
    "invoice": "invoices", "vendor_credit": "vendor credits", "credit_memo": "credit memos",
    "bill_payment": "bill payments", "received_payment": "received payments",
}

# what the executor says it did -> the sentence, with {types} for the plural
WHAT = {
    "Bill.com create": "Creating {types} in Bill.com",
    "Bill.com write": "Writing {types} to Bill.com",
    "QuickBooks create": "Creating {types} in QuickBooks",
    "QuickBooks update": "Updating {types} in QuickBooks",
    "QuickBooks delete": "Deleting {types} in QuickBooks",
    "QuickBooks void": "Voiding {types} in QuickBooks",
    "linked": "Linking {types} that already exist on both sides",
    "end twin": "Closing {types} that ended on the other side",
}

# stages outside the executor's write loop
PLANNING = "Reading both sides and planning"
QUEUED = "Waiting for a free worker"
TIE_OUT = "Checking that both books agree"


def describe(stage):
    """``"customer: Bill.com create"`` -> ``"Creating customers in Bill.com"``."""
    if not stage:
        return ""
    object_type, sep, what = str(stage).partition(": ")
    if not sep or object_type not in PLURALS:
        return str(stage)
    template = WHAT.get(what)
    if template is None:
        return f"{PLURALS[object_type].capitalize()}: {what}"
    return template.format(types=PLURALS[object_type])
