"""An HTTP endpoint for tests that accepts every request and keeps it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connector.kit.emulator import Emulator, Request, Response


class RecordingSink(Emulator):
    """An HTTP endpoint that accepts every request and keeps it.

    :param answer: builds the response for a request (default: 200 ``{"ok": true}``).
    """

    name = "sink"

    def __init__(self, *, answer: Callable[[Request], Response] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.answer = answer or (lambda request: Response(200, {"ok": True}))
        self.bodies: list[bytes] = []

    def handle(self, request: Request) -> Response | None:
        self.bodies.append(request.body)
        return self.answer(request)

    def snapshot(self) -> dict[str, Any]:
        return {"requests": len(self.bodies), "bytes": sum(len(b) for b in self.bodies)}

