"""The appliance's recognizers, one per module, registered by class name.

``RECOGNIZERS`` is the one mapping the YAML recognizer set (``recognizers.yaml``) is checked
against: a name that is not here is a configuration error at engine start.
"""

from __future__ import annotations

from appliance.redaction.recognizers.bank_account_recognizer import BankAccountRecognizer
from appliance.redaction.recognizers.base import AppliancePatternRecognizer
from appliance.redaction.recognizers.credit_card_recognizer import CreditCardRecognizer
from appliance.redaction.recognizers.crypto_wallet_recognizer import CryptoWalletRecognizer
from appliance.redaction.recognizers.date_time_recognizer import DateTimeRecognizer
from appliance.redaction.recognizers.email_recognizer import EmailRecognizer
from appliance.redaction.recognizers.handle_recognizer import HandleRecognizer
from appliance.redaction.recognizers.iban_recognizer import IbanRecognizer
from appliance.redaction.recognizers.ip_recognizer import IpRecognizer
from appliance.redaction.recognizers.organization_field_recognizer import (
    OrganizationFieldRecognizer,
)
from appliance.redaction.recognizers.phone_recognizer import PhoneRecognizer
from appliance.redaction.recognizers.street_recognizer import StreetRecognizer
from appliance.redaction.recognizers.uk_nhs_recognizer import UkNhsRecognizer
from appliance.redaction.recognizers.url_recognizer import UrlRecognizer
from appliance.redaction.recognizers.us_driver_license_recognizer import UsDriverLicenseRecognizer
from appliance.redaction.recognizers.us_itin_recognizer import UsItinRecognizer
from appliance.redaction.recognizers.us_passport_recognizer import UsPassportRecognizer
from appliance.redaction.recognizers.us_ssn_recognizer import UsSsnRecognizer

RECOGNIZERS: dict[str, type[AppliancePatternRecognizer]] = {
    cls.__name__: cls
    for cls in (
        EmailRecognizer, PhoneRecognizer, CreditCardRecognizer, IbanRecognizer, UsSsnRecognizer,
        UsItinRecognizer, UsPassportRecognizer, UsDriverLicenseRecognizer, UkNhsRecognizer,
        IpRecognizer, UrlRecognizer, CryptoWalletRecognizer, DateTimeRecognizer,
        BankAccountRecognizer, StreetRecognizer, OrganizationFieldRecognizer, HandleRecognizer,
    )
}

__all__ = ["RECOGNIZERS", "AppliancePatternRecognizer", *RECOGNIZERS]
