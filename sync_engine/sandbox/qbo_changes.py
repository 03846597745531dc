"""QuickBooks Online sandbox change log, change data capture and batch."""
from .qbo_common import (SINGLETONS, QBOFault, _business, _invalid_value, _parse_time, _required, _unsupported,
                         canonical_entity)


class ChangesMixin:
    """The change log, ``cdc`` and ``batch`` of ``QBOSandbox``."""

    # ========================================================== change log
    def _log_change(self, entity, id_, second):
        log = self._changes[entity]
        log.pop(id_, None)
        self._seq += 1
        log[id_] = (second, self._seq)
        self._version += 1

    # =============================================================== CDC
    def _cdc(self, entities, changed_since):
        if not entities:
            raise _required("entities")
        if not changed_since:
            raise _required("changedSince")
        names = []
        for raw in entities.split(","):
            if not raw.strip():
                continue
            name = canonical_entity(raw)
            if not name:
                raise _business(f"Invalid entity in the entities list: {raw.strip()}", "entities")
            if name not in names:
                names.append(name)
        try:
            since = _parse_time(changed_since.replace(" ", "+"), self.tz)
        except ValueError:
            raise _invalid_value("changedSince", f"Invalid date-time {changed_since!r}") from None
        if since < self.clock.now() - self.cdc_window_days * 86400:
            raise _business(f"changedSince must be within the last {self.cdc_window_days} days.", "changedSince")
        candidates = []
        for name in names:
            log = self._changes[name]
            for id_ in reversed(log):
                second, seq = log[id_]
                if second < since:
                    break
                candidates.append((second, seq, name, id_))
        candidates.sort()
        candidates = candidates[:self.cdc_max_objects]
        groups = {name: ([], []) for name in names}
        for second, seq, name, id_ in candidates:
            obj = self._data[name].get(id_)
            if obj is not None:
                groups[name][0].append(obj)
            else:
                groups[name][1].append(self._deleted[name][id_])
        responses = []
        for name in names:
            objects = groups[name][0] + groups[name][1]
            if objects:
                responses.append({name: objects, "startPosition": 1, "maxResults": len(objects),
                                  "totalCount": len(objects)})
        return {"CDCResponse": [{"QueryResponse": responses or [{}]}]}

    # ============================================================= batch
    def _batch(self, body):
        items = body.get("BatchItemRequest")
        if not isinstance(items, list) or not items:
            raise _required("BatchItemRequest")
        if len(items) > self.batch_max_items:
            raise _business(f"A batch may hold at most {self.batch_max_items} items; this one has {len(items)}.",
                            "BatchItemRequest")
        out = []
        self._batch_created = set()
        try:
            for item in items:
                out.append(self._batch_item(item))
        finally:
            self._batch_created = None
        return {"BatchItemResponse": out}

    def _batch_item(self, item):
        bid = item.get("bId") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise _invalid_value("BatchItemRequest", "Each batch item must be an object")
            if "Query" in item:
                result = {"QueryResponse": self._query(item["Query"])}
            else:
                result = self._batch_write(item)
        except QBOFault as fault:
            result = {"Fault": fault.fault()}
        return {"bId": bid, **result}

    def _batch_write(self, item):
        keys = [k for k in item if k not in ("bId", "operation", "optionsData")]
        if len(keys) != 1 or not canonical_entity(keys[0]):
            raise _invalid_value("BatchItemRequest", "A batch item needs exactly one entity object")
        entity = canonical_entity(keys[0])
        body = item[keys[0]]
        if not isinstance(body, dict):
            raise _invalid_value(entity, "The entity must be an object")
        operation = (item.get("operation") or "").lower()
        if entity in SINGLETONS and operation != "update":
            raise _unsupported(f"Operation {operation} is not supported for {entity}.")
        if operation == "create":
            return {entity: self._create(entity, body)}
        if operation == "update":
            if entity == "Preferences":
                return {entity: self._update_preferences(body)}
            return {entity: self._update(entity, body)}
        if operation == "delete":
            return {entity: self._delete(entity, body)}
        if operation == "void":
            return {entity: self._void(entity, body)}
        raise _unsupported(f"Operation {operation or '(none)'} is not supported.")
