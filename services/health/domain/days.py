"""Kept only for `scoring.py`'s import while the score is being tuned on another branch: event-time
days live in `shared.days` (health and expansion count in the same UTC days). Goes when that import moves."""

from shared.days import day_number as day_number
from shared.days import parse_moment as parse_moment
from shared.days import require_aware as require_aware
