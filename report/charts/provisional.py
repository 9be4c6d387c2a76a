"""What a chart says of the figures its source calls provisional: a title mark and an alt-text sentence."""

from __future__ import annotations

from collections.abc import Sequence

from report.i18n import t


def provisional_texts(years: Sequence[int], latest: int | None, lang: str) -> tuple[str, str]:
    """(title suffix, alt-text sentence with a leading space) for the provisional years of a chart; the
    suffix only when the title's own year (`latest`) is one of them; ("", "") without any."""
    if not years:
        return "", ""
    suffix = t("trajectory.title_provisional", lang) if latest is not None and latest in years else ""
    sentence = " " + t("provisional.years", lang, years=", ".join(str(y) for y in sorted(years)))
    return suffix, sentence
