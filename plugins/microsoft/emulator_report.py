"""The emulator's GetOfflineConversionReportByGoalIds answer, derived from what it accepted.

Field types as msads models them: long fields (``GoalId``, ``Overall*Count``,
``Alerts[].Count``) as strings, daily counts as ints, rates as decimals rounded to
6 places (learn.microsoft.com ``offlinegoalconversionsummary``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from plugins.microsoft.emulator_errors import batch_error
from plugins.microsoft.emulator_rules import Goal, ReportQuery, Upload


def rate(success: int, unattributed: int) -> float:
    total = success + unattributed
    return round(success / total, 6) if total else 0.0


def _alerts(reasons: Counter[str]) -> list[dict[str, str]]:
    return [{"Count": str(n), "UnattributedReason": reason}
            for reason, n in sorted(reasons.items())]


def report(query: ReportQuery, goals_by_id: dict[str, Goal],
           uploads: list[Upload]) -> dict[str, Any]:
    """Summaries for the known goals of ``query``; unknown goal ids become PartialErrors."""
    summaries, errors = [], []
    for index, goal_id in enumerate(query.goal_ids):
        goal = goals_by_id.get(goal_id)
        if goal is None:
            errors.append(batch_error(517, index, f"Goal {goal_id} was not found.", "GoalIds"))
            continue
        days: dict[dt.date, list[Upload]] = defaultdict(list)
        for upload in uploads:
            if (upload.goal_id == goal_id and query.includes(upload.uploaded_at)
                    and (query.channels is None or upload.channel in query.channels)):
                days[upload.uploaded_at.date()].append(upload)
        summaries.append(_summary(goal, days))
    return {"OfflineGoalConversionSummaries": summaries, "PartialErrors": errors or None}


def _summary(goal: Goal, days: dict[dt.date, list[Upload]]) -> dict[str, Any]:
    daily, overall = [], Counter[str]()
    success_total = 0
    for day in sorted(days):
        reasons = Counter(u.reason for u in days[day] if u.reason)
        success = sum(1 for u in days[day] if not u.reason)
        unattributed = sum(reasons.values())
        success_total += success
        overall.update(reasons)
        daily.append({"Alerts": _alerts(reasons), "GoalId": goal.id, "SuccessCount": success,
                      "SuccessRate": rate(success, unattributed),
                      "UnattributedCount": unattributed,
                      "UploadDate": f"{day.isoformat()}T00:00:00"})
    unattributed_total = sum(overall.values())
    return {"ConversionName": goal.name, "DailySummaries": daily, "GoalId": goal.id,
            "OverallAlerts": _alerts(overall), "OverallSuccessCount": str(success_total),
            "OverallSuccessRate": rate(success_total, unattributed_total),
            "OverallUnattributedCount": str(unattributed_total)}
