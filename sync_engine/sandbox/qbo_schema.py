"""Which properties each QBO object has, so a write naming anything else is
refused the way QBO refuses it.

QBO reads a request body into its schema classes
(``com.intuit.schema.finance.v3.*``) and stops at the first property the class
does not declare, answering HTTP 400 with a ``ValidationFault``::

    code 2010, "Request has invalid or unsupported property",
    Detail 'Property Name:Unrecognized field "Amount" (class
    com.intuit.schema.finance.v3.SalesItemLineDetail), not marked as ignorable
    (18 known properties: "ItemRef", ...]) specified is unsupported or invalid'

(seen verbatim by python-quickbooks users: ej2/python-quickbooks issues #299,
#80 and #38). Names are matched exactly: the reader is case sensitive.

The sets below are the classes' declared properties. They include the
read-only ones the server computes (``Id``, ``SyncToken``, ``sparse``,
``domain``, ``status``, ``MetaData``, ``TotalAmt``, ``Balance``,
``RemainingCredit``, ``UnappliedAmt``, ``LinkedTxn``, ``FullyQualifiedName``...):
they are properties of the class, so QBO reads them without complaint and then
ignores or recomputes them; a client that sends back what it read is not
refused. A property of another entity (``APAccountRef`` on an Invoice) is.
"""
from .qbo_common import QBOFault

_ENTITY = {"Id", "SyncToken", "MetaData", "CustomField", "AttachableRef", "domain", "status", "sparse"}
_TRANSACTION = _ENTITY | {
    "DocNumber", "TxnDate", "DepartmentRef", "CurrencyRef", "ExchangeRate", "PrivateNote", "TxnStatus",
    "LinkedTxn", "Line", "TxnTaxDetail", "TxnSource", "TaxFormType", "TaxFormNum", "TransactionLocationType",
    "Tag", "TxnApprovalInfo", "RecurDataRef", "RecurringInfo", "ProjectRef"}
_SALES = _TRANSACTION | {
    "AutoDocNumber", "CustomerRef", "CustomerMemo", "BillAddr", "ShipAddr", "FreeFormAddress", "ShipFromAddr",
    "RemitToRef", "ClassRef", "SalesTermRef", "DueDate", "SalesRepRef", "PONumber", "FOB", "ShipMethodRef",
    "ShipDate", "TrackingNum", "GlobalTaxCalculation", "TotalAmt", "HomeTotalAmt", "ApplyTaxAfterDiscount",
    "TemplateRef", "PrintStatus", "EmailStatus", "BillEmail", "BillEmailCc", "BillEmailBcc", "ARAccountRef",
    "Balance", "HomeBalance", "FinanceCharge", "PaymentMethodRef", "PaymentRefNum", "PaymentType",
    "CheckPayment", "CreditCardPayment", "DepositToAccountRef", "DeliveryInfo", "DiscountRate", "DiscountAmt",
    "GovtTxnRefIdentifier", "TaxExemptionRef"}
_NAME_BASE = _ENTITY | {
    "Organization", "Title", "GivenName", "MiddleName", "FamilyName", "Suffix", "FullyQualifiedName",
    "CompanyName", "DisplayName", "PrintOnCheckName", "UserId", "Active", "V4IDPseudonym", "PrimaryPhone",
    "AlternatePhone", "Mobile", "Fax", "PrimaryEmailAddr", "WebAddr", "OtherContactInfo", "DefaultTaxCodeRef"}

