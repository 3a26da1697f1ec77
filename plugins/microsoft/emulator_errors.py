"""Microsoft-shaped error bodies for the emulator.

Shapes from msads 13.0.30.1 (``models/campaign/*.py``): every error object carries
the ``Type`` discriminator the SDK switches on. Codes, symbolic names and messages
from ``guides/operation-error-codes.md`` (MicrosoftDocs/Advertising-docs).
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from connector.kit import Response

#: code -> (ErrorCode, Message)
CODES: dict[int, tuple[str, str]] = {
    0: ("InternalError", "An unidentified error has occurred."),
    100: ("NullRequest", "The request message is null."),
    105: ("InvalidCredentials", "Authentication failed. Either supplied credentials are invalid "
                                "or the account is inactive."),
    106: ("UserIsNotAuthorized", "The user is not authorized to perform this action."),
    109: ("AuthenticationTokenExpired", "Authentication token expired. Please renew it or "
                                        "obtain a new token."),
    116: ("RequestMissingHeaders", "One or more required header elements are missing from the "
                                   "request."),
    113: ("InvalidDateObject", "The date specified in the request is not valid."),
    117: ("CallRateExceeded", "You have exceeded the number of calls that you are allowed to "
                              "make in a minute. Please reduce the number of calls that you "
                              "make per minute."),
    201: ("ApiInputValidationError", "One or more input elements failed validation."),
    1009: ("CampaignServiceAccountIdMissingInRequestHeader",
           "The account ID must be specified in the request header."),
    1029: ("CampaignServiceCustomerIdHasToBeSpecified",
           "The CustomerId element must be specified for this operation."),
    1030: ("CampaignServiceAccountIdHasToBeSpecified",
           "The CustomerAccountId element must be specified for this operation."),
    1102: ("CampaignServiceInvalidAccountId", "The account identifier is not valid."),
    1490: ("CampaignServiceInvalidCustomerId", "The customer identifier is not valid."),
    513: ("CampaignServiceEntityIdsArrayExceedsLimit",
          "The number of entity IDs exceeds the maximum allowed."),
    514: ("CampaignServiceEntityIdsArrayExceedsLimit", "Ids passed are null or empty."),
    517: ("CampaignServiceEntityIdInvalid", "The entity identifier is invalid."),
    5600: ("OfflineConversionsNullOrEmpty", "The list of offline conversions cannot be null or "
                                            "empty."),
    5601: ("OfflineConversionsLimitExceeded", "The list of offline conversions exceeds the "
                                              "limit."),
    5602: ("OfflineConversionIsNull", "The offline conversion cannot be null."),
    5603: ("OfflineConversionMicrosoftClickIdNullOrEmpty",
           "The Microsoft Click Id of offline conversion cannot be null or empty."),
    5604: ("OfflineConversionMicrosoftClickIdInvalid", "The Microsoft Click Id is invalid."),
    5605: ("OfflineConversionNameNullOrEmpty", "The conversion name cannot be null or empty."),
    5606: ("OfflineConversionNameInvalid", "The conversion name does not match an existing "
                                           "offline conversion goal."),
    5607: ("OfflineConversionTimeInvalid", "The conversion time is invalid."),
    5608: ("OfflineConversionTimeNullOrEmpty", "The conversion time cannot be null or empty."),
    5609: ("OfflineConversionTimeOutOfWindow", "The conversion time is outside the conversion "
                                               "window."),
    5610: ("OfflineConversionValueInvalid", "The conversion value is invalid."),
    5611: ("OfflineConversionCurrencyCodeInvalid", "The currency code is invalid."),
    5612: ("OfflineConversionsApplyFailed", "Failed to apply the offline conversions. Please "
                                            "try again."),
    5614: ("FutureConversionTimeCannotBeSet", "The conversion time cannot be in the future."),
    5615: ("OfflineConversionNotAcceptedForGoal", "Offline conversions are accepted 2 hours "
                                                  "after the goal is created."),
    5616: ("ConversionTimeEarlierThanClickTime",
           "The conversion time must be later than the click time."),
    5617: ("ClickIdDateTimeOutsideGoalConversionWindow",
           "The date and time for the click ID is outside the conversion window for this goal."),
    8004: ("EmailMustBeHashed", "Email address can't be in plain text and must be hashed."),
}

_tracking = itertools.count(1)


def tracking_id() -> str:
    """A fresh TrackingId (deterministic sequence, GUID-shaped)."""
    return str(uuid.UUID(int=next(_tracking)))


def _item(code: int, detail: str | None) -> tuple[str, str]:
    error_code, message = CODES[code]
    return error_code, f"{message} {detail}" if detail else message


def batch_error(code: int, index: int, detail: str | None = None,
                field_path: str | None = None) -> dict[str, Any]:
    """One ``BatchError`` pointing at item ``index``."""
    error_code, message = _item(code, detail)
    return {"Code": code, "Details": None, "ErrorCode": error_code, "FieldPath": field_path,
            "ForwardCompatibilityMap": [], "Index": index, "Message": message,
            "Type": "BatchError"}


def ad_api_fault(status: int, code: int, detail: str | None = None) -> Response:
    """``AdApiFaultDetail``: authentication, authorization and throttling."""
    error_code, message = _item(code, detail)
    body = {"TrackingId": tracking_id(), "Type": "AdApiFaultDetail",
            "Errors": [{"Code": code, "Detail": None, "ErrorCode": error_code,
                        "Message": message, "Type": "AdApiError"}]}
    return Response(status, body)


def api_fault(code: int, detail: str | None = None, status: int = 400) -> Response:
    """``ApiFaultDetail`` with one operation error (the whole request is refused)."""
    error_code, message = _item(code, detail)
    body = {"TrackingId": tracking_id(), "Type": "ApiFaultDetail", "BatchErrors": [],
            "OperationErrors": [{"Code": code, "Details": detail, "ErrorCode": error_code,
                                 "Message": message, "Type": "OperationError"}]}
    return Response(status, body)


def authentication_fault(error_code: str, status: int = 401) -> Response:
    """An ``AdCenterAuthenticationFault`` (``ErrorCode``: ``NoCredential``,
    ``InvalidCustomerId`` or ``InvalidSecurityTicket``)."""
    return Response(status, {"TrackingId": tracking_id(), "Type": "AdCenterAuthenticationFault",
                             "ErrorCode": error_code,
                             "ErrorMessage": f"Authentication failed: {error_code}.",
                             "MTServerName": "emulator", "FaultingLayer": "CampaignManagement",
                             "ErrorSourceSystem": "emulator"})


def wrapped(response: Response) -> Response:
    """The same fault inside ``{"ApplicationFault": ...}``, as the REST migration guide
    shows it (``guides/php-sdk-migration-soap-to-rest.md``)."""
    if response.status < 400 or not isinstance(response.body, dict) or (
            "Type" not in response.body):
        return response
    return Response(response.status, {"ApplicationFault": response.body}, dict(response.headers))


def internal_error(status: int = 500) -> dict[str, Any]:
    """An ``AdCenterInternalErrorFault`` body."""
    return {"TrackingId": tracking_id(), "Type": "AdCenterInternalErrorFault",
            "ErrorMessage": "An internal error has occurred.", "MTServerName": "emulator",
            "FaultingLayer": "CampaignManagement", "ErrorSourceSystem": "emulator"}


def oauth_error(error: str, description: str) -> Response:
    """The OAuth token endpoint's error answer (HTTP 400)."""
    return Response(400, {"error": error, "error_description": description,
                          "error_codes": [70000], "trace_id": tracking_id()})
