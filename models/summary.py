"""Readable sentences for a run's counts (``{"bill|qbo_to_billcom|create": 3}``).

A run's counts and a preview's (``engine.plan_counts``) share that one key
format; this module is the only place the Odoo layer renders them.
"""
from collections import defaultdict

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
WRITE_ACTIONS = ("create", "update", "link", "archive", "void")
FAILED_ACTIONS = ("error", "failed")


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


def render(env, counts, state="done"):
    """One line per object type and direction, in sync order. Only a run that
    went through (or a preview) with nothing to count says there was nothing to do."""
    grouped = tally(counts)
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
