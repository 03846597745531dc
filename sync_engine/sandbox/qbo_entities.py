"""QuickBooks Online sandbox records: storage, create/update/delete/void,
references, unique names and the name lists (accounts, classes, departments,
items, terms, vendors, customers, employees, attachables)."""
from .qbo_common import (CURRENCY_NAMES, DOCUMENTS, NAME_LISTS, PAYMENTS, PERSONS, SINGLETONS, STALE_DETAIL,
                         SYSTEM_FIELDS, VOIDABLE, QBOFault, _business, _clone, _invalid_ref, _invalid_value,
                         _parse_time, _required, _unsupported, canonical_entity)
from .qbo_schema import check_properties

# reference field -> the entity it points at
REF_TARGETS = {
    "VendorRef": "Vendor", "CustomerRef": "Customer", "ItemRef": "Item", "ClassRef": "Class",
    "DepartmentRef": "Department", "TermRef": "Term", "SalesTermRef": "Term",
    "AccountRef": "Account", "APAccountRef": "Account", "ARAccountRef": "Account",
    "BankAccountRef": "Account", "CCAccountRef": "Account", "DepositToAccountRef": "Account",
    "IncomeAccountRef": "Account", "ExpenseAccountRef": "Account", "AssetAccountRef": "Account",
    "ItemAccountRef": "Account", "GroupItemRef": "Item", "DiscountAccountRef": "Account",
}
# account references that must point at one account type
REF_ACCOUNT_TYPE = {"APAccountRef": "Accounts Payable", "ARAccountRef": "Accounts Receivable",
                    "BankAccountRef": "Bank", "CCAccountRef": "Credit Card"}

ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset", "Other Current Asset": "Asset", "Fixed Asset": "Asset", "Other Asset": "Asset",
    "Accounts Receivable": "Asset", "Accounts Payable": "Liability", "Credit Card": "Liability",
    "Other Current Liability": "Liability", "Long Term Liability": "Liability", "Equity": "Equity",
    "Income": "Revenue", "Other Income": "Revenue", "Expense": "Expense", "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
}
DEFAULT_SUBTYPE = {
    "Bank": "Checking", "Other Current Asset": "OtherCurrentAssets", "Fixed Asset": "MachineryAndEquipment",
    "Other Asset": "OtherLongTermAssets", "Accounts Receivable": "AccountsReceivable",
    "Accounts Payable": "AccountsPayable", "Credit Card": "CreditCard",
    "Other Current Liability": "OtherCurrentLiabilities", "Long Term Liability": "OtherLongTermLiabilities",
    "Equity": "OwnersEquity", "Income": "ServiceFeeIncome", "Other Income": "OtherMiscellaneousIncome",
    "Expense": "OtherMiscellaneousServiceCost", "Other Expense": "OtherMiscellaneousExpense",
    "Cost of Goods Sold": "SuppliesMaterialsCogs",
}
SUBTYPE_TYPE = {sub: typ for typ, sub in DEFAULT_SUBTYPE.items()}
SUBTYPE_TYPE.update({"Savings": "Bank", "UndepositedFunds": "Other Current Asset",
                     "Inventory": "Other Current Asset", "OpeningBalanceEquity": "Equity",
                     "RetainedEarnings": "Equity", "SalesOfProductIncome": "Income",
                     "OtherPrimaryIncome": "Income", "AdvertisingPromotional": "Expense",
                     "BankCharges": "Expense", "OfficeGeneralAdministrativeExpenses": "Expense",
                     "Utilities": "Expense", "Insurance": "Expense", "LegalProfessionalFees": "Expense",
                     "RentOrLeaseOfBuildings": "Expense", "Travel": "Expense",
                     "EntertainmentMeals": "Expense", "InterestEarned": "Other Income"})

