"""Money in the HTTP APIs: one serialisation for every service's response models."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer

Money = Annotated[Decimal, PlainSerializer(lambda amount: format(amount, "f"), return_type=str, when_used="json")]
"""Money as a fixed-point decimal string ("120000.00", never "1.2E+5"), as in the output events."""
