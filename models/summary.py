"""Readable sentences for a run's counts (``{"bill|qbo_to_billcom|create": 3}``)
and money, rule reasons in words, and field differences as a table with names.

A run's counts and a preview's (``engine.plan_counts``) share that one key
format, and so do their totals (``{"bill|qbo_to_billcom|create": {"USD":
"48210.55"}}``); this module is the only place the Odoo layer renders them.
"""
import re
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from markupsafe import Markup

from . import engine

DIRECTIONS = [
    (engine.QBO_TO_BC, "QuickBooks to Bill.com"),
    (engine.BC_TO_QBO, "Bill.com to QuickBooks"),
    (engine.NO_DIRECTION, "Both sides (matched or held)"),
]
ACTION_WORDS = {
    "create": "created", "update": "updated", "link": "linked", "archive": "archived or deleted",
    "void": "voided", "skip": "skipped",
    "conflict": "held as conflicts", "error": "with errors", "failed": "failed",
}
# what a preview will do, in the words of a plan
PLAN_WORDS = {
    "create": "to create", "update": "to update", "link": "to link", "archive": "to archive or delete",
    "void": "to void", "skip": "skipped", "conflict": "held as conflicts", "error": "with errors",
    "failed": "failed",
}
WRITE_ACTIONS = ("create", "update", "link", "archive", "void")
FAILED_ACTIONS = ("error", "failed")
# lines a person has to look at: held, skipped, or failed
ATTENTION_ACTIONS = ("skip", "conflict", "error")
ATTENTION = [
    ("person", "Needs a person: held, skipped or failed"),
    ("through", "Goes through"),
]

# each rule of the engine (rules.CODES) in a few words; the code stays a small tag
RULE_TITLES = {
    "payment_sync_mode": "Payments sync one way only",
    "paid_in_qbo": "Already paid in QuickBooks",
    "no_attachments": "Attachments stay behind",
    "credit_memo_start_date": "Credits do not sync for this organization",
    "class_per_line": "Classes left off",
    "schedule": "One sync at a time",
    "non_usd": "Not in US dollars",
    "approved_only": "Not approved yet",
    "document_total": "Lines do not add up to the total",
    "shape_not_carried": "Tax or discount the other side cannot hold",
    "required_field": "A required field is empty",
    "field_too_long": "Name or number too long",
    "duplicate_name": "Name already used",
    "inactive": "Inactive or deleted",
    "voided": "Voided",
    "deleted": "Deleted on its source side",
    "missing_reference": "Waits on a record not synced yet",
    "not_synced_document": "Pays no synced document",
    "conflict": "Changed on both sides",
    "bad_data": "Cannot be read",
}


def rule_codes():
    """Every rule code the engine may put on a line."""
    return list(engine.engine_rules.CODES)


def rule_title(code):
    """A rule code in words (the code itself when it is not known)."""
    if not code:
        return False
    return RULE_TITLES.get(code) or engine.engine_rules.CODES.get(code) or code


def needs_person(action, state=None):
    return action in ATTENTION_ACTIONS or state == "failed"


# ------------------------------------------------------------------ money
def _decimal(value):
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None


def add_total(totals, key, amount, currency):
    """Add one line's amount to ``totals`` ({count key: {currency: text}})."""
    amount = _decimal(amount) if amount not in (None, False, "") else None
    if amount is None:
        return totals
    currency = currency or "USD"
    per_currency = totals.setdefault(key, {})
    per_currency[currency] = str((_decimal(per_currency.get(currency, "0")) + amount).quantize(Decimal("0.01")))
    return totals


def money_text(amount, currency=None):
    """48210.55, "USD" -> "48,210.55 USD"."""
    amount = _decimal(amount)
    if amount is None:
        return ""
    text = f"{amount.quantize(Decimal('0.01')):,.2f}"
    return f"{text} {currency}" if currency else text


def _totals_text(per_currency):
    return ", ".join(money_text(amount, currency) for currency, amount in sorted((per_currency or {}).items()))


def tally(counts):
    """{(object_type, direction): {action: n}} from a run's counts."""
    grouped = defaultdict(lambda: defaultdict(int))
    for key, value in (counts or {}).items():
        object_type, direction, action = engine.split_count_key(key)
        grouped[(object_type, direction)][action] += int(value or 0)
    return grouped


def totals(counts):
    result = defaultdict(int)
    for actions in tally(counts).values():
        for action, n in actions.items():
            result[action] += n
    return result


def object_type_names(env):
    """{code: name} of the synced object types, for showing codes to users."""
    return {t.code: t.name for t in env["billcom_qbo.object_type"].sudo().search([])}