ENTITY_FIELDS = {
    "Bill": _TRANSACTION | {
        "VendorRef", "VendorAddr", "PayerRef", "SalesTermRef", "DueDate", "RemitToAddr", "ShipAddr",
        "APAccountRef", "TotalAmt", "HomeTotalAmt", "Balance", "HomeBalance", "GlobalTaxCalculation",
        "IncludeInAnnualTPAR", "BillEx"},
    "VendorCredit": _TRANSACTION | {
        "VendorRef", "PayerRef", "APAccountRef", "TotalAmt", "HomeTotalAmt", "Balance", "GlobalTaxCalculation",
        "IncludeInAnnualTPAR", "VendorCreditEx"},
    "Invoice": _SALES | {
        "Deposit", "AllowIPNPayment", "AllowOnlinePayment", "AllowOnlineCreditCardPayment",
        "AllowOnlineACHPayment", "EInvoiceStatus", "ECloudStatusTimeStamp", "InvoiceLink", "InvoiceEx"},
    "CreditMemo": _SALES | {"RemainingCredit", "InvoiceRef", "CreditMemoEx"},
    "Payment": _TRANSACTION | {
        "CustomerRef", "RemitToRef", "ARAccountRef", "DepositToAccountRef", "PaymentMethodRef", "PaymentRefNum",
        "CreditCardPayment", "TotalAmt", "UnappliedAmt", "ProcessPayment", "PaymentEx"},
    "BillPayment": _TRANSACTION | {
        "VendorRef", "PayType", "CheckPayment", "CreditCardPayment", "APAccountRef", "TotalAmt",
        "ProcessBillPayment", "BillPaymentEx"},
    "Deposit": _TRANSACTION | {
        "DepositToAccountRef", "CashBack", "TotalAmt", "HomeTotalAmt", "GlobalTaxCalculation", "DepositEx"},
    "Vendor": _NAME_BASE | {
        "ContactName", "AltContactName", "Notes", "BillAddr", "ShipAddr", "OtherAddr", "TaxCountry",
        "TaxIdentifier", "BusinessNumber", "ParentRef", "VendorTypeRef", "TermRef", "PrefillAccountRef",
        "Balance", "BillRate", "OpenBalanceDate", "CreditLimit", "AcctNum", "Vendor1099", "T4AEligible",
        "T5018Eligible", "CurrencyRef", "TaxReportingBasis", "APAccountRef", "VendorEx", "GSTIN",
        "GSTRegistrationType", "IsSubContractor", "HasTPAR", "VendorPaymentBankDetail", "Source"},
    "Customer": _NAME_BASE | {
        "Taxable", "BillAddr", "ShipAddr", "OtherAddr", "ContactName", "AltContactName", "Notes", "Job",
        "BillWithParent", "RootCustomerRef", "ParentRef", "Level", "CustomerTypeRef", "SalesTermRef",
        "SalesRepRef", "TaxGroupCodeRef", "TaxRateRef", "PaymentMethodRef", "CCDetail", "PriceLevelRef",
        "Balance", "OpenBalanceDate", "BalanceWithJobs", "CreditLimit", "AcctNum", "CurrencyRef",
        "OverDueBalance", "TotalRevenue", "TotalExpense", "PreferredDeliveryMethod", "ResaleNum", "JobInfo",
        "TDSEnabled", "CustomerEx", "SecondaryTaxIdentifier", "ARAccountRef", "PrimaryTaxIdentifier",
        "TaxExemptionReasonId", "IsProject", "BusinessNumber", "GSTIN", "GSTRegistrationType",
        "IsCISContractor", "ClientCompanyId", "ClientEntityId", "Source"},
    "Employee": _NAME_BASE | {
        "EmployeeType", "EmployeeNumber", "SSN", "PrimaryAddr", "OtherAddr", "BillableTime", "BillRate",
        "BirthDate", "Gender", "HiredDate", "ReleasedDate", "CostRate", "EmployeeEx"},
    "Account": _ENTITY | {
        "Name", "SubAccount", "ParentRef", "Description", "FullyQualifiedName", "AccountAlias",
        "TxnLocationType", "Active", "Classification", "AccountType", "AccountSubType", "AccountPurposes",
        "AcctNum", "AcctNumExtn", "BankNum", "OpeningBalance", "OpeningBalanceDate", "CurrentBalance",
        "CurrentBalanceWithSubAccounts", "CurrencyRef", "TaxAccount", "TaxCodeRef", "OnlineBankingEnabled",
        "FIName", "JournalCodeRef", "AccountEx"},
    "Class": _ENTITY | {"Name", "SubClass", "ParentRef", "FullyQualifiedName", "Active", "ClassEx"},
    "Department": _ENTITY | {"Name", "SubDepartment", "ParentRef", "FullyQualifiedName", "Active",
                             "DepartmentEx"},
    "Item": _ENTITY | {
        "Name", "Sku", "Description", "Active", "SubItem", "ParentRef", "Level", "FullyQualifiedName",
        "Taxable", "SalesTaxIncluded", "PercentBased", "UnitPrice", "RatePercent", "Type", "PaymentMethodRef",
        "UOMSetRef", "IncomeAccountRef", "PurchaseDesc", "PurchaseTaxIncluded", "PurchaseCost",
        "ExpenseAccountRef", "COGSAccountRef", "AssetAccountRef", "PrefVendorRef", "AvgCost", "TrackQtyOnHand",
        "QtyOnHand", "QtyOnPurchaseOrder", "QtyOnSalesOrder", "ReorderPoint", "ManPartNum",
        "DepositToAccountRef", "SalesTaxCodeRef", "PurchaseTaxCodeRef", "InvStartDate", "BuildPoint",
        "PrintGroupedItems", "SpecialItem", "SpecialItemType", "ItemGroupDetail", "ItemAssemblyDetail",
        "AbatementRate", "ReverseChargeRate", "ServiceType", "ItemCategoryType", "ItemEx",
        "TaxClassificationRef", "UQCDisplayText", "UQCId", "ClassRef", "Source"},
    "Term": _ENTITY | {
        "Name", "Active", "Type", "DiscountPercent", "DueDays", "DiscountDays", "DayOfMonthDue",
        "DueNextMonthDays", "DiscountDayOfMonth", "SalesTermEx"},
    "Attachable": _ENTITY | {
        "FileName", "FileAccessUri", "TempDownloadUri", "Size", "ContentType", "Category", "Lat", "Long",
        "PlaceName", "Note", "Tag", "ThumbnailFileAccessUri", "ThumbnailTempDownloadUri", "AttachableEx"},
}

