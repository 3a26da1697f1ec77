"""A job's ``[settings]`` checked by its destination, in words that say what to write.

pydantic's messages name its own terms ("Extra inputs are not permitted", "Input should
be a valid string"); these name the setting, the file, and the fix: the nearest valid
name for a typo, quotes for a number where text is expected.
"""

from __future__ import annotations

import difflib
from typing import Any

import pydantic


def settings_problems(exc: pydantic.ValidationError, model: type[pydantic.BaseModel],
                      owner: str, place: str) -> list[str]:
    """One problem per error of ``exc``, raised validating ``model`` (the settings of
    ``owner``, such as "the meta destination") read from ``place`` (a job file, or a
    table of offramp.toml)."""
    fields = list(model.model_fields)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        problems.append(f"setting `{where}` in {place}: {_plain(error, where, fields, owner)}")
    return problems


def _plain(error: Any, where: str, fields: list[str], owner: str) -> str:
    kind, message = error["type"], str(error["msg"])
    if kind == "extra_forbidden":
        near = difflib.get_close_matches(where, fields, n=1, cutoff=0.6)
        hint = f"; did you mean `{near[0]}`?" if near else f" (its settings: {', '.join(fields)})"
        return f"{owner} has no such setting{hint}"
    if kind == "missing":
        return "is required"
    if kind == "string_type" and isinstance(error.get("input"), int | float) \
            and not isinstance(error.get("input"), bool):
        return (f"is a number, but this setting is text: put it in quotes, "
                f'{where} = "{error["input"]}"')
    return message.removeprefix("Value error, ")
