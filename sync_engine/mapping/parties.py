"""Parties: vendors and customers, read from and written to both systems.

An address is the same five fields on both sides under other names; each
side's names are listed once and serve reading and writing alike.
"""
from ..records import MappingError, blank, text
from .common import Mapper, _currency, _dict, name_key, _ref

# (our field, the side's field) of an address
QBO_ADDRESS = (("line1", "Line1"), ("line2", "Line2"), ("city", "City"), ("state", "CountrySubDivisionCode"),
               ("zip", "PostalCode"), ("country", "Country"))
BILLCOM_ADDRESS = (("line1", "line1"), ("line2", "line2"), ("city", "city"), ("state", "stateOrProvince"),
                   ("zip", "zipOrPostalCode"), ("country", "country"))


def _read_address(addr, field_name, names):
    if not addr:
        return None
    if not isinstance(addr, dict):
        raise MappingError(field_name, "is not an address object")
    out = {ours: str(addr.get(theirs)) for ours, theirs in names if not blank(addr.get(theirs))}
    return out or None


def _address_body(addr, names):
    return {theirs: addr[ours] for ours, theirs in names if addr.get(ours)}


# ------------------------------------------------------------------- read
def _qbo_party(kind):
    def reader(obj):
        name = text(obj.get("DisplayName"), "DisplayName", max_len=100, required=True)
        values = {
            "name": name,
            "company_name": text(obj.get("CompanyName"), "CompanyName"),
            "email": text(_dict(obj, "PrimaryEmailAddr").get("Address"), "PrimaryEmailAddr.Address"),
            "phone": text(_dict(obj, "PrimaryPhone").get("FreeFormNumber"), "PrimaryPhone.FreeFormNumber"),
            "address": _read_address(obj.get("BillAddr"), "BillAddr", QBO_ADDRESS),
            "active": obj.get("Active", True) is not False,
        }
        facts = {"currency": _currency(obj, "CurrencyRef")}
        if kind == "Vendor":
            values["account_number"] = text(obj.get("AcctNum"), "AcctNum")
        else:
            parent = _ref(obj, "ParentRef", "customer", "ParentRef")
            values["parent"] = parent
            level = obj.get("Level") or 0
            if isinstance(level, bool) or not isinstance(level, int):
                raise MappingError("Level", f"is not a number ({level!r})")
            facts["level"] = level
        return values, f"{kind} {name}", (name_key(name),), facts
    return reader


def _bc_party(kind):
    def reader(obj):
        name = text(obj.get("name"), "name", max_len=100, required=True)
        values = {"name": name, "email": text(obj.get("email"), "email"),
                  "phone": text(obj.get("phone"), "phone"), "active": not obj.get("archived", False)}
        if kind == "Vendor":
            values["company_name"] = text(_dict(obj, "additionalInfo").get("companyName"),
                                          "additionalInfo.companyName")
            values["address"] = _read_address(obj.get("address"), "address", BILLCOM_ADDRESS)
            values["account_number"] = text(obj.get("accountNumber"), "accountNumber")
            currency = _currency(obj, "billCurrency")
        else:
            values["company_name"] = text(obj.get("companyName"), "companyName")
            values["address"] = _read_address(obj.get("billingAddress"), "billingAddress", BILLCOM_ADDRESS)
            values["parent"] = None
            currency = _currency(obj, "invoiceCurrency")
        return values, f"{kind} {name}", (name_key(name),), {"currency": currency}
    return reader


# ------------------------------------------------------------------ write
def _qbo_party_body(kind):
    def body_of(v, resolve, ctx):
        body = {"DisplayName": v["name"]}
        if v.get("company_name"):
            body["CompanyName"] = v["company_name"]
        if v.get("email"):
            body["PrimaryEmailAddr"] = {"Address": v["email"]}
        if v.get("phone"):
            body["PrimaryPhone"] = {"FreeFormNumber": v["phone"]}
        addr = v.get("address")
        if addr:
            body["BillAddr"] = _address_body(addr, QBO_ADDRESS)
        if kind == "vendor" and v.get("account_number"):
            body["AcctNum"] = v["account_number"]
        if kind == "customer" and v.get("parent"):
            body["ParentRef"] = {"value": resolve(v["parent"])}
            body["Job"] = True
        return body
    return body_of


def _bc_party_body(kind):
    vendor = kind == "vendor"
    plain = (("email", "email"), ("phone", "phone"),
             ("account_number", "accountNumber") if vendor else ("company_name", "companyName"))

    def body_of(v, resolve):
        body = {"name": v["name"], "accountType": "BUSINESS"}
        for src, dst in plain:
            if v.get(src):
                body[dst] = v[src]
        if vendor and v.get("company_name"):
            body["additionalInfo"] = {"companyName": v["company_name"]}
        if v.get("address"):
            body["address" if vendor else "billingAddress"] = _address_body(v["address"], BILLCOM_ADDRESS)
        return body
    return body_of


MAPPERS = {
    "vendor": Mapper(_qbo_party("Vendor"), _bc_party("Vendor"), _qbo_party_body("vendor"), _bc_party_body("vendor")),
    "customer": Mapper(_qbo_party("Customer"), _bc_party("Customer"), _qbo_party_body("customer"),
                       _bc_party_body("customer")),
}