def render(env, counts, state="done", totals=None):
    """One line per object type and direction, in sync order, each action with its
    count and, for documents and payments, its total ("Bills, QuickBooks to
    Bill.com: 12 to create (48,210.55 USD)"). A preview (``state="preview"``)
    says what will be done. Only a run that went through (or a preview) with
    nothing to count says there was nothing to do."""
    grouped = tally(counts)
    totals = totals or {}
    words_of = PLAN_WORDS if state == "preview" else ACTION_WORDS
    if not grouped:
        if state in ("done", "preview"):
            return env._("Nothing to do: both sides were already in step.")
        return env._("Nothing was synced.")
    types = env["billcom_qbo.object_type"].sudo().search([])
    type_names = {t.code: t.name for t in types}
    type_order = {t.code: i for i, t in enumerate(types)}
    direction_names = dict(DIRECTIONS)
    direction_order = {d: i for i, (d, _) in enumerate(DIRECTIONS)}
    lines = []
    for (object_type, direction) in sorted(
            grouped, key=lambda k: (type_order.get(k[0], 99), k[0], direction_order.get(k[1], 9), k[1])):
        actions = grouped[(object_type, direction)]
        parts = []
        for action, n in sorted(actions.items()):
            if not n:
                continue
            money = _totals_text(totals.get(engine.count_key(object_type, direction, action)))
            parts.append(f"{n} {words_of.get(action, action)}" + (f" ({money})" if money else ""))
        words = ", ".join(parts)
        lines.append(f"{type_names.get(object_type, object_type)}, "
                     f"{direction_names.get(direction, direction)}: {words}")
    return "\n".join(lines)


# ------------------------------------------------------------ differences
# a neutral reference as the engine keeps it: "<type>|<QuickBooks id>" or "<type>|bc:<Bill.com id>"
TOKEN = re.compile(r"^([a-z][a-z_]*)\|(bc:)?([^|\s]+)$")
SIDE_PREFIXES = ("QuickBooks: ", "Bill.com: ")
LINE_FIELDS = ("lines",)
NAME_KEYS = ("name", "display_name", "full_name")
PARTY_KEYS = ("vendor", "customer")


def _tokens(value, out):
    if isinstance(value, str):
        match = TOKEN.match(value)
        if match:
            out.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _tokens(item, out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _tokens(item, out)
    return out


def own_name(object_type, values, names=None):
    """What a finance user calls a synced record, from the values a link keeps
    of one side: its name, or its type and number (and its vendor or customer),
    or for a payment its amount and date. False when the values say nothing."""
    if not isinstance(values, dict):
        return False
    for key in NAME_KEYS:
        if values.get(key):
            return str(values[key])
    label = (object_type or "").replace("_", " ").capitalize()
    party = next((values[k] for k in PARTY_KEYS if values.get(k)), None)
    party = names(party) if names and party else None
    if values.get("number"):
        return f"{label} {values['number']}" + (f" ({party})" if party else "")
    if values.get("amount") not in (None, ""):
        when = f" on {values['date']}" if values.get("date") else ""
        return f"{label} {money_text(values['amount'])}{when}" + (f" ({party})" if party else "")
    return False


def snapshot_name(object_type, snapshot, side, names=None):
    """The name of one side ("qbo" or "billcom") of a link, from its snapshot."""
    snapshot = snapshot if isinstance(snapshot, dict) else {}
    other = "billcom" if side == "qbo" else "qbo"
    return own_name(object_type, snapshot.get(side), names) or own_name(object_type, snapshot.get(other), names)


class Names:
    """Names of the records a connection's engine references point to
    ("account|23" -> "Utilities"): from the linked records' snapshots, else
    QuickBooks' chart of accounts as cached; the type and id when unknown."""

    def __init__(self, env, connection):
        self.env = env
        self.connection = connection
        self.known = {}

    def load(self, tokens):
        tokens = {t for t in tokens if t not in self.known}
        if not tokens or not self.connection:
            return self
        wanted = defaultdict(dict)  # (side, type) -> {id on that side: token}
        for token in tokens:
            kind, billcom, rid = TOKEN.match(token).groups()
            wanted["billcom" if billcom else "qbo", kind][rid] = token
        Links = self.env["billcom_qbo.link"].sudo()
        for (side, kind), by_id in wanted.items():
            id_field = f"{side}_id"
            for link in Links.search([("connection_id", "=", self.connection.id), ("object_type", "=", kind),
                                      (id_field, "in", list(by_id))]):
                name = snapshot_name(kind, link.snapshot, side)
                if name:
                    self.known[by_id[link[id_field]]] = name
        accounts = [rid for rid in wanted.get(("qbo", "account"), ()) if f"account|{rid}" not in self.known]
        qbo_company = self.connection.sudo().qbo_company_id
        if accounts and qbo_company:
            for account in self.env["billcom_qbo.qbo_account"].sudo().with_context(active_test=False).search(
                    [("qbo_company_id", "=", qbo_company.id), ("qbo_id", "in", accounts)]):
                self.known[f"account|{account.qbo_id}"] = account.name
        return self

    def __call__(self, value):
        if isinstance(value, str):
            match = TOKEN.match(value)
            if match:
                kind, billcom, rid = match.groups()
                return self.known.get(value) or f"{kind.replace('_', ' ')} {rid}"
        return value


def _field_label(name):
    side = ""
    for prefix in SIDE_PREFIXES:
        if name.startswith(prefix):
            side, name = prefix, name[len(prefix):]
    return side + name.replace(".", ", ").replace("_", " ").capitalize()


def _is_line_field(name):
    for prefix in SIDE_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name in LINE_FIELDS


def _shown(value, names):
    if value is None or value == "" or value == []:
        return "(empty)"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_shown(v, names)) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_shown(v, names)}" for k, v in sorted(value.items()))
    return str(names(value) if names else value)


