"""A local emulator of Microsoft Advertising's offline-conversion endpoints.

Serves, on 127.0.0.1:

* ``POST /CampaignManagement/v13/OfflineConversions/Apply`` (ApplyOfflineConversions);
* ``POST /CampaignManagement/v13/OfflineConversionReport/QueryByGoalIds``;
* ``POST /common/oauth2/v2.0/token`` and ``/consumers/oauth2/v2.0/token`` (refresh grant).

It checks headers, limits, field types, time windows and hash formats as
seed_apis.md (A, D.1) describes, answers with Microsoft-shaped ``PartialErrors``
and faults, keeps what it accepted and derives the report from it. Fault helpers
(:mod:`plugins.microsoft.emulator_faults`, and :meth:`~MicrosoftAdsEmulator.expire_token`)
inject throttling (HTTP 429 or code 117), expired tokens (109), 5xx, slow answers
and dropped connections. Its clock is injectable (``clock=`` epoch seconds).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import time
from collections.abc import Callable, Iterable
from typing import Any, TypedDict

from connector.kit import Emulator, Fault, Request, Response
from connector.kit.emulator import CONTROL, Connection
from plugins.microsoft import emulator_report
from plugins.microsoft.currencies import CONVERSION_CURRENCIES
from plugins.microsoft.emulator_errors import (
    api_fault,
    batch_error,
    oauth_error,
    tracking_id,
    wrapped,
)
from plugins.microsoft.emulator_faults import MicrosoftFaults
from plugins.microsoft.emulator_headers import HeaderRules, check_headers
from plugins.microsoft.emulator_rules import (
    Goal,
    Rejected,
    Upload,
    check_conversion,
    parse_report_query,
)

APPLY = "/CampaignManagement/v13/OfflineConversions/Apply"
REPORT = "/CampaignManagement/v13/OfflineConversionReport/QueryByGoalIds"
TOKEN_PATHS = ("/common/oauth2/v2.0/token", "/consumers/oauth2/v2.0/token")
#: The sandbox's universal developer token (guides/get-started).
DEVELOPER_TOKEN = "BBD37VB98"
ACCESS_TOKEN = "emulator-access-token"
REFRESH_TOKEN = "emulator-refresh-token"
CLIENT_ID = "emulator-client-id"
CUSTOMER_ID = "1234567"
ACCOUNT_ID = "7654321"
DEFAULT_GOALS = (Goal("4000123", "Store Sale"), Goal("4000124", "Phone Order"))
_CONTROLS = {"reset", "throttle", "fault_code", "expire_token", "fail_apply", "refuse_refresh",
             "goals"}


class _Config(TypedDict):
    """The constructor's settings, which :meth:`MicrosoftAdsEmulator.reset` goes back to."""

    goals: tuple[Goal, ...]
    accounts: dict[str, set[str]] | None
    developer_token: str
    known_clicks: dict[str, dt.datetime] | None
    require_click_id: bool
    strict_fields: bool
    currencies: frozenset[str]
    click_checks: str
    missing_header_code: int
    invalid_customer: str
    envelope: str
    report_end: str
    report_midnight_only: bool
    max_conversions: int
    max_goal_ids: int
    max_report_days: int


