"""offramp destination "webhook_signed": POST events to a webhook, signed with HMAC-SHA256.

Started from ``offramp new-plugin webhook_signed``, then extended the way a real
webhook needs:

* the body is signed: ``X-Offramp-Signature: sha256=<hex HMAC of the body>`` with a
  shared secret read from an environment variable;
* each request carries an ``Idempotency-Key`` (a hash of its event keys), so a
  request re-sent after a crash is recognised by the receiver;
* the receiver may accept some events and refuse others: a ``207`` answer with
  ``{"rejected": {"<index>": "<reason>"}}`` becomes per-event rejections.

Each event is ``{"id": ..., "email_sha256": ...}``: the email is normalized and hashed
in the shaping SQL (``connector.kit.pii``), so no raw address leaves the machine.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from connector import (
    Batch,
    Column,
    Contract,
    Destination,
    Emulator,
    Fatal,
    Limits,
    Outcome,
    Request,
    Response,
    Retryable,
    Settings,
    hookimpl,
)
from connector.kit import http, pii


class WebhookSignedSettings(Settings):
    url: str
    secret_env: str = "WEBHOOK_SIGNING_SECRET"
    """The environment variable holding the shared signing secret."""


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSignedDestination(Destination):
    name = "webhook_signed"
    summary = "POST events to a webhook, HMAC-signed, with idempotency keys"
    contract = Contract(required=(Column("id", "any", "a unique id per event"),),
                        optional=(Column("email", "text"),))
    Settings = WebhookSignedSettings
    limits = Limits(max_events=500, concurrency=2, timeout=10)

    def shape_sql(self, source: str, columns: dict[str, str]) -> str:
        email = pii.hashed("src.email", pii.email("src.email")) if "email" in columns \
            else "NULL"
        return (f"SELECT CAST(src.id AS VARCHAR) AS event_key, NULL AS route, "
                f"json_object('id', CAST(src.id AS VARCHAR), 'email_sha256', {email})::VARCHAR "
                f"AS payload, "
                f"CASE WHEN src.id IS NULL THEN 'id is missing' END AS reject_reason "
                f"FROM {source} AS src")

    def open(self, session) -> None:
        super().open(session)
        self.signing_secret = self.secret(self.settings.secret_env)

    def deliver(self, batch: Batch) -> Outcome:
        body = self.encode(batch)
        key = hashlib.sha256("\n".join(batch.keys).encode()).hexdigest()
        response = http.send(self.http, "POST", self.settings.url, data=body,
                             timeout=self.limits.timeout,
                             headers={"Content-Type": "application/json", "Idempotency-Key": key,
                                      "X-Offramp-Signature":
                                          signature(self.signing_secret.reveal(), body)})
        if response.status_code in (401, 403):
            raise Fatal(f"the webhook refused the signature: check {self.settings.secret_env}")
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(f"HTTP {response.status_code}", retry_after=http.retry_after(response),
                            throttled=response.status_code == 429)
        if response.status_code == 207:
            rejected = response.json().get("rejected", {})
            return Outcome(rejected={int(i): str(reason) for i, reason in rejected.items()})
        if not response.ok:
            raise Fatal(f"HTTP {response.status_code} from the webhook")
        return Outcome()


class WebhookSignedEmulator(Emulator):
    """A webhook receiver: checks signatures, keeps events once per idempotency key,
    refuses events without an email (207 with reasons)."""

    name = "webhook_signed"

    def __init__(self, *, secret: str = "test-signing-secret", **kwargs):
        super().__init__(**kwargs)
        self.secret = secret
        self.events: list[dict] = []
        self.seen_keys: set[str] = set()
        self.replays = 0

    def handle(self, request: Request) -> Response:
        expected = signature(self.secret, request.body)
        if not hmac.compare_digest(request.header("x-offramp-signature", ""), expected):
            return Response(401, {"error": "bad signature"})
        key = request.header("idempotency-key", "")
        events = json.loads(request.body)
        if key in self.seen_keys:
            self.replays += 1
            return Response(200, {"received": len(events), "replay": True})
        rejected = {str(i): "email is missing" for i, e in enumerate(events)
                    if not e.get("email_sha256")}
        self.seen_keys.add(key)
        self.events.extend(e for i, e in enumerate(events) if str(i) not in rejected)
        if rejected:
            return Response(207, {"rejected": rejected})
        return Response(200, {"received": len(events)})

    def snapshot(self) -> dict:
        return {"events": len(self.events), "replays": self.replays}


WebhookSignedDestination.emulator = WebhookSignedEmulator


@hookimpl
def register_destinations(register):
    register(WebhookSignedDestination)
