"""The Meta emulator's rate-limit model: a usage score, its headers, and throttling.

Meta's Marketing API rate limiting (the Conversions API's calls count as Marketing API
calls; docs/meta-emulator.md, "Rate limits", lists the sources): each call adds to a
score that decays over a window (300 s on the rate-limiting page); past the limit,
calls are refused for a while with a throttling code, and the usage headers say how
much is used and, when blocked, ``estimated_time_to_regain_access`` in minutes.

The model, in percent of the limit: each request adds ``cost``, usage decays linearly
by 100 over ``window`` seconds of the emulator clock, and a request that would take it
past 100 is refused with ``code`` for ``block`` seconds. The headers
(``X-Business-Use-Case-Usage`` keyed by ``business_id``, ``X-App-Usage``,
``X-Ad-Account-Usage``) are sent once usage reaches ``headers_from`` percent: Meta sends
them on "most" answers "once enough calls have been made", so a client must not need
them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

KINDS = ("buc", "app", "ad_account")


@dataclass
class UsageMeter:
    cost: float = 1.0
    window: float = 300.0
    block: float = 60.0
    code: int = 17
    headers_from: float = 10.0
    kinds: tuple[str, ...] = KINDS
    buc_type: str = "ads_management"
    business_id: str | None = None  # None: the dataset id of the request
    percent: float = 0.0
    blocked_until: float = 0.0
    throttled: int = 0
    _at: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"usage header kinds must be among {KINDS}, not {sorted(unknown)}")

    def decay(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self.percent = max(0.0, self.percent - 100.0 * (now - self._at) / self.window)
        self._at = now

    def charge(self, now: float) -> bool:
        """Count one request at ``now``; False when it must be refused (blocked)."""
        self.decay(now)
        if now < self.blocked_until:
            self.throttled += 1
            return False
        if self.percent + self.cost > 100.0:
            self.percent = 100.0
            self.blocked_until = now + self.block
            self.throttled += 1
            return False
        self.percent += self.cost
        return True

    def headers(self, now: float, object_id: str) -> dict[str, str]:
        """The usage headers of an answer at ``now`` (none below ``headers_from``)."""
        self.decay(now)
        used = round(min(100.0, self.percent))
        if used < self.headers_from and now >= self.blocked_until:
            return {}
        minutes = math.ceil(max(0.0, self.blocked_until - now) / 60.0)
        out: dict[str, str] = {}
        if "buc" in self.kinds:
            out["X-Business-Use-Case-Usage"] = json.dumps({self.business_id or object_id: [{
                "type": self.buc_type, "call_count": used, "total_cputime": used // 2,
                "total_time": used // 2, "estimated_time_to_regain_access": minutes}]})
        if "app" in self.kinds:
            out["X-App-Usage"] = json.dumps({"call_count": used, "total_cputime": used // 2,
                                             "total_time": used // 2})
        if "ad_account" in self.kinds:
            out["X-Ad-Account-Usage"] = json.dumps({
                "acc_id_util_pct": used, "reset_time_duration": int(self.window * used / 100),
                "ads_api_access_tier": "standard_access"})
        return out
