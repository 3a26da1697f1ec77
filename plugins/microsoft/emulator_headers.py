"""The emulator's request-header checks, with the codes Microsoft documents.

Codes from ``guides/operation-error-codes.md`` (MicrosoftDocs/Advertising, checked
2026-12-04); header rules from ``campaign-management-service/includes/
request-header-rest.md``: ``Authorization: Bearer``, ``DeveloperToken``, ``CustomerId``
and ``CustomerAccountId`` (required for most operations). Which code answers which
header problem is not stated per operation; docs/microsoft.md lists the choices:

* a missing ``Authorization`` or ``DeveloperToken`` header: 116 RequestMissingHeaders
  (``missing_header_code``; 105 InvalidCredentials is the other reading);
* an unknown or malformed token, or a wrong developer token: 105; an expired one: 109;
* a missing ``CustomerId``: 1029; a missing ``CustomerAccountId``: 1030 (1029 was seen
  for a missing CustomerId, BingAds-PHP-SDK#152);
* an unknown customer: 1490 CampaignServiceInvalidCustomerId, or an
  ``AdCenterAuthenticationFault`` ``InvalidCustomerId`` (``invalid_customer="auth_fault"``);
* an account that exists under another customer: 106 UserIsNotAuthorized; an account
  that does not exist: 1102 CampaignServiceInvalidAccountId.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.kit import Request, Response
from plugins.microsoft.emulator_errors import ad_api_fault, api_fault, authentication_fault


@dataclass
class HeaderRules:
    """What the emulated account accepts, and which documented reading to play."""

    access_tokens: dict[str, float | None]
    developer_token: str
    accounts: dict[str, set[str]]
    missing_header_code: int = 116
    invalid_customer: str = "code"  # "code" (1490) or "auth_fault"


def check_headers(request: Request, rules: HeaderRules, now: float) -> Response | None:
    """The fault for the first header problem, or None when the headers are good."""
    auth = request.header("Authorization")
    developer = request.header("DeveloperToken")
    if auth is None or developer is None:
        status = 400 if rules.missing_header_code == 116 else 401
        return ad_api_fault(status, rules.missing_header_code)
    token = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
    if token not in rules.access_tokens:
        return ad_api_fault(401, 105)
    expiry = rules.access_tokens[token]
    if expiry is not None and now >= expiry:
        return ad_api_fault(401, 109)
    if developer != rules.developer_token:
        return ad_api_fault(401, 105)
    customer = (request.header("CustomerId") or "").strip()
    account = (request.header("CustomerAccountId") or "").strip()
    if not customer:
        return api_fault(1029)
    if not account:
        return api_fault(1030)
    if customer not in rules.accounts:
        if rules.invalid_customer == "auth_fault":
            return authentication_fault("InvalidCustomerId")
        return api_fault(1490)
    if account in rules.accounts[customer]:
        return None
    if any(account in ids for ids in rules.accounts.values()):
        return ad_api_fault(403, 106)
    return api_fault(1102)
