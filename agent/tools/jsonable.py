"""Plain JSON-able values from domain objects (tool outputs, journal rows, API bodies)."""

from __future__ import annotations

import dataclasses
import enum
import math
from datetime import date, datetime
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """Dataclasses, enums, datetimes and numpy scalars as plain JSON-able values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return to_jsonable(value.to_dict())
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