class MicrosoftAdsEmulator(MicrosoftFaults, Emulator):
    """Microsoft Advertising Campaign Management v13 (offline conversions), emulated.

    :param goals: the account's offline conversion goals (default: "Store Sale"
        4000123 and "Phone Order" 4000124).
    :param accounts: customer id -> account ids the token may use.
    :param known_clicks: click id -> click time; when given, other click ids are
        reported as ``NoMatchingClickFound`` (default: every click id matches).
    :param require_click_id: refuse conversions without MicrosoftClickId even with
        hashes (the 2024 docs' "Apply: Required"; the default follows the current docs:
        a click id, or a hashed email or phone, is enough).
    :param currencies: the ConversionCurrencyCode values accepted (default: Microsoft's
        conversion currency list; pass ISO 4217's to play the other reading).
    :param click_checks: ``"upload"`` (default): a conversion earlier than its known click,
        or outside the goal's window, gets 5616 / 5617 at upload; ``"report"``: it is
        accepted and reported as ``ClickTimestampAfterConversion`` /
        ``OutsideGoalLookbackWindow``.
    :param missing_header_code: 116 (default) or 105 for a missing Authorization or
        DeveloperToken header.
    :param invalid_customer: ``"code"`` (1490, default) or ``"auth_fault"``
        (AdCenterAuthenticationFault InvalidCustomerId).
    :param envelope: ``"top"`` (default: the fault is the body) or ``"wrapped"``
        (``{"ApplicationFault": fault}``).
    :param report_end: ``"inclusive"`` (default: EndDateUtc's day is in the report) or
        ``"exclusive"`` (EndDateUtc is an instant the report stops before).
    :param report_midnight_only: refuse a report date whose time is not 00:00:00 (113).
    :param max_goal_ids: GoalIds per report request (20 on the current page, 100 in 2024).
    """

    name = "microsoft"

    def __init__(self, *, port: int = 0, clock: Callable[[], float] = time.time,
                 goals: Iterable[Goal] = DEFAULT_GOALS,
                 accounts: dict[str, set[str]] | None = None,
                 developer_token: str = DEVELOPER_TOKEN,
                 known_clicks: dict[str, dt.datetime] | None = None,
                 require_click_id: bool = False, strict_fields: bool = True,
                 currencies: Iterable[str] = CONVERSION_CURRENCIES,
                 click_checks: str = "upload", missing_header_code: int = 116,
                 invalid_customer: str = "code", envelope: str = "top",
                 report_end: str = "inclusive", report_midnight_only: bool = False,
                 max_conversions: int = 1000, max_goal_ids: int = 20, max_report_days: int = 7):
        super().__init__(port=port, clock=clock)
        for name, value, allowed in (("click_checks", click_checks, ("upload", "report")),
                                     ("missing_header_code", missing_header_code, (116, 105)),
                                     ("invalid_customer", invalid_customer,
                                      ("code", "auth_fault")),
                                     ("envelope", envelope, ("top", "wrapped")),
                                     ("report_end", report_end, ("inclusive", "exclusive"))):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
        self._config: _Config = {"goals": tuple(goals), "accounts": accounts,
                        "developer_token": developer_token, "known_clicks": known_clicks,
                        "require_click_id": require_click_id, "strict_fields": strict_fields,
                        "currencies": frozenset(currencies), "click_checks": click_checks,
                        "missing_header_code": missing_header_code,
                        "invalid_customer": invalid_customer, "envelope": envelope,
                        "report_end": report_end, "report_midnight_only": report_midnight_only,
                        "max_conversions": max_conversions, "max_goal_ids": max_goal_ids,
                        "max_report_days": max_report_days}
        self._counter = itertools.count(1)
        self.reset()

    def reset(self) -> None:
        """Back to the state it started with: fixtures, tokens, no uploads, calls or faults."""
        c = self._config
        with self.lock:
            self.goals = {g.name: dataclasses.replace(g) for g in c["goals"]}
            self.accounts = ({k: set(v) for k, v in c["accounts"].items()}
                             if c["accounts"] is not None else {CUSTOMER_ID: {ACCOUNT_ID}})
            self.developer_token = c["developer_token"]
            self.known_clicks = dict(c["known_clicks"]) if c["known_clicks"] is not None else None
            self.require_click_id = c["require_click_id"]
            self.strict_fields = c["strict_fields"]
            self.currencies = c["currencies"]
            self.click_checks = c["click_checks"]
            self.missing_header_code = c["missing_header_code"]
            self.invalid_customer = c["invalid_customer"]
            self.envelope = c["envelope"]
            self.report_end = c["report_end"]
            self.report_midnight_only = c["report_midnight_only"]
            self.max_conversions = c["max_conversions"]
            self.max_goal_ids = c["max_goal_ids"]
            self.max_report_days = c["max_report_days"]
            #: access token -> expiry (epoch seconds; None: never)
            self.access_tokens: dict[str, float | None] = {ACCESS_TOKEN: None}
            #: refresh token -> the client id it was issued to
            self.refresh_tokens: dict[str, str] = {REFRESH_TOKEN: CLIENT_ID}
            self.uploads: list[Upload] = []
            self._keys: set[tuple[str, str, dt.datetime]] = set()  # click id, goal, time
            self.refreshes = 0
            self._apply_failures = 0
            self.calls.clear()
            self.clear_faults()
            self._counter = itertools.count(1)

    # -- clock and fixtures -------------------------------------------------------------
    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC)

    def add_goal(self, goal: Goal) -> Goal:
        with self.lock:
            self.goals[goal.name] = goal
        return goal

    def add_upload(self, upload: Upload) -> None:
        """Seed an upload (for example one made through ``WebUpload``) for the report."""
        with self.lock:
            self._keep(upload)

    def _keep(self, upload: Upload) -> None:
        self.uploads.append(upload)
        if upload.click_id is not None:
            self._keys.add((upload.click_id, upload.name, upload.time))

    def accepted(self) -> list[Upload]:
        with self.lock:
            return list(self.uploads)

    def connection(self) -> Connection:
        """The fixture credentials, customer and account, and the emulator's URLs."""
        return Connection(
            env={"MSADS_DEVELOPER_TOKEN": self._config["developer_token"],
                 "MSADS_ACCESS_TOKEN": ACCESS_TOKEN, "MSADS_REFRESH_TOKEN": REFRESH_TOKEN},
            settings={"customer_id": CUSTOMER_ID, "account_id": ACCOUNT_ID,
                      "base_url": self.url, "token_url": self.url + TOKEN_PATHS[0]})

    def snapshot(self) -> dict[str, Any]:
        return {"uploads": [{**u.raw, "GoalId": u.goal_id, "Channel": u.channel,
                             "UploadedAt": u.uploaded_at.isoformat(),
                             "UnattributedReason": u.reason} for u in self.uploads],
                "refreshes": self.refreshes}

    def expire_token(self, token: str = ACCESS_TOKEN) -> None:
        """Make ``token`` answer 109 AuthenticationTokenExpired from now on."""
        with self.lock:
            self.access_tokens[token] = self.clock() - 1

    # -- control API (other processes: POST /__emulator__/<action> with a JSON body) ---------
    def control(self, request: Request) -> Response | None:
        """``reset``, ``throttle``, ``fault_code``, ``expire_token``, ``fail_apply``,
        ``refuse_refresh`` (the fault helpers, keyword arguments as the JSON body) and
        ``goals`` (``{"id", "name", "active"}``: add or replace a goal)."""
        action = request.path[len(CONTROL) + 1:]
        if request.method != "POST" or action not in _CONTROLS:
            return None
        try:
            args = request.json() or {}
            if action == "goals":
                goal = Goal(str(args["id"]), str(args["name"]),
                            active=bool(args.get("active", True)))
                self.add_goal(goal)
                return Response(200, {"id": goal.id, "name": goal.name, "active": goal.active})
            result = getattr(self, action)(**args)
        except (TypeError, KeyError, ValueError) as exc:
            return Response(400, {"error": f"{action}: {exc}"})
        return Response(200, {"ok": True, "fault": dataclasses.asdict(result)}
                        if isinstance(result, Fault) else {"ok": True})

    # -- dispatch -------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        if request.path in TOKEN_PATHS:
            return self._token(request) if request.method == "POST" else Response(405, "")
        if request.path not in (APPLY, REPORT):
            return Response(404, {"Message": f"No HTTP resource matches {request.path}."})
        if request.method != "POST":
            return Response(405, {"Message": "The requested resource does not support "
                                             f"http method '{request.method}'."})
        response = self._answer(request)
        tracking = (response.body.get("TrackingId") if isinstance(response.body, dict)
                    else None) or tracking_id()
        response.headers.update({"TrackingId": tracking, "X-Request-Id": tracking})
        return wrapped(response) if self.envelope == "wrapped" else response

    def _answer(self, request: Request) -> Response:
        rules = HeaderRules(self.access_tokens, self.developer_token, self.accounts,
                            self.missing_header_code, self.invalid_customer)
        denied = check_headers(request, rules, self.clock())
        if denied is not None:
            return denied
        if not (request.header("Content-Type") or "").startswith("application/json"):
            return Response(415, {"Message": "Content-Type must be application/json."})
        try:
            body = request.json()
        except ValueError:
            return api_fault(100, "The body is not valid JSON.")
        return self._apply(body) if request.path == APPLY else self._report(body)

    def _apply(self, body: Any) -> Response:
        items = body.get("OfflineConversions") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return api_fault(5600)
        if len(items) > self.max_conversions:
            return api_fault(5601, f"At most {self.max_conversions} per request.")
        if self._apply_failures:
            self._apply_failures -= 1
            return Response(200, {"PartialErrors": [batch_error(5612, i)
                                                    for i in range(len(items))]})
        now = self.now()
        errors = []
        for index, item in enumerate(items):
            try:
                upload = check_conversion(item, now, self.goals,
                                          require_click_id=self.require_click_id,
                                          strict_fields=self.strict_fields,
                                          currencies=self.currencies)
                if self.click_checks == "upload":
                    self._check_click(upload)
            except Rejected as rejected:
                errors.append(batch_error(rejected.code, index, rejected.detail,
                                          rejected.field_path))
                continue
            upload.reason = self._attribution(upload)
            self._keep(upload)
        return Response(200, {"PartialErrors": errors or None})

    def _check_click(self, upload: Upload) -> None:
        """5616 / 5617 at upload, for a click the emulator knows (``click_checks="upload"``)."""
        clicked = (self.known_clicks or {}).get(upload.click_id or "")
        if clicked is None:
            return
        if clicked > upload.time:
            raise Rejected(5616, field_path="ConversionTime")
        if upload.time - clicked > self.goals[upload.name].window:
            raise Rejected(5617, field_path="MicrosoftClickId")

    def _attribution(self, upload: Upload) -> str | None:
        """Why the report will not attribute ``upload`` (None: attributed)."""
        if (upload.click_id, upload.name, upload.time) in self._keys:
            return "DuplicateConversionKey"  # silently ignored at upload, the first one wins
        goal = self.goals[upload.name]
        if not goal.active:
            return "GoalNotFoundOrInactive"
        if upload.click_id is not None and self.known_clicks is not None:
            clicked = self.known_clicks.get(upload.click_id)
            if clicked is None:
                return "NoMatchingClickFound"
            if clicked > upload.time:
                return "ClickTimestampAfterConversion"
            if upload.time - clicked > goal.window:
                return "OutsideGoalLookbackWindow"
        return None

    def _report(self, body: Any) -> Response:
        try:
            query = parse_report_query(body, max_goal_ids=self.max_goal_ids,
                                       max_days=self.max_report_days,
                                       end_exclusive=self.report_end == "exclusive",
                                       midnight_only=self.report_midnight_only)
        except Rejected as rejected:
            return api_fault(rejected.code, rejected.detail)
        goals_by_id = {g.id: g for g in self.goals.values()}
        return Response(200, emulator_report.report(query, goals_by_id, self.uploads))

    def _token(self, request: Request) -> Response:
        form = request.form()
        if form.get("grant_type") != "refresh_token":
            return oauth_error("unsupported_grant_type", "AADSTS70003: The grant type is not "
                                                         "supported by this emulator.")
        client = self.refresh_tokens.get(form.get("refresh_token", ""))
        if client is None or client != form.get("client_id"):
            return oauth_error("invalid_grant", "AADSTS70000: The refresh token is invalid "
                                                "or was issued to another client.")
        n = next(self._counter)
        access, refresh = f"emulator-access-{n}", f"emulator-refresh-{n}"
        self.access_tokens[access] = self.clock() + 3600
        self.refresh_tokens[refresh] = client
        self.refreshes += 1
        return Response(200, {"token_type": "Bearer", "scope": form.get("scope", ""),
                              "expires_in": 3600, "ext_expires_in": 3600,
                              "access_token": access, "refresh_token": refresh})
