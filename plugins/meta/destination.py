"""The Meta destination: offline events to the Conversions API.

``POST {base_url}/{api_version}/{dataset_id}/events`` with a form body: ``data``
(a JSON array of at most 1,000 events), ``access_token``, and the optional
``test_event_code`` and ``upload_tag``. Meta refuses a whole request for one bad
event (code 100) without naming it: that becomes :class:`BatchRejected`, and the
core splits the request until the bad event stands alone. An answer that counts fewer
events than were sent (``events_received``) is :class:`Unconfirmed`: not resent in the run.
"""

from __future__ import annotations

import json

import requests

from connector.kit import (
    Batch,
    BatchRejected,
    Column,
    Contract,
    Destination,
    Fatal,
    Limits,
    Outcome,
    Retryable,
    RunContext,
    Unconfirmed,
    shaped_schema,
)
from connector.kit import http as offramp_http
from connector.kit.contract import Kind
from connector.kit.events import LINE_ITEM_REASONS, REJECT_TIMED, SOURCE_KEY, SOURCE_ROWS
from plugins.meta import usage
from plugins.meta.emulator import MetaEmulator
from plugins.meta.settings import MetaSettings
from plugins.meta.shaping import order_key, shape_sql

RETRY_CODES = {1, 2}
THROTTLE_CODES = {4, 17, 32, 341, 613, 80003}
WAIT_CODES = {368}
PERMISSION_CODES = {10, *range(200, 300)}
#: Business use case limits (80000 ads_insights ... 80014 catalog): Meta names 80004 for
#: the ads-management limit; the others come from connectors that retry them.
BUC_THROTTLE_CODES = set(range(80000, 80015))


def _unknown_object(answer: object) -> bool:
    """Code 100 subcode 33: the dataset does not exist, cannot be used, or cannot do this."""
    error = answer.get("error") if isinstance(answer, dict) else None
    return isinstance(error, dict) and error.get("code") == 100 and (
        error.get("error_subcode") == 33)


#: The contract's optional columns and their kinds.
_OPTIONAL: tuple[tuple[str, Kind], ...] = (
    ("given_name", "text"), ("surname", "text"), ("birthdate", "any"),
    ("gender", "text"), ("city", "text"), ("state", "text"), ("postal", "any"),
    ("country", "text"), ("product_id", "any"), ("action_source", "text"),
    ("event_name", "text"), ("value", "number_text"), ("event_id", "any"),
    ("client_user_agent", "text"), ("event_source_url", "text"), ("fbc", "text"),
    ("fbp", "text"), ("madid", "text"), ("brand", "text"), ("category", "text"))


