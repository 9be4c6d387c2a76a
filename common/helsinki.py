"""The tracker's time zone, Europe/Helsinki: the wall clock of its schedule, its days and its report weeks."""

from __future__ import annotations

from typing import Final
from zoneinfo import ZoneInfo

HELSINKI: Final = ZoneInfo("Europe/Helsinki")
