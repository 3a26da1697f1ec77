"""The exceptions offramp raises and plugins raise.

Every message says what went wrong and what to do about it. Messages never
carry secrets: :func:`connector.kit.secrets.redact` scrubs them at the edges.
"""

from __future__ import annotations


class OfframpError(Exception):
    """Base class: an error with a message meant for the user.

    Its text is scrubbed of known secrets (a plugin may quote an API's answer that
    echoes a token): ``str(exc)`` and printed tracebacks never show one.
    """

    def __str__(self) -> str:
        from connector.kit.secrets import redact  # secrets imports this module

        return redact(super().__str__())


class ConfigError(OfframpError):
    """The project, a job or a setting is wrong; fix it and try again."""


class ValidationError(OfframpError):
    """A job's SQL or its output does not fit the destination.

    ``problems`` lists every finding, so one run of ``offramp validate`` shows
    them all.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(f"- {p}" for p in self.problems))


class PluginError(OfframpError):
    """A plugin is broken or two plugins clash."""


class DeliveryError(OfframpError):
    """Base class for what a destination raises while delivering a request."""


class Retryable(DeliveryError):
    """A transient failure: the request may succeed if sent again later.

    :param retry_after: seconds the API asked us to wait (``Retry-After``), if any.
    :param throttled: True for rate limiting (429, throttling codes). Throttling
        is waited out and does not use up the retry budget.
    """

    def __init__(self, reason: str, *, retry_after: float | None = None, throttled: bool = False):
        self.reason = reason
        self.retry_after = retry_after
        self.throttled = throttled
        super().__init__(reason)


class BatchRejected(DeliveryError):
    """The API refused the whole request because of one or more bad events it did
    not name. The core splits the request to isolate them and sends the rest."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class Fatal(DeliveryError):
    """A failure no retry will fix (bad credentials, missing permission).

    The run stops; every event not yet delivered stays pending for the next run.
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class Unconfirmed(DeliveryError):
    """The API took the request without an error but confirmed only part of it, and did
    not say which events it is missing (Meta: ``events_received`` smaller than the events
    sent). Not a transport failure, so not retried: sending the request again in this
    run would duplicate what the API did take. The core records the request's events
    ``failed`` with the reason (the next run sends them again, with the same event ids),
    and stops the run after :attr:`~connector.kit.destination.Limits.max_unconfirmed`
    such answers."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
