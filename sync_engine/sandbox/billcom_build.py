"""Bill.com sandbox object builders: request validation and the stored (wire) form of each object."""
import copy
import re
from decimal import Decimal, InvalidOperation

from .billcom_common import (CLASS_KEYS, CLASS_TARGETS, CREDIT_KINDS, LINE_KEYS, LINE_PREFIXES, PREFIXES, ZERO,
                             ApiError, _bad_type, _bad_value, _is_date, _missing, dec, money, number_out, out)


class BuildMixin:
    """Validation helpers and ``_build_*`` methods of ``BillComSandbox``."""


    @staticmethod
    def _given(obj, field, required, label, kind, kind_name, blank_is_absent=False):
        """``obj[field]``, an instance of ``kind`` (called ``kind_name`` in the error), or None when
        it is absent (null, or "" if ``blank_is_absent``): an error if it is ``required``."""
        value = obj.get(field)
        if value is None or (blank_is_absent and value == ""):
            if required:
                raise _missing(label)
            return None
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise _bad_type(label, kind_name)
        return value

    @staticmethod
    def _id(obj, field, label=None):
        """The id ``obj[field]``, which must be given (its existence is checked by ``_ref``)."""
        value = obj.get(field)
        if not value:
            raise _missing(label or field)
        return value

    def _str(self, obj, field, required=False, max_len=None, path=None):
        label = path or field
        value = self._given(obj, field, required, label, str, "a string", blank_is_absent=True)
        if value and max_len and len(value) > max_len:
            raise _bad_value(label, f"The value must be at most {max_len} characters long")
        return value

    def _num(self, obj, field, required=False, path=None):
        label = path or field
        value = self._given(obj, field, required, label, (int, float, str), "a number")
        if value is None:
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise _bad_type(label, "a number") from None
        if not number.is_finite():
            raise _bad_type(label, "a number")
        return number

    def _date(self, obj, field, required=False, path=None, default=None):
        label = path or field
        value = self._given(obj, field, required, label, str, "a date (yyyy-MM-dd)", blank_is_absent=True)
        if value is None:
            return default
        if not _is_date(value[:10]) or (len(value) > 10 and value[10] != "T"):
            raise _bad_type(label, "a date (yyyy-MM-dd)")
        return value[:10]

    def _bool(self, obj, field, required=False, default=None):
        value = self._given(obj, field, required, field, bool, "a boolean")
        return default if value is None else value

    def _dict(self, obj, field, required=False, path=None):
        return self._given(obj, field, required, path or field, dict, "an object")

    def _ref(self, collection, obj_id, label, allow_archived=True):
        if not isinstance(obj_id, str):
            raise _bad_type(label, "an id string")
        target = self.collections[collection].objects.get(obj_id)
        if target is None:
            raise _bad_value(label, f"Invalid id {obj_id}")
        if not allow_archived and target.get("archived"):
            raise _bad_value(label, f"The object {obj_id} is archived")
        return target

    def _classifications(self, value, label, allowed=CLASS_KEYS):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _bad_type(label, "an object")
        result = {}
        for key in allowed:
            ref = value.get(key)
            if ref in (None, ""):
                continue
            self._ref(CLASS_TARGETS[key], ref, f"{label}.{key}")
            result[key] = ref
        return result

    def _line_description(self, line, label, stored):
        description = self._str(line, "description", path=f"{label}.description")
        if description:
            stored["description"] = description

    def _line_classifications(self, line, label, stored):
        classes = self._classifications(line.get("classifications"), f"{label}.classifications")
        if classes:
            stored["classifications"] = classes

    def _lines(self, collection, obj, old, compute):
        key = LINE_KEYS[collection]
        lines = obj.get(key)
        if lines is None or lines == []:
            raise _missing(key)
        if not isinstance(lines, list):
            raise _bad_type(key, "an array")
        old_ids = {line.get("id") for line in (old or {}).get(key, [])}
        result, running = [], ZERO
        for i, line in enumerate(lines):
            label = f"{key}[{i}]"
            if not isinstance(line, dict):
                raise _bad_type(label, "an object")
            stored = {"id": line["id"] if line.get("id") in old_ids else self.new_id(LINE_PREFIXES[collection])}
            amount = compute(line, label, stored, running)
            running += amount
            stored["amount"] = out(amount)
            result.append(stored)
        return result, running

    # ------------------------------------------------------ object builders
    def _build(self, collection, body, old=None, session_user=None):
        """The stored form of ``body`` (create, or full replacement of ``old``)."""
        if collection == "vendors":
            return self._build_vendor(body, old)
        if collection == "customers":
            return self._build_customer(body, old)
        if collection == "bills":
            return self._build_bill(body, old, session_user)
        if collection == "invoices":
            return self._build_invoice(body, old, session_user)
        if collection == "vendor-credits":
            return self._build_credit(collection, body, old, self._vendor_credit_line,
                                      self._vendor_credit_account)
        if collection == "credit-memos":
            return self._build_credit(collection, body, old, self._credit_memo_line)
        if collection == "payment-terms":
            return self._build_payment_term(body, old)
        if collection.startswith("classifications/"):
            return self._build_classification(collection, body, old)
        raise ApiError(405, "BDC_1121", f"{collection} cannot be written.")

    def _address(self, body, field):
        value = self._dict(body, field)
        if value is None:
            return None
        keys = ("line1", "line2", "city", "stateOrProvince", "zipOrPostalCode", "country")
        return {k: value[k] for k in keys if value.get(k) not in (None, "")}

    def _build_vendor(self, body, old):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["vendors"])}
        obj["name"] = self._str(body, "name", required=True, max_len=100)
        short = self._str(body, "shortName", max_len=40)
        if short:
            obj["shortName"] = short
        obj["archived"] = old["archived"] if old else False
        account_type = self._str(body, "accountType") or "NONE"
        if account_type not in ("BUSINESS", "PERSON", "NONE"):
            raise _bad_value("accountType", "Must be one of BUSINESS, PERSON, NONE")
        obj["accountType"] = account_type
        for field in ("email", "phone", "accountNumber"):
            value = self._str(body, field)
            if value:
                obj[field] = value
        obj["networkStatus"] = old.get("networkStatus", "NOT_CONNECTED") if old else "NOT_CONNECTED"
        address = self._address(body, "address")
        if address:
            obj["address"] = address
        info = self._dict(body, "paymentInformation") or {}
        payment = {"payeeName": info.get("payeeName") or obj["name"],
                   "payByType": "ACH" if info.get("bankAccount") else (info.get("payByType") or "CHECK"),
                   "virtualCard": {"status": "UNKNOWN"}}
        if info.get("email"):
            payment["email"] = info["email"]
        obj["paymentInformation"] = payment
        extra = self._dict(body, "additionalInfo")
        if extra is not None:
            keys = ("taxId", "taxIdType", "track1099", "leadTimeInDays", "combinePayments", "companyName")
            obj["additionalInfo"] = {k: extra[k] for k in keys if k in extra}
        currency = self._str(body, "billCurrency") or "USD"
        if not re.match(r"^[A-Z]{3}$", currency):
            raise _bad_value("billCurrency", "Must be an ISO 4217 currency code")
        obj["billCurrency"] = currency
        obj["balance"] = dict(old["balance"]) if old else {"amount": 0.0}
        obj["autoPay"] = {"enabled": False}
        return obj

    def _build_customer(self, body, old):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["customers"])}
        obj["name"] = self._str(body, "name", required=True, max_len=100)
        company = self._str(body, "companyName")
        if company:
            obj["companyName"] = company
        contact = self._dict(body, "contact")
        if contact:
            obj["contact"] = {k: contact[k] for k in ("firstName", "lastName") if contact.get(k)}
        email = self._str(body, "email", required=True)
        if "@" not in email:
            raise _bad_value("email", "Invalid email address")
        obj["email"] = email
        phone = self._str(body, "phone")
        if phone:
            obj["phone"] = phone
        account_type = self._str(body, "accountType") or "NONE"
        if account_type not in ("BUSINESS", "PERSON", "NONE"):
            raise _bad_value("accountType", "Must be one of BUSINESS, PERSON, NONE")
        obj["accountType"] = account_type
        for field in ("billingAddress", "shippingAddress"):
            address = self._address(body, field)
            if address:
                obj[field] = address
        currency = self._str(body, "invoiceCurrency") or "USD"
        if not re.match(r"^[A-Z]{3}$", currency):
            raise _bad_value("invoiceCurrency", "Must be an ISO 4217 currency code")
        obj["invoiceCurrency"] = currency
        obj["archived"] = old["archived"] if old else False
        return obj

    def _build_classification(self, collection, body, old):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES[collection])}
        obj["name"] = self._str(body, "name", required=True, max_len=100)
        kind = collection.split("/", 1)[1]
        if kind == "chart-of-accounts":
            number = self._str(body, "accountNumber")
            if number:
                obj["accountNumber"] = number
            obj["accountType"] = self._str(body, "accountType") or "UNSPECIFIED"
        if kind == "items":
            obj["type"] = self._str(body, "type") or "SERVICE"
            price = self._num(body, "price")
            if price is not None:
                obj["price"] = out(money(price))
            percentage = self._num(body, "percentage")
            if obj["type"] == "SALES_TAX":
                if percentage is None or not 0 <= percentage <= 100:
                    raise _bad_value("percentage", "A SALES_TAX item needs a percentage from 0 to 100")
            if percentage is not None:
                obj["percentage"] = number_out(percentage)
        parent = body.get("parentId")
        if parent:
            self._ref(collection, parent, "parentId")
            if old and parent == old["id"]:
                raise _bad_value("parentId", "An object cannot be its own parent")
        if kind != "items":
            obj["parentId"] = parent or None
        description = self._str(body, "description")
        if description:
            obj["description"] = description
        obj["archived"] = old["archived"] if old else False
        return obj

    def _build_payment_term(self, body, old):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["payment-terms"])}
        obj["name"] = self._str(body, "name", required=True, max_len=100)
        days = self._num(body, "daysDue", required=True)
        if days != days.to_integral_value() or not 0 <= days <= 999:
            raise _bad_value("daysDue", "Must be a whole number from 0 to 999")
        for other in self.collections["payment-terms"].objects.values():
            if other["daysDue"] == int(days) and other["id"] != obj["id"]:
                raise _bad_value("daysDue", f"A payment term with daysDue {int(days)} already exists")
        obj["daysDue"] = int(days)
        return obj

    def _bill_line(self, line, label, stored, running):
        self._line_description(line, label, stored)
        quantity = self._num(line, "quantity", path=f"{label}.quantity")
        price = self._num(line, "price", path=f"{label}.price")
        amount = self._num(line, "amount", path=f"{label}.amount")
        if quantity is not None and price is not None:
            stored["quantity"] = line["quantity"]
            stored["price"] = out(money(price))
            if amount is None:
                amount = quantity * price
        if amount is None:
            raise _missing(f"{label}.amount")
        self._line_classifications(line, label, stored)
        return money(amount)

    def _build_bill(self, body, old, session_user):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["bills"])}
        vendor_id = self._id(body, "vendorId")
        vendor = self._ref("vendors", vendor_id, "vendorId",
                           allow_archived=bool(old and old["vendorId"] == vendor_id))
        if old and old["vendorId"] != vendor_id and dec(old["paidAmount"]) > 0:
            raise _bad_value("vendorId", "The vendor of a bill with payments cannot change")
        obj["vendorId"] = vendor_id
        obj["vendorName"] = vendor["name"]
        invoice = self._dict(body, "invoice", required=True)
        number = self._str(invoice, "invoiceNumber", required=True, max_len=100, path="invoice.invoiceNumber")
        date = self._date(invoice, "invoiceDate", required=True, path="invoice.invoiceDate")
        obj["invoice"] = {"invoiceNumber": number, "invoiceDate": date}
        obj["dueDate"] = self._date(body, "dueDate", required=True)
        lines, amount = self._lines("bills", body, old, self._bill_line)
        if amount < 0:
            raise _bad_value("billLineItems", "The bill amount cannot be negative")
        paid = dec(old["paidAmount"]) if old else ZERO
        credit = dec(old["creditAmount"]) if old else ZERO
        scheduled = dec(old.get("scheduledAmount")) if old else ZERO
        if amount < paid + scheduled:
            raise _bad_value("billLineItems", f"The bill amount {amount} is less than the amount "
                                              f"already paid or scheduled {paid + scheduled}")
        obj["amount"] = out(amount)
        obj["paidAmount"] = out(paid)
        obj["dueAmount"] = out(amount - paid)
        obj["creditAmount"] = out(credit)
        obj["scheduledAmount"] = out(scheduled)
        obj["paymentStatus"] = self._bill_status(amount, paid, scheduled)
        obj["approvalStatus"] = old["approvalStatus"] if old else self.default_approval_status
        obj["archived"] = old["archived"] if old else False
        obj["recordStatus"] = "INACTIVE" if obj["archived"] else "ACTIVE"
        for field in ("description", "purchaseOrderNumber"):
            value = self._str(body, field)
            if value:
                obj[field] = value
        if body.get("payFromChartOfAccountId"):
            self._ref("classifications/chart-of-accounts", body["payFromChartOfAccountId"],
                      "payFromChartOfAccountId")
            obj["payFromChartOfAccountId"] = body["payFromChartOfAccountId"]
        if body.get("paymentTermId"):
            self._ref("payment-terms", body["paymentTermId"], "paymentTermId")
            obj["paymentTermId"] = body["paymentTermId"]
        classes = self._classifications(body.get("classifications"), "classifications")
        if classes:
            obj["classifications"] = classes
        obj["billLineItems"] = lines
        if old and old.get("vendorCredits"):
            obj["vendorCredits"] = copy.deepcopy(old["vendorCredits"])
        obj["createdBy"] = old["createdBy"] if old else session_user
        return obj

    @staticmethod
    def _bill_status(amount, paid, scheduled=ZERO):
        if paid <= 0:
            return "SCHEDULED" if scheduled > 0 else "UNPAID"
        if paid < amount:
            return "PARTIALLY_PAID"
        return "PAID"

    def _invoice_line(self, line, label, stored, running):
        quantity = self._num(line, "quantity", required=True, path=f"{label}.quantity")
        price = self._num(line, "price", path=f"{label}.price") or ZERO
        if line.get("itemId"):
            self._ref("classifications/items", line["itemId"], f"{label}.itemId")
            stored["itemId"] = line["itemId"]
        self._line_description(line, label, stored)
        stored["quantity"] = line["quantity"]
        stored["price"] = out(money(price))
        taxable = line.get("taxable")
        if taxable is not None:
            if not isinstance(taxable, bool):
                raise _bad_type(f"{label}.taxable", "a boolean")
            stored["taxable"] = taxable
        self._line_classifications(line, label, stored)
        return money(quantity * price)

    def _build_invoice(self, body, old, session_user):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["invoices"])}
        customer = body.get("customer")
        if customer is None:
            raise ApiError(400, "BDC_1108", "customer: The customer field is required")
        if not isinstance(customer, dict):
            raise ApiError(400, "BDC_1124", "customer: Cannot construct instance of `InvoiceCustomer` "
                                            "(no String-argument constructor/factory method to "
                                            "deserialize from String value)")
        if customer.get("id"):
            self._ref("customers", customer["id"], "customer.id",
                      allow_archived=bool(old and old["customerId"] == customer["id"]))
            customer_id = customer["id"]
        else:
            if not customer.get("name"):
                raise _missing("customer.id")
            inline = self._build_customer(customer, None)
            self._insert(self.collections["customers"], inline)
            customer_id = inline["id"]
        if old and old["customerId"] != customer_id and self._invoice_cash_paid(old) > 0:
            raise _bad_value("customer.id", "The customer of an invoice with payments cannot change")
        obj["customerId"] = customer_id
        number = self._str(body, "invoiceNumber", max_len=100)
        if not number:
            number = old["invoiceNumber"] if old else str(self._next_invoice_number)
            if not old:
                self._next_invoice_number += 1
        obj["invoiceNumber"] = number
        today = self._today()
        obj["invoiceDate"] = self._date(body, "invoiceDate", default=old["invoiceDate"] if old else today)
        obj["dueDate"] = self._date(body, "dueDate", default=old["dueDate"] if old else obj["invoiceDate"])
        lines, total = self._lines("invoices", body, old, self._invoice_line)
        if total < 0:
            raise _bad_value("invoiceLineItems", "The invoice total cannot be negative")
        tax_item_id, rate, tax = self._sales_tax(body, lines)
        total += tax
        cash = self._invoice_cash_paid(old) if old else ZERO
        credit = self._num(body, "creditAmount")
        if credit is None:
            credit = dec(old["creditAmount"]) if old else ZERO
        credit = money(credit)
        if credit < 0:
            raise _bad_value("creditAmount", "The credit amount cannot be negative")
        if total - cash - credit < 0:
            raise _bad_value("creditAmount" if credit else "invoiceLineItems",
                             f"The invoice total {total} is less than the amount paid {cash} "
                             f"plus the credit applied {credit}")
        obj["totalAmount"] = out(total)
        obj["dueAmount"] = out(total - cash - credit)
        obj["status"] = self._invoice_status(total, cash, credit)
        obj["scheduledAmount"] = 0.0
        obj["creditAmount"] = out(credit)
        obj["salesTaxTotal"] = out(tax)
        obj["salesTaxPercentage"] = number_out(rate)
        if tax_item_id:
            obj["salesTaxItemId"] = tax_item_id
        description = self._str(body, "description")
        if description:
            obj["description"] = description
        if body.get("payToChartOfAccountId"):
            self._ref("classifications/chart-of-accounts", body["payToChartOfAccountId"],
                      "payToChartOfAccountId")
            obj["payToChartOfAccountId"] = body["payToChartOfAccountId"]
        classes = self._classifications(body.get("classifications"), "classifications",
                                        ("accountingClassId", "departmentId", "jobId", "locationId"))
        if classes:
            obj["classifications"] = classes
        obj["invoiceLineItems"] = lines
        options = self._dict(body, "processingOptions")
        if options:
            obj["processingOptions"] = options
        obj["archived"] = old["archived"] if old else False
        obj["recordStatus"] = "INACTIVE" if obj["archived"] else "ACTIVE"
        obj["createdBy"] = old["createdBy"] if old else session_user
        return obj

    def _sales_tax(self, body, lines):
        """(item id, rate, tax) for ``salesTaxItemId``: the SALES_TAX item's percentage of the taxable lines."""
        item_id = body.get("salesTaxItemId")
        if item_id in (None, ""):
            return None, ZERO, ZERO
        item = self._ref("classifications/items", item_id, "salesTaxItemId")
        if item.get("type") != "SALES_TAX":
            raise _bad_value("salesTaxItemId", f"The item {item_id} is not a SALES_TAX item")
        rate = dec(item.get("percentage"))
        taxable = sum((dec(line["amount"]) for line in lines if line.get("taxable")), ZERO)
        return item_id, rate, money(taxable * rate / 100)

    @staticmethod
    def _invoice_cash_paid(invoice):
        return dec(invoice["totalAmount"]) - dec(invoice["dueAmount"]) - dec(invoice["creditAmount"])

    @staticmethod
    def _invoice_status(total, cash, credit):
        due = total - cash - credit
        if due <= 0 and total > 0:
            return "PAID_IN_FULL"
        if cash > 0:
            return "PARTIAL_PAYMENT"
        return "OPEN"

    def _vendor_credit_line(self, line, label, stored, running):
        self._line_description(line, label, stored)
        amount = self._num(line, "amount", required=True, path=f"{label}.amount")
        self._line_classifications(line, label, stored)
        return money(amount)

    def _vendor_credit_account(self, body, obj):
        """The account a vendor credit applies to: a chart-of-accounts entry or a bank account."""
        if body.get("applyToChartOfAccountId"):
            self._ref("classifications/chart-of-accounts", body["applyToChartOfAccountId"],
                      "applyToChartOfAccountId")
            obj["applyToChartOfAccountId"] = body["applyToChartOfAccountId"]
        elif body.get("applyToBankAccountId"):
            obj["applyToBankAccountId"] = self._str(body, "applyToBankAccountId")

    def _build_credit(self, collection, body, old, compute, extra=None):
        """A vendor credit or a credit memo (``collection``): one party, lines, an applied part.

        ``compute`` builds one line; ``extra(body, obj)`` adds the fields only one kind has."""
        kind = CREDIT_KINDS[collection]
        party = kind["party"]
        obj = {"id": old["id"] if old else self.new_id(PREFIXES[collection])}
        party_id = self._id(body, party)
        self._ref(kind["parties"], party_id, party, allow_archived=bool(old))
        if old and old[party] != party_id and dec(old["appliedAmount"]) > 0:
            raise _bad_value(party, kind["party_fixed"])
        obj[party] = party_id
        obj["referenceNumber"] = self._str(body, "referenceNumber", required=True, max_len=100)
        obj["creditDate"] = self._date(body, "creditDate", required=True)
        description = self._str(body, "description")
        if description:
            obj["description"] = description
        if extra:
            extra(body, obj)
        lines_key, what = LINE_KEYS[collection], kind["total_name"]
        lines, total = self._lines(collection, body, old, compute)
        applied = dec(old["appliedAmount"]) if old else ZERO
        if total <= 0:
            raise _bad_value(lines_key, f"{what} must be more than zero")
        if total < applied:
            raise _bad_value(lines_key, f"{what} {total} is less than the amount already applied {applied}")
        obj[lines_key] = lines
        obj[kind["total"]] = out(total)
        obj["appliedAmount"] = out(applied)
        obj["availableAmount"] = out(total - applied)
        obj["archived"] = old["archived"] if old else False
        return obj

    def _credit_memo_line(self, line, label, stored, running):
        self._line_description(line, label, stored)
        rate = self._num(line, "ratePercent", path=f"{label}.ratePercent")
        if rate is not None:
            stored["ratePercent"] = line["ratePercent"]
            amount = running * rate / 100
        else:
            quantity = self._num(line, "quantity", path=f"{label}.quantity")
            price = self._num(line, "price", required=True, path=f"{label}.price")
            if quantity is None:
                quantity = Decimal(1)
            else:
                stored["quantity"] = line["quantity"]
            stored["price"] = out(money(price))
            amount = quantity * price
        self._line_classifications(line, label, stored)
        return money(amount)

