"""The query's output columns against a destination's column contract: every missing
or mistyped column, with the fix (a close name among the query's columns, or a CAST)."""

from __future__ import annotations

import difflib

from connector.kit.contract import Contract


def check_contract(columns: dict[str, str], contract: Contract, destination: str) -> list[str]:
    """Problems with the query's output ``columns`` (name -> DuckDB type) for a
    destination's ``contract``; empty when it fits."""
    problems: list[str] = []
    lower = {c.lower(): c for c in columns}
    # A column already named for another of the contract's columns is not a suggestion.
    known = contract.columns()
    names = [c for c in columns if c.lower() not in known]

    def suggest(missing: str) -> str:
        near = difflib.get_close_matches(missing, names, n=2, cutoff=0.5)
        near += [n for n in names if missing in n.lower() and n not in near][:2]
        return f"; did you mean {' or '.join(dict.fromkeys(near))}?" if near else ""

    for col in contract.required:
        if col.name not in lower:
            problems.append(f"column `{col.name}` is missing: the {destination} destination needs "
                            f"it ({col.doc or col.expects()}); add `... AS {col.name}`"
                            f"{suggest(col.name)}")
    for group in contract.one_of:
        if not any(c.name in lower for c in group):
            listed = " or ".join(f"`{c.name}`" for c in group)
            hints = "".join(suggest(c.name) for c in group)
            problems.append(f"column {listed} is missing: the {destination} destination needs at "
                            f"least one of them{hints}")
    for name, col in contract.columns().items():
        if name in lower:
            dtype = columns[lower[name]]
            if not col.accepts(dtype):
                problems.append(f"column `{name}` is {dtype}, but the {destination} destination "
                                f"needs {col.expects()}: CAST it in the query")
    return problems
