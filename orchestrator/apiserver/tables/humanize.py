"""Relative times the way kubectl shows them: the AGE column, ``4 (29s ago)``, ``LAST SEEN``.

Ported from ``k8s.io/apimachinery/pkg/util/duration.HumanDuration``: roughly two or three
significant figures, with a precision that coarsens as the duration grows (``119s``, ``2m38s``,
``11m``, ``3h5m``, ``13h``, ``6d2h``, ``25d``, ``2y45d``, ``9y``). Go's integer arithmetic on
nanosecond durations truncates toward zero, so this module works on whole microseconds rather
than floats to land on exactly the same side of every boundary.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from orchestrator.api.timestamps import as_utc, parse_rfc3339

UNKNOWN = "<unknown>"  # kubectl's text for a missing (zero) timestamp
INVALID = "<invalid>"  # a timestamp more than a little in the future

_MICROS_PER_SECOND = 1_000_000
_SECONDS_PER_MINUTE = 60
_MINUTES_PER_HOUR = 60
_HOURS_PER_DAY = 24
_DAYS_PER_YEAR = 365

# Precision steps of HumanDuration: below each limit the listed format is used.
_SECONDS_ONLY_BELOW_SECONDS = 2 * _SECONDS_PER_MINUTE  # "119s", then "2m"
_MINUTES_AND_SECONDS_BELOW_MINUTES = 10  # "9m59s", then "10m"
_MINUTES_ONLY_BELOW_MINUTES = 3 * _MINUTES_PER_HOUR  # "179m", then "3h"
_HOURS_AND_MINUTES_BELOW_HOURS = 8  # "7h59m", then "8h"
_HOURS_ONLY_BELOW_HOURS = 2 * _HOURS_PER_DAY  # "47h", then "2d"
_DAYS_AND_HOURS_BELOW_HOURS = 8 * _HOURS_PER_DAY  # "7d23h", then "8d"
_DAYS_ONLY_BELOW_HOURS = 2 * _DAYS_PER_YEAR * _HOURS_PER_DAY  # "729d", then "2y"
_YEARS_AND_DAYS_BELOW_HOURS = 8 * _DAYS_PER_YEAR * _HOURS_PER_DAY  # "7y364d", then "8y"

# Clocks of different machines disagree a little: anything less than two seconds in the future
# still reads as "now" (HumanDuration's own tolerance).
_FUTURE_TOLERANCE_SECONDS = -1



def human_duration(elapsed: timedelta) -> str:
    """Format a duration exactly like apimachinery's ``duration.HumanDuration``."""
    micros = (elapsed.days * 86_400 + elapsed.seconds) * _MICROS_PER_SECOND + elapsed.microseconds
    seconds = _truncate_toward_zero(micros, _MICROS_PER_SECOND)
    if seconds < _FUTURE_TOLERANCE_SECONDS:
        return INVALID
    if seconds < 0:
        return "0s"
    if seconds < _SECONDS_ONLY_BELOW_SECONDS:
        return f"{seconds}s"
    minutes = seconds // _SECONDS_PER_MINUTE
    if minutes < _MINUTES_AND_SECONDS_BELOW_MINUTES:
        return _with_remainder(minutes, "m", seconds % _SECONDS_PER_MINUTE, "s")
    if minutes < _MINUTES_ONLY_BELOW_MINUTES:
        return f"{minutes}m"
    hours = minutes // _MINUTES_PER_HOUR
    if hours < _HOURS_AND_MINUTES_BELOW_HOURS:
        return _with_remainder(hours, "h", minutes % _MINUTES_PER_HOUR, "m")
    if hours < _HOURS_ONLY_BELOW_HOURS:
        return f"{hours}h"
    days = hours // _HOURS_PER_DAY
    if hours < _DAYS_AND_HOURS_BELOW_HOURS:
        return _with_remainder(days, "d", hours % _HOURS_PER_DAY, "h")
    if hours < _DAYS_ONLY_BELOW_HOURS:
        return f"{days}d"
    years = days // _DAYS_PER_YEAR
    if hours < _YEARS_AND_DAYS_BELOW_HOURS:
        return _with_remainder(years, "y", days % _DAYS_PER_YEAR, "d")
    return f"{years}y"


def _truncate_toward_zero(numerator: int, denominator: int) -> int:
    # Python's // floors; Go's int() conversion of a negative duration truncates.
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def _with_remainder(major: int, major_unit: str, minor: int, minor_unit: str) -> str:
    # HumanDuration drops a zero minor part: "3m", not "3m0s".
    if minor == 0:
        return f"{major}{major_unit}"
    return f"{major}{major_unit}{minor}{minor_unit}"


def since(value: object, now: datetime) -> str:
    """kubectl's ``translateTimestampSince``: the age of a timestamp, or ``<unknown>``."""
    moment = parse_rfc3339(value)
    if moment is None:
        return UNKNOWN
    return human_duration(as_utc(now) - moment)
