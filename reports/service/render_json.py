"""The report as JSON: the `Report` model as pydantic dumps it, counts and derived rates alike.

The output validates back into a `Report` (`Report.model_validate_json`), so another tool can
read a saved report without knowing how its figures were computed.
"""

from __future__ import annotations

from reports.service.figures import Report


def render_json(report: Report) -> str:
    return report.model_dump_json(indent=2) + "\n"