# the chart of accounts a freshly created QBO company starts with
DEFAULT_ACCOUNTS = (
    ("Checking", "Bank", "Checking"),
    ("Savings", "Bank", "Savings"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Inventory Asset", "Other Current Asset", "Inventory"),
    ("Uncategorized Asset", "Other Current Asset", "OtherCurrentAssets"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
    ("Retained Earnings", "Equity", "RetainedEarnings"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("Services", "Income", "ServiceFeeIncome"),
    ("Uncategorized Income", "Income", "OtherPrimaryIncome"),
    ("Interest Earned", "Other Income", "InterestEarned"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("Advertising", "Expense", "AdvertisingPromotional"),
    ("Bank Charges", "Expense", "BankCharges"),
    ("Insurance", "Expense", "Insurance"),
    ("Legal & Professional Fees", "Expense", "LegalProfessionalFees"),
    ("Meals and Entertainment", "Expense", "EntertainmentMeals"),
    ("Office Supplies & Software", "Expense", "OfficeGeneralAdministrativeExpenses"),
    ("Rent or Lease", "Expense", "RentOrLeaseOfBuildings"),
    ("Travel", "Expense", "Travel"),
    ("Utilities", "Expense", "Utilities"),
    ("Uncategorized Expense", "Expense", "OtherMiscellaneousServiceCost"),
)

# fields the server computes; what a client sends for them is ignored
READ_ONLY = {
    "Account": ("Classification", "FullyQualifiedName", "CurrentBalance", "CurrentBalanceWithSubAccounts",
                "SubAccount"),
    "Class": ("FullyQualifiedName", "SubClass"),
    "Department": ("FullyQualifiedName", "SubDepartment"),
    "Item": ("FullyQualifiedName",),
    "Vendor": ("Balance",),
    "Customer": ("Balance", "BalanceWithJobs", "FullyQualifiedName", "Job", "Level"),
    "Bill": ("TotalAmt", "Balance", "LinkedTxn", "HomeBalance"),
    "VendorCredit": ("TotalAmt", "Balance", "LinkedTxn"),
    "Invoice": ("TotalAmt", "Balance", "LinkedTxn", "HomeBalance"),
    "CreditMemo": ("TotalAmt", "Balance", "RemainingCredit", "LinkedTxn"),
    "Payment": ("UnappliedAmt", "LinkedTxn"),
    "BillPayment": ("LinkedTxn",),
    "Deposit": ("TotalAmt", "HomeTotalAmt"),
}
SHIPPING_ITEM_ID = "SHIPPING_ITEM_ID"

DUPLICATE_PERSON_DETAIL = ("The name supplied already exists. : Another customer, vendor or employee is "
                           "already using this name. Please use a different name.")
NOT_FOUND_DETAIL = ("Object Not Found : Something you're trying to use has been made inactive. Check the "
                    "fields with accounts, customers, items, vendors or employees.")


class EntitiesMixin:
    """Storage, writes and the name lists of ``QBOSandbox``."""

    # ============================================================= storage
    def _stored(self, entity, id_):
        obj = self._data[entity].get(str(id_)) if id_ is not None else None
        if obj is None:
            raise QBOFault("610", "Object Not Found", NOT_FOUND_DETAIL, "Id")
        return obj

    def _put(self, entity, obj, old=None):
        """Store a new version of a record and log the change."""
        id_ = obj["Id"]
        if old is None and self._batch_created is not None:
            self._batch_created.add((entity, id_))
        self._data[entity][id_] = obj
        second = _parse_time(obj["MetaData"]["LastUpdatedTime"])
        self._log_change(entity, id_, int(second))
        self._index_names(entity, old, obj)
        self._party_delta(entity, old, obj)

    def _index_names(self, entity, old, new):
        if entity in PERSONS:
            index, owner = self._person_names, (entity, (new or old)["Id"])
            field = "DisplayName"
        elif entity in self._list_names:
            index, owner = self._list_names[entity], (new or old)["Id"]
            field = "FullyQualifiedName"
        else:
            return
        if old and index.get(str(old.get(field, "")).casefold()) == owner:
            del index[str(old.get(field, "")).casefold()]
        if new:
            index[str(new.get(field, "")).casefold()] = owner

    def _new_id(self):
        id_ = str(self._next_id)
        self._next_id += 1
        return id_

    def _meta(self, create_time=None):
        now = self._iso(self._stamp_second())
        return {"CreateTime": create_time or now, "LastUpdatedTime": now}

    def _assemble(self, id_, sync_token, fields, create_time=None):
        obj = {"Id": id_, "SyncToken": str(sync_token), "domain": "QBO", "sparse": False}
        obj.update(fields)
        obj["MetaData"] = self._meta(create_time)
        return obj

    # ============================================================ writes
    def _create(self, entity, body):
        if entity in SINGLETONS:
            raise _unsupported(f"Operation Create is not supported for {entity}.")
        check_properties(entity, body)
        fields = self._normalize(entity, body, None, None)
        links = self._payment_links(entity, fields, None) if entity in PAYMENTS else None
        deposited = fields.pop("_payments", None)
        id_ = self._new_id()
        if entity in DOCUMENTS:
            fields = self._with_applications(entity, id_, fields)
        obj = self._assemble(id_, 0, fields)
        self._put(entity, obj)
        if links is not None:
            self._relink(entity, id_, links)
        if deposited is not None:
            self._redeposit(id_, deposited)
        return self._data[entity][id_]

    def _check_version(self, entity, body):
        id_ = body.get("Id")
        if id_ in (None, ""):
            raise _required("Id")
        old = self._stored(entity, str(id_))
        token = body.get("SyncToken")
        if token in (None, ""):
            raise _required("SyncToken")
        if str(token) != old["SyncToken"]:
            raise QBOFault("5010", "Stale Object Error", STALE_DETAIL, "SyncToken")
        return old

    def _update(self, entity, body):
        check_properties(entity, body)
        old = self._check_version(entity, body)
        id_ = old["Id"]
        self._check_not_deposited(entity, id_)
        sparse = body.get("sparse") in (True, "true", "True")
        if sparse:
            merged = {k: _clone(v) for k, v in old.items() if k not in SYSTEM_FIELDS}
            merged.update({k: _clone(v) for k, v in body.items()})
        else:
            merged = _clone(body)
        if entity == "CompanyInfo":
            fields = {k: v for k, v in merged.items() if k not in SYSTEM_FIELDS}
        else:
            fields = self._normalize(entity, merged, old, id_)
        links = self._payment_links(entity, fields, id_) if entity in PAYMENTS else None
        deposited = fields.pop("_payments", None)
        if entity in DOCUMENTS:
            fields = self._with_applications(entity, id_, fields)
        obj = self._assemble(id_, int(old["SyncToken"]) + 1, fields, old["MetaData"]["CreateTime"])
        self._put(entity, obj, old)
        if links is not None:
            self._relink(entity, id_, links)
        if deposited is not None:
            self._redeposit(id_, deposited)
        return self._data[entity][id_]

    def _update_preferences(self, body):
        old = self._check_version("Preferences", body)
        merged = {k: _clone(v) for k, v in old.items() if k not in SYSTEM_FIELDS}
        for key, value in body.items():
            if key in SYSTEM_FIELDS:
                continue
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **_clone(value)}
            else:
                merged[key] = _clone(value)
        obj = self._assemble("1", int(old["SyncToken"]) + 1, merged, old["MetaData"]["CreateTime"])
        self._put("Preferences", obj, old)
        return obj

    def _delete(self, entity, body):
        if entity in NAME_LISTS or entity in SINGLETONS:
            raise _unsupported("Operation Delete is not supported.")
        old = self._check_version(entity, body)
        id_ = old["Id"]
        self._check_not_deposited(entity, id_)
        if entity in DOCUMENTS and self._applied.get((entity, id_)):
            # reference 5.3: a bill or invoice with payments must be unlinked first
            raise _business("This transaction is linked to payments. Delete or unlink those payments first.")
        if entity in PAYMENTS:
            self._relink(entity, id_, {})
        if entity == "Deposit":
            self._redeposit(id_, [])
        del self._data[entity][id_]
        self._index_names(entity, old, None)
        self._party_delta(entity, old, None)
        second = self._stamp_second()
        self._deleted[entity][id_] = {"status": "Deleted", "domain": "QBO", "Id": id_,
                                      "MetaData": {"LastUpdatedTime": self._iso(second)}}
        self._log_change(entity, id_, second)
        return {"status": "Deleted", "domain": "QBO", "Id": id_}

    def _void(self, entity, body):
        if entity not in VOIDABLE:
            raise _unsupported("Operation Void is not supported.")
        old = self._check_version(entity, body)
        id_ = old["Id"]
        self._check_not_deposited(entity, id_)
        fields = {k: _clone(v) for k, v in old.items() if k not in SYSTEM_FIELDS}
        if entity == "Invoice":
            if self._applied.get((entity, id_)):
                raise _business("This invoice has payments applied. Delete or unlink them first.")
            lines = list(fields.get("Line") or [])
            while lines:
                line = lines.pop()
                line["Amount"] = 0.0
                detail = line.get("SalesItemLineDetail")
                if isinstance(detail, dict) and "Qty" in detail:
                    detail["Qty"] = 0
                group = line.get("GroupLineDetail")
                if isinstance(group, dict):
                    lines.extend(group.get("Line") or [])
            if isinstance(fields.get("TxnTaxDetail"), dict):
                fields["TxnTaxDetail"]["TotalTax"] = 0.0
            fields["TotalAmt"] = 0.0
            fields["Balance"] = 0.0
        elif entity == "Payment":
            # reference 5.4: a voided Payment keeps no lines
            fields["Line"] = []
            fields["TotalAmt"] = 0.0
            fields["UnappliedAmt"] = 0.0
        else:
            # a voided BillPayment keeps its lines (and what they linked) with zero amounts
            for line in fields.get("Line") or []:
                line["Amount"] = 0.0
            fields["TotalAmt"] = 0.0
        # reference 5.4 / 4: the transaction stays, amounts zeroed, PrivateNote "Voided"
        fields["PrivateNote"] = "Voided"
        obj = self._assemble(id_, int(old["SyncToken"]) + 1, fields, old["MetaData"]["CreateTime"])
        self._put(entity, obj, old)
        if entity in PAYMENTS:
            self._relink(entity, id_, {})
        return self._data[entity][id_]

    # ======================================================= normalization
    def _normalize(self, entity, body, old, id_):
        """Validate a create/update body and compute the server-side fields."""
        fields = {k: v for k, v in body.items()
                  if k not in SYSTEM_FIELDS and k not in READ_ONLY.get(entity, ())}
        self._check_refs(entity, fields, "")
        handler = getattr(self, f"_normalize_{entity.lower()}", None)
        if handler:
            fields = handler(fields, old, id_)
        return fields

    def _check_refs(self, entity, node, path):
        if isinstance(node, list):
            for item in node:
                self._check_refs(entity, item, path)
            return
        if not isinstance(node, dict):
            return
        for key, value in list(node.items()):
            if key == "CurrencyRef" and isinstance(value, dict):
                code = str(value.get("value") or "").upper()
                if not code:
                    raise _required("CurrencyRef.value")
                value["value"] = code
                value.setdefault("name", CURRENCY_NAMES.get(code, code))
                continue
            target = REF_TARGETS.get(key)
            if target and isinstance(value, dict):
                ref_id = value.get("value")
                if ref_id in (None, ""):
                    raise _required(key, f"{key}.value")
                if key == "ItemRef" and ref_id == SHIPPING_ITEM_ID:
                    continue  # QBO's built-in shipping line: an ordinary line, no Item record behind it
                obj = self._data[target].get(str(ref_id))
                if obj is None or obj.get("Active") is False:
                    raise _invalid_ref(key, ref_id, target)
                if self._batch_created and (target, str(ref_id)) in self._batch_created:
                    # items of one batch are independent: none sees what another created
                    raise _invalid_ref(key, ref_id, target)
                wanted_type = REF_ACCOUNT_TYPE.get(key)
                if wanted_type and obj.get("AccountType") != wanted_type:
                    raise _business(f"{key} must be an account of type {wanted_type}.", key)
                value["value"] = str(ref_id)
                if key != "TermRef":
                    value["name"] = obj.get("DisplayName") or obj.get("FullyQualifiedName") or obj.get("Name")
                continue
            if isinstance(value, (dict, list)) and key not in ("ParentRef", "LinkedTxn"):
                self._check_refs(entity, value, f"{path}{key}.")

    def _unique_name(self, entity, value, id_):
        key = str(value).casefold()
        if entity in PERSONS:
            owner = self._person_names.get(key)
            if owner and owner != (entity, id_):
                raise QBOFault("6240", "Duplicate Name Exists Error", DUPLICATE_PERSON_DETAIL, "")
            return
        owner = self._list_names[entity].get(key)
        if owner and owner != id_:
            raise QBOFault("6240", "Duplicate Name Exists Error",
                           f"The name supplied already exists. : Another {entity.lower()} is already using this "
                           "name. Please use a different name.", "")

    def _parent(self, entity, fields, id_, flag):
        """ParentRef handling for hierarchical lists: (parent obj | None)."""
        ref = fields.get("ParentRef")
        if not ref:
            fields.pop("ParentRef", None)
            if flag:
                fields[flag] = False
            return None
        parent_id = str(ref.get("value") or "")
        parent = self._data[entity].get(parent_id)
        if parent is None or parent.get("Active") is False or parent_id == id_:
            raise _invalid_ref("ParentRef", parent_id, entity)
        # no cycles: the parent may not descend from this record
        node = parent
        while node is not None and id_ is not None:
            up = (node.get("ParentRef") or {}).get("value")
            if up == id_:
                raise _business("A record cannot be its own ancestor.", "ParentRef")
            node = self._data[entity].get(up) if up else None
        fields["ParentRef"] = {"value": parent_id}
        if flag:
            fields[flag] = True
        return parent

    def _name_field(self, fields, key="Name", limit=100):
        name = fields.get(key)
        if not isinstance(name, str) or not name.strip():
            raise _required(key)
        name = name.strip()
        if len(name) > limit:
            raise _invalid_value(key, f"{key} is longer than {limit} characters")
        fields[key] = name
        return name

    def _normalize_account(self, fields, old, id_):
        name = self._name_field(fields)
        if ":" in name or '"' in name:
            raise _invalid_value("Name", "Account names cannot contain a colon or a double quote")
        atype, sub = fields.get("AccountType"), fields.get("AccountSubType")
        if not atype and not sub:
            raise _required("AccountType")
        if not atype:
            atype = SUBTYPE_TYPE.get(sub)
        if atype not in ACCOUNT_CLASSIFICATION:
            raise QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {atype or sub}", "AccountType")
        fields["AccountType"] = atype
        fields.setdefault("AccountSubType", sub or DEFAULT_SUBTYPE[atype])
        fields["Classification"] = ACCOUNT_CLASSIFICATION[atype]
        parent = self._parent("Account", fields, id_, "SubAccount")
        fields["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}" if parent else name
        self._unique_name("Account", fields["FullyQualifiedName"], id_)
        balance = (old or {}).get("CurrentBalance", 0)
        fields["CurrentBalance"] = balance
        fields["CurrentBalanceWithSubAccounts"] = (old or {}).get("CurrentBalanceWithSubAccounts", balance)
        fields.setdefault("CurrencyRef", {"value": "USD", "name": CURRENCY_NAMES["USD"]})
        fields["Active"] = fields.get("Active") is not False
        return fields

    def _normalize_tracking(self, entity, flag, fields, id_):
        name = self._name_field(fields)
        parent = self._parent(entity, fields, id_, flag)
        fields["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}" if parent else name
        self._unique_name(entity, fields["FullyQualifiedName"], id_)
        fields["Active"] = fields.get("Active") is not False
        return fields

    def _normalize_class(self, fields, old, id_):
        return self._normalize_tracking("Class", "SubClass", fields, id_)

    def _normalize_department(self, fields, old, id_):
        return self._normalize_tracking("Department", "SubDepartment", fields, id_)

    def _normalize_item(self, fields, old, id_):
        name = self._name_field(fields)
        item_type = fields.setdefault("Type", "Service")
        if item_type not in ("Service", "Inventory", "NonInventory", "Group", "Category"):
            raise QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {item_type}", "Type")
        if item_type == "Inventory":
            for key in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef", "QtyOnHand", "InvStartDate"):
                if fields.get(key) in (None, ""):
                    raise _required(key)
            fields["TrackQtyOnHand"] = True
        else:
            fields.setdefault("TrackQtyOnHand", False)
        fields["FullyQualifiedName"] = name
        self._unique_name("Item", name, id_)
        fields["Active"] = fields.get("Active") is not False
        return fields

    def _normalize_term(self, fields, old, id_):
        name = self._name_field(fields, limit=31)
        if "DayOfMonthDue" in fields and "DueDays" not in fields:
            fields["Type"] = "DATE_DRIVEN"
        else:
            fields["Type"] = "STANDARD"
            fields.setdefault("DueDays", 0)
            fields.setdefault("DiscountPercent", 0)
            fields.setdefault("DiscountDays", 0)
        self._unique_name("Term", name, id_)
        fields["Active"] = fields.get("Active") is not False
        return fields

    def _display_name(self, entity, fields, id_):
        name = fields.get("DisplayName")
        if not (isinstance(name, str) and name.strip()):
            parts = [fields.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
            name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
            if not name and entity != "Employee":
                name = (fields.get("CompanyName") or "").strip()
        if not name:
            raise _required("DisplayName")
        name = name.strip()
        if ":" in name:
            raise _invalid_value("DisplayName", "Names cannot contain a colon")
        if len(name) > 500:
            raise _invalid_value("DisplayName", "DisplayName is longer than 500 characters")
        self._unique_name(entity, name, id_)
        fields["DisplayName"] = name
        return name

    def _address_ids(self, fields):
        for key in ("BillAddr", "ShipAddr"):
            addr = fields.get(key)
            if isinstance(addr, dict) and not addr.get("Id"):
                addr["Id"] = self._new_id()

    def _normalize_vendor(self, fields, old, id_):
        name = self._display_name("Vendor", fields, id_)
        fields.setdefault("PrintOnCheckName", name)
        fields.setdefault("Vendor1099", False)
        fields.setdefault("CurrencyRef", {"value": "USD", "name": CURRENCY_NAMES["USD"]})
        fields["Balance"] = (old or {}).get("Balance", 0)
        fields["Active"] = fields.get("Active") is not False
        self._address_ids(fields)
        return fields

    def _normalize_customer(self, fields, old, id_):
        name = self._display_name("Customer", fields, id_)
        parent = self._parent("Customer", fields, id_, None)
        if parent:
            fields["Job"] = True
            fields["Level"] = int(parent.get("Level", 0)) + 1
            fields["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}"
            fields.setdefault("BillWithParent", False)
        else:
            fields["Job"] = False
            fields["FullyQualifiedName"] = name
            fields["BillWithParent"] = False
        fields.setdefault("Taxable", False)
        fields.setdefault("PreferredDeliveryMethod", "Print")
        fields.setdefault("CurrencyRef", {"value": "USD", "name": CURRENCY_NAMES["USD"]})
        fields["Balance"] = (old or {}).get("Balance", 0)
        fields["BalanceWithJobs"] = (old or {}).get("BalanceWithJobs", 0)
        fields["Active"] = fields.get("Active") is not False
        self._address_ids(fields)
        return fields

    def _normalize_employee(self, fields, old, id_):
        self._display_name("Employee", fields, id_)
        fields["Active"] = fields.get("Active") is not False
        return fields

    def _normalize_attachable(self, fields, old, id_):
        if not fields.get("Note") and not fields.get("FileName"):
            raise _required("Note")
        refs = fields.get("AttachableRef") or []
        if not isinstance(refs, list):
            raise _invalid_value("AttachableRef", "AttachableRef must be a list")
        for ref in refs:
            entity_ref = (ref or {}).get("EntityRef") or {}
            target = canonical_entity(entity_ref.get("type", ""))
            if not target or str(entity_ref.get("value")) not in self._data[target]:
                raise _invalid_ref("AttachableRef.EntityRef", entity_ref.get("value"), entity_ref.get("type"))
            entity_ref["type"] = target
            entity_ref["value"] = str(entity_ref["value"])
            ref.setdefault("IncludeOnSend", False)
        if refs:
            fields["AttachableRef"] = refs
        return fields

    def _default_account(self, account_type, sub_type=None):
        for account in self._data["Account"].values():
            if account["AccountType"] == account_type and account.get("Active") is not False and (
                    sub_type is None or account.get("AccountSubType") == sub_type):
                return account
        raise _business(f"The company has no active {account_type} account.")
