"""The marks in indicator_state.input_hash of an indicator with no values from its current inputs."""

from __future__ import annotations

FAILED_HASH = "failed"  # its last compute failed (error: why); tried again by every compute
WAITING_HASH = "waiting"  # an input dataset was never loaded (error: which); computed once it is
WAITING_FOR = "waiting for a first load of its data: "  # the error of a waiting record, before the datasets


def waiting_reason(datasets: list[str]) -> str:
    """The error column of a waiting record: the datasets never loaded."""
    return WAITING_FOR + ", ".join(datasets)
