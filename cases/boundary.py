"""What every boundary model shares: unknown fields refused, and text that PostgreSQL can hold.

Lowest in the case vocabulary, so the models of a feature (`cases/platform/models.py`) and the
case's own (`cases/models.py`, which re-exports these names) both build on it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


class Strict(BaseModel):
    """Base for boundary models: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refusing it here keeps it from wedging the record.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=200), NoNul]
Text = Annotated[str, StringConstraints(max_length=4000), NoNul]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=4000), NoNul]