# line detail property -> its class
LINE_DETAILS = {
    "SalesItemLineDetail": "SalesItemLineDetail",
    "ItemBasedExpenseLineDetail": "ItemBasedExpenseLineDetail",
    "AccountBasedExpenseLineDetail": "AccountBasedExpenseLineDetail",
    "GroupLineDetail": "GroupLineDetail",
    "DiscountLineDetail": "DiscountLineDetail",
    "SubTotalLineDetail": "SubTotalLineDetail",
    "DescriptionLineDetail": "DescriptionLineDetail",
    "DepositLineDetail": "DepositLineDetail",
    "PaymentLineDetail": "PaymentLineDetail",
    "TaxLineDetail": "TaxLineDetail",
    "ReimburseLineDetail": "ReimburseLineDetail",
    "PurchaseOrderItemLineDetail": "PurchaseOrderItemLineDetail",
    "SalesOrderItemLineDetail": "SalesOrderItemLineDetail",
    "ItemReceiptLineDetail": "ItemReceiptLineDetail",
    "JournalEntryLineDetail": "JournalEntryLineDetail",
    "TDSLineDetail": "TDSLineDetail",
    "ItemAdjustmentLineDetail": "ItemAdjustmentLineDetail",
}

CLASS_FIELDS = {
    "Line": {"Id", "LineNum", "Description", "Amount", "Received", "LinkedTxn", "DetailType", "CustomField",
             "LineEx", "ProjectRef"} | set(LINE_DETAILS),
    "LinkedTxn": {"TxnId", "TxnType", "TxnLineId"},
    "AttachableRef": {"EntityRef", "LineInfo", "IncludeOnSend", "Inactive", "NoRefOnly", "CustomField",
                      "AttachableRefEx"},
    "ReferenceType": {"value", "name", "type"},
    "ModificationMetaData": {"CreatedByRef", "CreateTime", "LastModifiedByRef", "LastUpdatedTime",
                             "LastChangedInQB", "Synchronized"},
    "TxnTaxDetail": {"DefaultTaxCodeRef", "TxnTaxCodeRef", "TotalTax", "TaxReviewStatus", "TaxLine"},
    "PhysicalAddress": {"Id", "Line1", "Line2", "Line3", "Line4", "Line5", "City", "Country", "CountryCode",
                        "County", "CountrySubDivisionCode", "PostalCode", "PostalCodeSuffix", "Lat", "Long",
                        "Tag", "Note"},
    "EmailAddress": {"Address", "Default", "Tag"},
    "TelephoneNumber": {"Id", "DeviceType", "CountryCode", "AreaCode", "ExchangeCode", "Extension",
                        "FreeFormNumber", "Default", "Tag"},
    "WebSiteAddress": {"URI", "Default", "Tag"},
    "CustomField": {"DefinitionId", "Name", "Type", "StringValue", "BooleanValue", "DateValue", "NumberValue"},
    "BillPaymentCheck": {"BankAccountRef", "PayeeAddr", "PrintStatus", "CheckDetail"},
    "BillPaymentCreditCard": {"CCAccountRef", "CCDetail"},
    "SalesItemLineDetail": {
        "ItemRef", "DiscountRate", "TaxClassificationRef", "ServiceDate", "UnitPrice", "TaxInclusiveAmt",
        "InventorySiteRef", "MarkupInfo", "SalesItemLineDetailEx", "PriceLevelRef", "ItemAccountRef",
        "ClassRef", "DeferredRevenue", "UOMRef", "RatePercent", "DiscountAmt", "Qty", "TaxCodeRef"},
    "ItemBasedExpenseLineDetail": {
        "ItemRef", "ClassRef", "UnitPrice", "RatePercent", "PriceLevelRef", "MarkupInfo", "Qty", "UOMRef",
        "ItemAccountRef", "InventorySiteRef", "TaxCodeRef", "TaxClassificationRef", "CustomerRef",
        "BillableStatus", "TaxInclusiveAmt", "ItemBasedExpenseLineDetailEx"},
    "AccountBasedExpenseLineDetail": {
        "CustomerRef", "ClassRef", "AccountRef", "BillableStatus", "MarkupInfo", "TaxAmount", "TaxCodeRef",
        "TaxInclusiveAmt", "TaxClassificationRef", "AccountBasedExpenseLineDetailEx"},
    "GroupLineDetail": {"GroupItemRef", "Quantity", "UOMRef", "ServiceDate", "Line"},
    "DiscountLineDetail": {"DiscountRef", "PercentBased", "DiscountPercent", "DiscountAccountRef",
                           "ServiceDate", "ClassRef", "TaxCodeRef", "DiscountLineDetailEx"},
    "SubTotalLineDetail": {"ItemRef", "ServiceDate"},
    "DescriptionLineDetail": {"ServiceDate", "TaxCodeRef"},
    "DepositLineDetail": {"Entity", "ClassRef", "AccountRef", "PaymentMethodRef", "CheckNum", "TxnType",
                          "TaxCodeRef", "TaxApplicableOn"},
}

