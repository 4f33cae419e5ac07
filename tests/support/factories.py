"""Builders for case intakes used across tests."""

from __future__ import annotations

import uuid
from typing import Any

from cases.models import CaseIntake


def intake(**overrides: Any) -> CaseIntake:
    data: dict[str, Any] = {
        "case_id": f"t{uuid.uuid4().hex[:10]}",
        "order_id": "8812",
        "customer": {"id": "cust-1", "name": "Li Wei", "phone": "+8613800000000", "email": "li@example.com"},
        "channel": "app",
        "category": "description_mismatch",
        "description": "The colour differs from the listing.",
        "order_amount": "299.00",
    }
    for key, value in overrides.items():
        if key == "customer_tier":
            data["customer"] = {**data["customer"], "tier": value}
        elif key == "flags":
            data["flags"] = value
        else:
            data[key] = value
    return CaseIntake.model_validate(data)
