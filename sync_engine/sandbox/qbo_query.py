"""The QBO query language subset: ``SELECT * | COUNT(*) | fields FROM Entity
[WHERE ...] [ORDERBY ...] [STARTPOSITION n] [MAXRESULTS n]`` and matching
stored records against it, and ``QueryMixin``, which runs a query
against the sandbox's records."""
import json
import re
from decimal import Decimal

from .qbo_common import _DATETIME_RE, NAME_LISTS, QBOFault, _ci_get, _dec, _parse_time, canonical_entity


# --------------------------------------------------------------- the query language
class QueryError(Exception):
    pass


_TOKEN_RE = re.compile(r"""\s*(?:
    (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<num>-?\d+(?:\.\d+)?)(?![A-Za-z_])
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),*])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
)""", re.X)


def _tokenize(text):
    tokens, pos = [], 0
    text = text.rstrip().rstrip(";").rstrip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise QueryError(f"QueryParserError: Encountered \" {text[pos:].strip()[:1]} \" at line 1, "
                             f"column {pos + 1}.")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append((kind, value))
        pos = match.end()
    return tokens


class Query:
    """``SELECT * | COUNT(*) | fields FROM Entity [WHERE ...] [ORDERBY ...] [STARTPOSITION n] [MAXRESULTS n]``."""

    def __init__(self, text):
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = None
        self.count = False
        self.entity = None
        self.conditions = []   # (path, op, value | [values])
        self.order = []        # (path, descending)
        self.start = 1
        self.max_results = 100
        self._parse()

    # token helpers
    def _peek(self, offset=0):
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else (None, None)

    def _next(self):
        token = self._peek()
        if token[0] is None:
            raise QueryError("QueryParserError: Encountered \"<EOF>\" at line 1.")
        self.pos += 1
        return token

    def _word(self, *expected):
        kind, value = self._peek()
        if kind == "word" and value.upper() in expected:
            self.pos += 1
            return value.upper()
        return None

    def _expect_word(self, *expected):
        if not self._word(*expected):
            kind, value = self._peek()
            raise QueryError(f"QueryParserError: Encountered \" {value or '<EOF>'} \" at line 1; "
                             f"was expecting {' or '.join(expected)}")

    def _expect_punct(self, char):
        kind, value = self._next()
        if kind != "punct" or value != char:
            raise QueryError(f"QueryParserError: Encountered \" {value} \"; was expecting \"{char}\"")

    def _parse(self):
        self._expect_word("SELECT")
        kind, value = self._peek()
        if kind == "punct" and value == "*":
            self.pos += 1
        elif kind == "word" and value.upper() == "COUNT":
            self.pos += 1
            self._expect_punct("(")
            self._expect_punct("*")
            self._expect_punct(")")
            self.count = True
        else:
            self.fields = []
            while True:
                kind, value = self._next()
                if kind != "word":
                    raise QueryError(f"QueryParserError: Encountered \" {value} \" in the select list")
                self.fields.append(value)
                if self._peek() == ("punct", ","):
                    self.pos += 1
                    continue
                break
        self._expect_word("FROM")
        kind, value = self._next()
        if kind != "word":
            raise QueryError(f"QueryParserError: Encountered \" {value} \"; was expecting an entity")
        self.entity = canonical_entity(value)
        if not self.entity:
            raise QueryError(f"QueryValidationError: Invalid entity name {value}")
        if self._word("WHERE"):
            while True:
                self.conditions.append(self._condition())
                if not self._word("AND"):
                    break
        while self._peek()[0] is not None:
            if self._word("ORDER"):
                self._expect_word("BY")
                self._order_list()
            elif self._word("ORDERBY"):
                self._order_list()
            elif self._word("STARTPOSITION"):
                self.start = self._integer()
            elif self._word("MAXRESULTS"):
                self.max_results = self._integer()
            else:
                kind, value = self._peek()
                raise QueryError(f"QueryParserError: Encountered \" {value} \" at line 1.")
        self.start = max(1, self.start)
        self.max_results = max(0, min(1000, self.max_results))

    def _order_list(self):
        while True:
            kind, value = self._next()
            if kind != "word":
                raise QueryError(f"QueryParserError: Encountered \" {value} \" after ORDERBY")
            desc = self._word("ASC", "DESC") == "DESC"
            self.order.append((value, desc))
            if self._peek() != ("punct", ","):
                return
            self.pos += 1

    def _integer(self):
        kind, value = self._next()
        if kind != "num" or "." in value:
            raise QueryError(f"QueryParserError: Encountered \" {value} \"; was expecting an integer")
        return int(value)

    def _value(self):
        kind, value = self._next()
        if kind == "str":
            return value
        if kind == "num":
            return Decimal(value)
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise QueryError(f"QueryParserError: Encountered \" {value} \"; was expecting a value")

    def _condition(self):
        kind, path = self._next()
        if kind != "word":
            raise QueryError(f"QueryParserError: Encountered \" {path} \"; was expecting a property")
        kind, op = self._peek()
        if kind == "op":
            self.pos += 1
            if op in ("!=", "<>"):
                raise QueryError(f"QueryParserError: Encountered \" {op} \"; operator not supported")
            return (path, op, self._value())
        if kind == "word" and op.upper() == "IN":
            self.pos += 1
            self._expect_punct("(")
            values = [self._value()]
            while self._peek() == ("punct", ","):
                self.pos += 1
                values.append(self._value())
            self._expect_punct(")")
            return (path, "IN", values)
        if kind == "word" and op.upper() == "LIKE":
            self.pos += 1
            value = self._value()
            if not isinstance(value, str):
                raise QueryError("QueryParserError: LIKE needs a quoted string")
            pattern = "".join(".*" if ch == "%" else re.escape(ch) for ch in value)
            return (path, "LIKE", re.compile(f"^{pattern}$", re.I | re.S))
        raise QueryError(f"QueryParserError: Encountered \" {op or '<EOF>'} \"; was expecting an operator")

    def cache_key(self):
        conds = tuple((p.lower(), o, v.pattern if hasattr(v, "pattern") else repr(v)) for p, o, v in self.conditions)
        return (self.entity, conds, tuple((p.lower(), d) for p, d in self.order))


