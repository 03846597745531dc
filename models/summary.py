"""Readable sentences for the engine's run counts (``{"bill|qbo_to_billcom|create": 3}``)."""
from collections import defaultdict

DIRECTIONS = [
    ("qbo_to_billcom", "QuickBooks to Bill.com"),
    ("billcom_to_qbo", "Bill.com to QuickBooks"),
    ("none", "Both sides (matched or held)"),
]
ACTION_WORDS = {
    "create": "created", "update": "updated", "link": "linked", "archive": "archived or deleted",
    "void": "voided", "skip": "skipped",
    "conflict": "held as conflicts", "error": "with errors", "failed": "failed",
}
WRITE_ACTIONS = ("create", "update", "link", "archive", "void")
FAILED_ACTIONS = ("error", "failed")


def split_key(key):
    parts = list(key) if isinstance(key, (tuple, list)) else str(key).split("|")
    parts += [""] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def tally(counts):
    """{(object_type, direction): {action: n}} from the engine's flat counts."""
    grouped = defaultdict(lambda: defaultdict(int))
    for key, value in (counts or {}).items():
        if isinstance(value, dict):  # already nested: {type: {direction|action: n}}
            for sub_key, sub_value in value.items():
                direction, action, _ = split_key(sub_key)
                grouped[(key, direction)][action] += int(sub_value or 0)
            continue
        object_type, direction, action = split_key(key)
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


def render(env, counts):
    """One line per object type and direction, in sync order."""
    grouped = tally(counts)
    if not grouped:
        return env._("Nothing to do: both sides were already in step.")
    types = env["billcom_qbo.object_type"].sudo().search([])
    type_names = {t.code: t.name for t in types}
    type_order = {t.code: i for i, t in enumerate(types)}
    direction_names = dict(DIRECTIONS)
    direction_order = {d: i for i, (d, _) in enumerate(DIRECTIONS)}
    lines = []
    for (object_type, direction) in sorted(
            grouped, key=lambda k: (type_order.get(k[0], 99), k[0], direction_order.get(k[1], 9), k[1])):
        actions = grouped[(object_type, direction)]
        words = ", ".join(f"{n} {ACTION_WORDS.get(action, action)}"
                          for action, n in sorted(actions.items()) if n)
        lines.append(f"{type_names.get(object_type, object_type)}, "
                     f"{direction_names.get(direction, direction)}: {words}")
    return "\n".join(lines)


def diff_text(diff):
    """"field: old -> new" lines for a run line's field differences."""
    if not diff:
        return False
    if not isinstance(diff, dict):
        return str(diff)
    out = []
    for name, change in sorted(diff.items()):
        if isinstance(change, (list, tuple)) and len(change) == 2:
            out.append(f"{name}: {_value(change[0])} -> {_value(change[1])}")
        else:
            out.append(f"{name}: {_value(change)}")
    return "\n".join(out)


def _value(value):
    if value is None or value == "":
        return "(empty)"
    return str(value)