def _line_what(line, names):
    """A document line's account or item (and its class), by name."""
    if not isinstance(line, dict):
        return ""
    what = [names(line[k]) for k in ("account", "item") if line.get(k)]
    if line.get("class"):
        what.append(names(line["class"]))
    return " / ".join(str(w) for w in what)


def line_rows(old, new, names):
    """The changed lines of a document: (line number, account or item,
    description, amount before, amount after)."""
    old = old if isinstance(old, list) else []
    new = new if isinstance(new, list) else []
    rows = []
    for index in range(max(len(old), len(new))):
        before = old[index] if index < len(old) else None
        after = new[index] if index < len(new) else None
        if before == after:
            continue
        what_before, what_after = _line_what(before, names), _line_what(after, names)
        what = what_after or what_before
        if what_before and what_after and what_before != what_after:
            what = f"{what_before} \u2192 {what_after}"
        desc_before = (before or {}).get("description") if isinstance(before, dict) else None
        desc_after = (after or {}).get("description") if isinstance(after, dict) else None
        description = desc_after or desc_before or ""
        if desc_before and desc_after and desc_before != desc_after:
            description = f"{desc_before} \u2192 {desc_after}"
        amount_before = money_text(before.get("amount")) if isinstance(before, dict) else ""
        amount_after = money_text(after.get("amount")) if isinstance(after, dict) else ""
        rows.append((index + 1, what, description, amount_before or "(none)", amount_after or "(removed)"))
    return rows


def diff_rows(diff, names=None):
    """(header rows [(field, before, after)], line tables [(title, rows)]) of a diff."""
    names = names or (lambda value: value)
    headers, tables = [], []
    for name, change in sorted((diff or {}).items()):
        pair = isinstance(change, (list, tuple)) and len(change) == 2
        old, new = (change[0], change[1]) if pair else (None, change)
        if _is_line_field(name):
            tables.append((_field_label(name), line_rows(old, new, names)))
        else:
            headers.append((_field_label(name), _shown(old, names), _shown(new, names)))
    return headers, tables


def diff_text(diff, names=None):
    """"Field: old \u2192 new" lines for a run line's field differences, with names for ids."""
    if not diff:
        return False
    if not isinstance(diff, dict):
        return str(diff)
    headers, tables = diff_rows(diff, names)
    out = [f"{label}: {old} \u2192 {new}" for label, old, new in headers]
    for title, rows in tables:
        for number, what, description, before, after in rows:
            about = ", ".join(p for p in (what, description) if p)
            out.append(f"{title}, line {number}{' (' + about + ')' if about else ''}: {before} \u2192 {after}")
    return "\n".join(out)


def diff_html(diff, names=None):
    """The differences as small tables: each header field old and new, then the
    changed lines (line, account or item, amount before, amount after)."""
    if not diff:
        return False
    if not isinstance(diff, dict):
        return Markup("<p>%s</p>") % str(diff)
    headers, tables = diff_rows(diff, names)
    parts = []
    if headers:
        body = Markup("").join(Markup("<tr><td>%s</td><td>%s</td><td>%s</td></tr>") % row for row in headers)
        parts.append(Markup('<table class="table table-sm o_billcom_qbo_diff"><thead><tr>'
                            '<th>Field</th><th>Before</th><th>After</th></tr></thead><tbody>%s</tbody></table>')
                     % body)
    for title, rows in tables:
        body = Markup("").join(
            Markup('<tr><td>%s</td><td>%s</td><td>%s</td><td class="text-end">%s</td>'
                   '<td class="text-end">%s</td></tr>') % row for row in rows)
        parts.append(Markup('<table class="table table-sm o_billcom_qbo_diff_lines"><caption>%s</caption><thead><tr>'
                            '<th>Line</th><th>Account or item</th><th>Description</th>'
                            '<th class="text-end">Amount before</th><th class="text-end">Amount after</th>'
                            '</tr></thead><tbody>%s</tbody></table>') % (title, body))
    return Markup("").join(parts)


def diff_tokens(diffs):
    """Every engine reference in some diffs, to load their names at once."""
    out = set()
    for diff in diffs:
        _tokens(diff, out)
    return out
