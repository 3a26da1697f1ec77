"""The Meta-shaped faults the emulator injects on request (:class:`MetaFaults`, a mixin
of :class:`~plugins.meta.emulator.MetaEmulator`): throttling, permission, temporary and
server errors, timeouts, poisoned orders, expired tokens and lost answers. Each queues a
:class:`~connector.kit.Fault` with Meta's error body, or sets state the request handler
reads (poisoned orders, expired tokens, answers to lose).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from connector.kit import Fault
from plugins.meta import emulator_errors as errors
from plugins.meta import emulator_rules as rules
from plugins.meta.emulator_usage import UsageMeter

#: A parameter named in a poisoned order's message: ``{user_data.em}``.
_PARAMETER = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)*)\}")


def echoed(problem: rules.Problem, event: dict[str, Any]) -> rules.Problem:
    """``problem`` with each ``{parameter.path}`` of its message replaced by the value
    ``event`` sent there (the first of a list; empty when absent)."""
    def value(match: re.Match[str]) -> str:
        found: Any = event
        for part in match.group(1).split("."):
            found = found.get(part) if isinstance(found, dict) else None
        if isinstance(found, list):
            found = found[0] if found else None
        return "" if found is None else str(found)

    message = _PARAMETER.sub(value, problem.message)
    return problem if message == problem.message else replace(problem, message=message)


class MetaFaults:
    """Fault injection for the Meta emulator; the emulator owns the state used here."""

    lock: threading.RLock
    clock: Callable[[], float]
    meter: UsageMeter | None
    _poisoned: dict[str, rules.Problem]
    _expired: dict[str, float]
    _lose_responses: int
    inject: Callable[..., Fault]  # connector.kit.Emulator.inject

    def throttle(self, code: int = 17, retry_after: float | None = None, times: int = 1,
                 path: str = "") -> Fault:
        """Answer the next ``times`` requests with throttling ``code`` (4, 17, 341, 80003)."""
        error = errors.throttled(code)
        if retry_after is not None:
            error.headers["Retry-After"] = f"{retry_after:g}"
        return self._inject_error(error, times, path)

    def rate_limit(self, **settings: Any) -> UsageMeter:
        """Turn on the rate-limit model (:class:`~plugins.meta.emulator_usage.UsageMeter`:
        ``cost``, ``window``, ``block``, ``code``, ``headers_from``, ``kinds``,
        ``buc_type``, ``business_id``): usage headers on answers, and throttling past 100 %."""
        with self.lock:
            self.meter = UsageMeter(**settings)
            if self.meter.code not in errors.THROTTLES:
                raise ValueError(f"code must be one of {sorted(errors.THROTTLES)}")
            return self.meter

    def deny(self, code: int = 200, status: int = 403, times: int = 1, path: str = "") -> Fault:
        """Answer with a permission error: code 10, or one of 200-299."""
        return self._inject_error(errors.denied(code, status), times, path)

    def transient(self, code: int = 2, times: int = 1, path: str = "") -> Fault:
        """Answer with a temporary Graph error (code 1 or 2, HTTP 500, ``is_transient``)."""
        return self._inject_error(errors.transient(code), times, path)

    def server_error(self, status: int = 503, times: int = 1, path: str = "") -> Fault:
        """Answer with a 5xx and Graph's "service temporarily unavailable" body."""
        return self._inject_error(errors.unavailable(status), times, path)

    def timeout(self, seconds: float, times: int = 1, path: str = "") -> Fault:
        """Hold the next requests ``seconds`` and then drop them, unprocessed: a client
        whose timeout is shorter sees a timeout."""
        return self.inject(Fault(delay=seconds, drop=True, times=times, path=path))

    def poison(self, order_id: str, title: str = "Invalid Custom Data",
               message: str = "custom_data.value is not valid for this event.") -> None:
        """Reject every request holding an event with this ``custom_data.order_id`` (code
        100, the whole request, the event not named), until :meth:`clear_faults`.
        ``message`` may name the event's parameters in braces (``"Invalid value
        '{user_data.em}' for em"``): each becomes the value the request sent
        (:func:`echoed`), as an API that quotes an invalid value does."""
        with self.lock:
            self._poisoned[str(order_id)] = rules.Problem(title, message)

    def expire_token(self, token: str) -> None:
        """From now on ``token`` (valid or not) gets code 190 subcode 463 (expired)."""
        with self.lock:
            self._expired[token] = self.clock()

    def lose_responses(self, times: int = 1) -> None:
        """Process the next ``times`` requests normally (events recorded) but drop the
        connection instead of answering: the client sees a connection error."""
        with self.lock:
            self._lose_responses += times

    def _inject_error(self, error: errors.GraphError, times: int, path: str) -> Fault:
        return self.inject(Fault(status=error.status, body=error.body(),
                                 headers=dict(error.headers), times=times, path=path))