# property -> class of its value wherever it appears (``*Ref`` are ReferenceType)
_NESTED = {
    "Line": "Line", "TaxLine": "Line", "LinkedTxn": "LinkedTxn", "AttachableRef": "AttachableRef",
    "MetaData": "ModificationMetaData", "TxnTaxDetail": "TxnTaxDetail",
    "CustomField": "CustomField", "BillAddr": "PhysicalAddress", "ShipAddr": "PhysicalAddress",
    "OtherAddr": "PhysicalAddress", "VendorAddr": "PhysicalAddress", "RemitToAddr": "PhysicalAddress",
    "PrimaryAddr": "PhysicalAddress", "ShipFromAddr": "PhysicalAddress", "PayeeAddr": "PhysicalAddress",
    "PrimaryEmailAddr": "EmailAddress", "BillEmail": "EmailAddress", "BillEmailCc": "EmailAddress",
    "BillEmailBcc": "EmailAddress", "PrimaryPhone": "TelephoneNumber", "AlternatePhone": "TelephoneNumber",
    "Mobile": "TelephoneNumber", "Fax": "TelephoneNumber", "WebAddr": "WebSiteAddress",
    **LINE_DETAILS,
}
# CheckPayment / CreditCardPayment are different classes on a BillPayment
_PER_ENTITY = {("BillPayment", "CheckPayment"): "BillPaymentCheck",
               ("BillPayment", "CreditCardPayment"): "BillPaymentCreditCard"}


def _unrecognized(field, cls, known):
    listed = ", ".join(f'"{name}"' for name in sorted(known))
    return QBOFault("2010", "Request has invalid or unsupported property",
                    f'Property Name:Unrecognized field "{field}" (class com.intuit.schema.finance.v3.{cls}), '
                    f"not marked as ignorable ({len(known)} known properties: {listed}]) "
                    "specified is unsupported or invalid")


def _check(entity, cls, node):
    if isinstance(node, list):
        for item in node:
            _check(entity, cls, item)
        return
    if not isinstance(node, dict):
        return
    known = CLASS_FIELDS.get(cls) if cls != entity else ENTITY_FIELDS[entity]
    if known is None:
        return
    for key, value in node.items():
        if key not in known:
            raise _unrecognized(key, cls, known)
        if not isinstance(value, (dict, list)):
            continue
        child = _PER_ENTITY.get((entity, key)) or _NESTED.get(key)
        if child is None and key.endswith("Ref"):
            child = "ReferenceType"
        if child:
            _check(entity, child, value)


def check_properties(entity, body):
    """Raise the 2010 fault for the first property ``entity`` does not have."""
    if entity in ENTITY_FIELDS:
        _check(entity, entity, body)
