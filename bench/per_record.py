"""The first sync done the way most connectors do it: for every record, one
look-up on Bill.com ("does it exist already?") and one write, no batch and no
bulk request.

It uses the engine's clients, mapping and the same rules for what to send
(active lists, USD unpaid bills and invoices), so it writes the same records
as the engine; only the request pattern differs. Records of one type go
through ``BillComClient.map_concurrently``: at most 3 in flight, Bill.com's
per-organization limit, the same cap the engine works under.
"""
from sync_engine import rules
from sync_engine.mapping import ENTITIES, billcom_body, neutral, read_qbo
from sync_engine.records import MappingError

ORDER = ("account", "class", "location", "item", "term", "vendor", "customer", "bill", "invoice")


def _sendable(otype, rec):
    if rec.deleted or not rec.facts.get("active", True):
        return False
    if otype in ("vendor", "customer", "bill", "invoice") and rec.facts.get("currency", "USD") != "USD":
        return False
    if otype in ("bill", "invoice"):
        if not rules.paid_in_qbo(rec.facts["total"], rec.facts["balance"]).allowed:
            return False
        if not rec.values.get("number"):
            return False
    return True


class PerRecordSync:
    def __init__(self, remote):
        self.qbo = remote.qbo
        self.billcom = remote.billcom
        self.ids = {}            # "type|qbo id" -> Bill.com id
        self.counts = {"created": 0, "found": 0, "skipped": 0, "failed": 0, "read": 0}

    def _resolve(self, token):
        found = self.ids.get(token)
        if found is None:
            raise MappingError(token.split("|", 1)[0], f"{token} has no Bill.com twin")
        return found

    def _lookup(self, collection, body):
        """The read before the write: the object this body would create, or None."""
        b = self.billcom
        if collection == "bills":
            return b.find_bill(body["vendorId"], body["invoice"]["invoiceNumber"])
        if collection == "invoices":
            return b.find_invoice(body["customer"]["id"], body["invoiceNumber"])
        return b.find_by_name(collection, body["name"])

    def run(self):
        for otype in ORDER:
            entity, collection = ENTITIES[otype]
            work = []
            for obj in self.qbo.query(f"select * from {entity}"):
                self.counts["read"] += 1
                rec = read_qbo(otype, obj)
                if not _sendable(otype, rec):
                    self.counts["skipped"] += 1
                    continue
                work.append(rec)

            def one(rec, collection=collection, otype=otype):
                body = billcom_body(otype, neutral(rec.values, lambda ref: f"{ref.object_type}|{ref.remote_id}"),
                                    self._resolve)
                existing = self._lookup(collection, body)
                if existing is not None:
                    return "found", existing["id"]
                return "created", self.billcom.create(collection, body)["id"]

            for rec, result in zip(work, self.billcom.map_concurrently(one, work)):
                if isinstance(result, Exception):
                    self.counts["failed"] += 1
                    continue
                outcome, bid = result
                self.counts[outcome] += 1
                self.ids[f"{otype}|{rec.remote_id}"] = bid
        return self.counts
