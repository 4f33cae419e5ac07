"""The customer's contact details as types: checked when a case is opened, and described, in what
the API answers, as a merchant's key reads them back: masked (cases/views/personal_data.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints, WithJsonSchema

Phone = Annotated[
    str,
    StringConstraints(pattern=r"^\+?[0-9][0-9 \-]{5,19}$"),
    WithJsonSchema(
        {"type": "string", "description": "In the clear for a platform key; `139****0000` for a merchant's"},
        mode="serialization",
    ),
]
Email = Annotated[
    str,
    StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    WithJsonSchema(
        {"type": "string", "description": "In the clear for a platform key; `l*@example.com` for a merchant's"},
        mode="serialization",
    ),
]
