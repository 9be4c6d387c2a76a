"""Progress-assessment methods as pure functions with full records, plus a vectorised polars form.

One module per method, named by its id: ``eurostat_sdg``, ``open_sdg``, ``sdsn_trend``,
``german_strategy`` and ``linear_trajectory_check``. Each module's docstring gives the method's published
definition and source; the module holds the status enum, the record class, the thresholds, the scalar
function (one series → one ``Assessment``) and, next to it, the frame form (every series of a long frame
at once), ending in ``SPEC``, its ``MethodSpec``. ``common`` holds what the methods share (the record,
the warning texts, the base/latest window of both forms); ``registry`` holds the catalogue ``METHODS``,
the per-method tables read from it (``METHOD_VERSIONS``, ``STATUS_RANK``, ``SYMBOLS``,
``DETAIL_COLUMNS``) and ``assess_frame``, which dispatches on it.

Adding a sixth method means one new module and one catalogue entry:

1. ``indicators/methods/<id>.py`` following an existing one: a module docstring with the definition and
   its source, the status enum (with ``INSUFFICIENT_DATA = INSUFFICIENT``), an ``Assessment`` subclass,
   ``VERSION``, ``RANK``, ``SYMBOL``, ``DETAILS``, ``FRAME_PARAMS`` (and ``FRAME_SCALARS``), the scalar
   function ``<id>``, the frame form (``_requested`` for the base year, ``_frame`` for the rest) and
   ``SPEC = MethodSpec(...)``;
2. its ``SPEC`` in the tuple that builds ``registry.METHODS``.

``assess_frame``, ``METHOD_VERSIONS``, ``STATUS_RANK``, ``SYMBOLS`` and ``DETAIL_COLUMNS`` then know it.
Re-export its scalar function, enum and record class below only if callers should import them from
``indicators.methods``. The catalogue (``indicators.catalogue.METHODS``, the names catalogue.toml may
use) and the engine (whether a target is needed, the thresholds, the parameter columns: the ``SPEC``'s
``needs_target``, ``thresholds`` and ``engine_columns``) read the registry, so one file and a catalogue
entry (an indicator's ``assess`` list naming it) make the tracker assess it. The reports show it with its
status keys and a general reason until ``report/translations.toml`` has its words (``[method]``,
``[status]``) and ``report.data.assessment_reason`` a sentence of its own. (The package attributes
``eurostat_sdg`` … are the scalar functions, not the modules; import from the modules with
``from indicators.methods.<id> import …``.)
"""

from indicators.methods.common import (
    INSUFFICIENT,
    MSG_ACHIEVEMENT_LOST,
    MSG_BASE_BEYOND,
    MSG_BASE_SUBSTITUTED,
    MSG_BOTH_ZERO,
    MSG_NO_BASE,
    MSG_NO_OBS,
    MSG_OPPOSITE,
    MSG_POINTS,
    MSG_RATE_UNDEFINED,
    MSG_SPAN,
    MSG_TARGET_EQUALS_BASE,
    MSG_TARGET_MET,
    MSG_TARGET_OPPOSITE,
    MSG_TARGET_UNDEFINED,
    MSG_TARGET_YEAR_BASE,
    MSG_TARGET_YEAR_LATEST,
    MSG_ZERO_BASE,
    MSG_ZERO_TARGET,
    Assessment,
    Detail,
    Period,
    SeriesError,
    c,
)
from indicators.methods.eurostat_sdg import (
    EUROSTAT_PERIODS,
    EUROSTAT_TARGET_THRESHOLDS,
    EUROSTAT_TREND_THRESHOLDS,
    EurostatAssessment,
    EurostatStatus,
    eurostat_sdg,
)
from indicators.methods.german_strategy import (
    GERMAN_MIN_POINTS,
    GERMAN_MIN_SPAN,
    GERMAN_THRESHOLDS,
    GERMAN_WINDOW,
    GermanAssessment,
    GermanStatus,
    german_strategy,
)
from indicators.methods.linear_trajectory_check import (
    LINEAR_MIN_SPAN,
    LinearAssessment,
    LinearStatus,
    linear_trajectory_check,
)
from indicators.methods.open_sdg import (
    OPEN_SDG_MIN_SPAN,
    OPEN_SDG_TARGET_THRESHOLDS,
    OPEN_SDG_TREND_THRESHOLDS,
    OPEN_SDG_ZERO_REPLACEMENT,
    OpenSdgAssessment,
    OpenSdgStatus,
    open_sdg,
)
from indicators.methods.registry import (
    DETAIL_COLUMNS,
    METHOD_VERSIONS,
    STATUS_RANK,
    SYMBOLS,
    assess_frame,
)
from indicators.methods.sdsn_trend import (
    SDSN_MIN_SPAN,
    SDSN_THRESHOLDS,
    SdsnAssessment,
    SdsnStatus,
    sdsn_trend,
)

__all__ = [
    "DETAIL_COLUMNS",
    "EUROSTAT_PERIODS",
    "EUROSTAT_TARGET_THRESHOLDS",
    "EUROSTAT_TREND_THRESHOLDS",
    "GERMAN_MIN_POINTS",
    "GERMAN_MIN_SPAN",
    "GERMAN_THRESHOLDS",
    "GERMAN_WINDOW",
    "INSUFFICIENT",
    "LINEAR_MIN_SPAN",
    "METHOD_VERSIONS",
    "MSG_ACHIEVEMENT_LOST",
    "MSG_BASE_BEYOND",
    "MSG_BASE_SUBSTITUTED",
    "MSG_BOTH_ZERO",
    "MSG_NO_BASE",
    "MSG_NO_OBS",
    "MSG_OPPOSITE",
    "MSG_POINTS",
    "MSG_RATE_UNDEFINED",
    "MSG_SPAN",
    "MSG_TARGET_EQUALS_BASE",
    "MSG_TARGET_MET",
    "MSG_TARGET_OPPOSITE",
    "MSG_TARGET_UNDEFINED",
    "MSG_TARGET_YEAR_BASE",
    "MSG_TARGET_YEAR_LATEST",
    "MSG_ZERO_BASE",
    "MSG_ZERO_TARGET",
    "OPEN_SDG_MIN_SPAN",
    "OPEN_SDG_TARGET_THRESHOLDS",
    "OPEN_SDG_TREND_THRESHOLDS",
    "OPEN_SDG_ZERO_REPLACEMENT",
    "SDSN_MIN_SPAN",
    "SDSN_THRESHOLDS",
    "STATUS_RANK",
    "SYMBOLS",
    "Assessment",
    "Detail",
    "EurostatAssessment",
    "EurostatStatus",
    "GermanAssessment",
    "GermanStatus",
    "LinearAssessment",
    "LinearStatus",
    "OpenSdgAssessment",
    "OpenSdgStatus",
    "Period",
    "SdsnAssessment",
    "SdsnStatus",
    "SeriesError",
    "assess_frame",
    "c",
    "eurostat_sdg",
    "german_strategy",
    "linear_trajectory_check",
    "open_sdg",
    "sdsn_trend",
]