class MetaDestination(Destination):
    name = "meta"
    summary = "Meta offline events (Conversions API, action_source=physical_store)"
    contract = Contract(
        required=(
            Column("external_id", "any", "your customer id, hashed before sending"),
            Column("order_id", "any", "events are grouped by order"),
            Column("quantity", "number_text", "items of this line; <= 0 lines are not sent"),
            Column("timestamp", "timestamp", "when the purchase happened"),
            Column("price", "number_text", "unit price; value = sum(price x quantity)"),
            Column("currency", "text", "ISO 4217 code such as USD"),
        ),
        one_of=((Column("email", "text"), Column("phone", "any")),),
        optional=tuple(Column(n, k) for n, k in _OPTIONAL),
    )
    Settings = MetaSettings
    emulator = MetaEmulator
    limits = Limits(max_events=1000, max_bytes=8_000_000, concurrency=4, timeout=30.0,
                    max_attempts=6, give_up_after=600.0)
    #: The shaping groups by order_id and prefixes each route's dataset id (digits).
    unique_keys = True
    events_schema = shaped_schema(SOURCE_ROWS, SOURCE_KEY, REJECT_TIMED)
    #: Returned lines and rows without an order id are refused one by one: line items.
    line_item_reasons = LINE_ITEM_REASONS

    settings: MetaSettings

    def __init__(self, settings: MetaSettings, context: RunContext):
        super().__init__(settings, context)
        self.limits = Limits(max_events=1000, max_bytes=8_000_000,
                             concurrency=settings.concurrency, timeout=settings.timeout,
                             max_attempts=6, give_up_after=600.0)
        self._token: str | None = None

    def shape_sql(self, source: str, columns: dict[str, str]) -> str:
        return shape_sql(source, columns, self.settings, self.context.now,
                         self.context.first_send)

    def source_key(self, columns: dict[str, str]) -> str:
        """Events are made per order, from that order's rows and the settings alone;
        the clock only decides reject reasons (the time window)."""
        return order_key(columns)

    def open(self, http: requests.Session) -> None:
        super().open(http)
        self._token = self.secret(self.settings.access_token_env).reveal()

    def _body(self, batch: Batch, token: str | None = None) -> tuple[bytes, str]:
        """``data`` (the JSON array) and the optional fields as a ``multipart/form-data``
        body, and its Content-Type. Meta's own examples post these fields as multipart
        forms (``curl -F data=[...]``); the JSON array goes in unencoded, where a
        urlencoded form would percent-encode every quote, brace and comma."""
        fields = {"data": batch.array_bytes(), "test_event_code": self.settings.test_event_code,
                  "upload_tag": self.settings.upload_tag, "access_token": token}
        return offramp_http.form_data({k: v for k, v in fields.items() if v})

    def encode(self, batch: Batch) -> bytes:
        return self._body(batch)[0]

    def url(self, dataset_id: str) -> str:
        base = self.settings.base_url.rstrip("/")
        return f"{base}/{self.settings.api_version}/{dataset_id}/events"

    def deliver(self, batch: Batch) -> Outcome:
        assert self.http is not None and self._token is not None
        body, content_type = self._body(batch, self._token)
        response = offramp_http.send(
            self.http, "POST", self.url(batch.route or self.settings.dataset_id or ""),
            data=body, timeout=self.limits.timeout, headers={"Content-Type": content_type})
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        used = usage.read(response.headers)
        if response.ok and isinstance(answer, dict) and "error" not in answer:
            usage.pace(self.pacer, used)  # slow down before Meta throttles
            received = answer.get("events_received")
            if not isinstance(received, int) or isinstance(received, bool):
                # The answer was cut or garbled on the way: Meta may have the events. Sent
                # again (at least once); Meta drops the copies of offline events.
                raise Retryable("Meta answered HTTP 200 without a count of the events it "
                                "received; sending the request again")
            if received < len(batch):
                raise Unconfirmed(f"Meta acknowledged {received:,} of the {len(batch):,} "
                                  "events of a request, without saying which")
            return Outcome(info={"fbtrace_id": answer.get("fbtrace_id")})
        dataset = batch.route or self.settings.dataset_id
        error = classify(response.status_code, answer, offramp_http.retry_after(response),
                         self.settings.access_token_env, dataset,
                         regain=used.regain if used is not None and used.regain else None)
        if not (isinstance(error, Retryable) and error.throttled):
            usage.pace(self.pacer, used)
        problem = self._dataset_problem(dataset) if _unknown_object(answer) else None
        raise Fatal(problem) if problem else error

    def _dataset_problem(self, dataset: str | None) -> str | None:
        """Why Meta refused the dataset, when it says so: ``GET /{dataset}?fields=
        is_consolidated_container`` tells whether a dataset can take offline events through
        the Conversions API (Meta's offline-events page). None when Meta does not answer it."""
        assert self.http is not None and self._token is not None
        base = self.settings.base_url.rstrip("/")
        try:
            response = offramp_http.send(
                self.http, "GET", f"{base}/{self.settings.api_version}/{dataset}",
                params={"fields": "is_consolidated_container"}, timeout=self.limits.timeout,
                headers={"Authorization": f"Bearer {self._token}"})
            answer = response.json()
        except (Retryable, ValueError):
            return None
        if response.ok and isinstance(answer, dict) and (
                answer.get("is_consolidated_container") is False):
            return (f"dataset {dataset} cannot receive offline events through the Conversions "
                    "API (Meta says its is_consolidated_container is false): set dataset_id to "
                    "a dataset from Events Manager that takes offline events, or have Meta merge "
                    "this offline event set into one")
        return None


def classify(status: int, answer: object, retry_after: float | None, token_env: str,
             dataset: str | None, *, regain: float | None = None) -> Exception:
    """The exception for a Graph API error answer (error-handling page's table).

    :param regain: seconds until access returns, from the usage headers; a throttled
        request waits that long (else ``Retry-After``, else 60 s).
    """
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):
        if status == 429:
            return Retryable("HTTP 429 from Meta", retry_after=retry_after, throttled=True)
        if status >= 500 or status in (408, 425):
            return Retryable(f"HTTP {status} from Meta", retry_after=retry_after)
        return Fatal(f"Meta answered HTTP {status} without an error body")
    code = error.get("code")
    subcode = error.get("error_subcode")
    detail = error.get("error_user_msg") or error.get("message") or "no detail"
    label = f"Meta error {code}{f'/{subcode}' if subcode else ''}: {detail}"
    if code in (190, 104):
        return Fatal(f"the access token is invalid or expired: set {token_env} "
                     f"(Meta error {code}{f'/{subcode}' if subcode else ''})")
    if code in THROTTLE_CODES or code in BUC_THROTTLE_CODES or status == 429:
        if regain:  # X-Business-Use-Case-Usage: estimated_time_to_regain_access
            return Retryable(f"{label} (Meta says access returns in {regain / 60:g} minutes)",
                             retry_after=regain, throttled=True)
        return Retryable(label, retry_after=retry_after or 60.0, throttled=True)
    if code in RETRY_CODES or error.get("is_transient") or status >= 500:
        return Retryable(label, retry_after=retry_after)
    if code in WAIT_CODES:
        return Retryable(label, retry_after=retry_after or 300.0)
    if code in PERMISSION_CODES:
        return Fatal(f"the user or system user behind {token_env} may not send events to "
                     f"dataset {dataset} ({label}): in Business Manager, give it access to the "
                     "dataset, with the ads_management permission, or set a token that has it")
    if code == 100 and subcode == 33:
        return Fatal(f"dataset {dataset} does not exist, or the token in {token_env} cannot use "
                     f"it ({label}): check dataset_id, and that the token's user has access to "
                     "the dataset in Business Manager")
    if code == 100:
        return BatchRejected(label)
    return Fatal(label if code is not None else json.dumps(error)[:300])
