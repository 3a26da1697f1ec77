"""The offline-conversion report as rich tables: one per goal, one line per upload day."""

from __future__ import annotations

from collections import Counter

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from plugins.microsoft.report import GoalReport, Report


def _reasons(alerts: Counter[str]) -> str:
    return ", ".join(f"{reason} {n:,}" for reason, n in alerts.most_common()) or "-"


def goal_table(goal: GoalReport) -> Table:
    total = goal.success + goal.unattributed
    title = (f"goal {goal.goal_id}" + (f" · {goal.conversion_name}" if goal.conversion_name
                                       else ""))
    caption = (f"{goal.rate:.1%} attributed ({goal.success:,} of {total:,}); unattributed by "
               f"reason: {_reasons(goal.alerts)}") if total else "no uploads in this range"
    table = Table("day", "success", "unattributed", "success rate", "unattributed reasons",
                  title=title, caption=caption, title_justify="left", caption_justify="left")
    for day, d in sorted(goal.days.items()):
        rate = Text(f"{d.rate:.1%}", style="green" if d.rate >= 0.9 else
                    "yellow" if d.rate >= 0.5 else "red")
        table.add_row(day.isoformat(), f"{d.success:,}", f"{d.unattributed:,}", rate,
                      _reasons(d.alerts))
    return table


def render(report: Report) -> RenderableType:
    """Every goal's table, its PartialErrors, and errors that named no goal."""
    channels = ", ".join(report.channels) or "all channels"
    parts: list[RenderableType] = [Text(
        f"Offline conversions uploaded {report.start} to {report.end} ({channels}); "
        f"{report.requests} report request(s)", style="bold")]
    for goal in report.goals.values():
        parts.append(goal_table(goal))
        parts += [Text(f"  error: {e}", style="red") for e in goal.errors]
    parts += [Text(f"error: {e}", style="red") for e in report.errors]
    return Group(*parts)


def print_report(report: Report, console: Console | None = None) -> None:
    (console or Console(highlight=False)).print(render(report))