def _prop(obj, path):
    value = obj
    for part in path.split("."):
        value = _ci_get(value, part)
        if value is None:
            return None
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    return value


def _typed(value):
    """A stored value as something comparable: (rank, value)."""
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, (int, float, Decimal)):
        return (1, _dec(value))
    if isinstance(value, str):
        if _DATETIME_RE.match(value):
            try:
                return (2, _parse_time(value))
            except ValueError:
                pass
        if value.isdigit():
            return (3, int(value))
        return (4, value.casefold())
    return (5, json.dumps(value, sort_keys=True, default=str))


def _coerce(literal, rank, tz):
    """A query literal as the same kind of value as the stored one."""
    try:
        if rank == 0:
            return literal if isinstance(literal, bool) else str(literal).lower() == "true"
        if rank == 1:
            return _dec(literal)
        if rank == 2:
            text = str(literal)
            return _parse_time(text, tz)
        if rank == 3:
            return int(literal) if str(literal).isdigit() else None
        return str(literal).casefold()
    except (ValueError, QBOFault):
        return None


def _matches(obj, conditions, tz):
    for path, op, literal in conditions:
        value = _prop(obj, path)
        if value is None:
            return False
        if op == "LIKE":
            if not literal.match(str(value)):
                return False
            continue
        rank, have = _typed(value)
        if op == "IN":
            wanted = [_coerce(v, rank, tz) for v in literal]
            if rank == 3 and all(w is None for w in wanted):  # an id compared with text
                wanted = [str(v).casefold() for v in literal]
                have = str(value).casefold()
            if have not in wanted:
                return False
            continue
        want = _coerce(literal, rank, tz)
        if want is None:
            return False
        if op == "=" and not have == want:
            return False
        if op == "<" and not have < want:
            return False
        if op == ">" and not have > want:
            return False
        if op == "<=" and not have <= want:
            return False
        if op == ">=" and not have >= want:
            return False
    return True


def _sort_key(obj, path):
    value = _prop(obj, path)
    if value is None:
        return (1, 0, 0)
    rank, typed = _typed(value)
    return (0, rank, typed)


# --------------------------------------------------------------- running a query
class QueryMixin:
    """``query`` over the records of ``QBOSandbox``, with a cache of matching ids."""

    def _query(self, text):
        try:
            query = Query(text)
        except QueryError as exc:
            raise QBOFault("4000", "Error parsing query", str(exc)) from None
        ids = self._matching_ids(query)
        if query.count:
            return {"totalCount": len(ids)}
        page = ids[query.start - 1:query.start - 1 + query.max_results]
        if not page:
            return {}
        store = self._data[query.entity]
        rows = [store[i] for i in page]
        if query.fields:
            wanted = [f.split(".")[0] for f in query.fields]
            rows = [{**{k: v for k, v in row.items() if any(k.lower() == w.lower() for w in wanted)},
                     "domain": "QBO", "sparse": True} for row in rows]
        return {query.entity: rows, "startPosition": query.start, "maxResults": len(rows)}

    def _matching_ids(self, query):
        key = query.cache_key()
        cached = self._query_cache.get(key)
        if cached and cached[0] == self._version:
            return cached[1]
        conditions = list(query.conditions)
        if query.entity in NAME_LISTS and not any(p.lower() == "active" for p, _, _ in conditions):
            conditions.append(("Active", "=", True))
        rows = [obj for obj in self._data[query.entity].values() if _matches(obj, conditions, self.tz)]
        for path, desc in reversed(query.order):
            rows.sort(key=lambda obj, p=path: _sort_key(obj, p), reverse=desc)
        ids = [obj["Id"] for obj in rows]
        if len(self._query_cache) > 32:
            self._query_cache.clear()
        self._query_cache[key] = (self._version, ids)
        return ids
