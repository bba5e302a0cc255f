"""Kubernetes resource quantities (``100m``, ``0.5``, ``128Mi``, ``1G``, ``1e3``) as exact numbers.

A quantity is a signed decimal number followed by one suffix from three families
(k8s.io/apimachinery/pkg/api/resource/quantity.go):

* binary SI, powers of 1024: ``Ki Mi Gi Ti Pi Ei``;
* decimal SI, powers of 1000: ``n u m "" k M G T P E``;
* decimal exponent: ``e3``, ``E-2``.

Values are held as :class:`~decimal.Decimal` so that ``0.1 + 0.2`` CPUs stays exact and
``1.5Gi`` is exactly 1610612736 bytes. Like Kubernetes, precision finer than a nano-unit is
rounded up (away from zero) when parsed.

:func:`canonical` gives Kubernetes' canonical spelling, which is what the API returns and what
``kubectl describe`` shows. The family of the suffix the user wrote is kept, except that a binary
quantity below 1024 or with a fractional byte is shown in decimal. Worked examples::

    0.5    -> 500m        1500 -> 1500      2000 -> 2k       1e3  -> 1e3
    1024Mi -> 1Gi         1.5Gi -> 1536Mi   0.5Ki -> 512     100m -> 100m

``cpu_millis`` and ``memory_bytes`` round up, as ``Quantity.MilliValue``/``Value`` do: a request
of ``0.0001`` CPU still asks for one milli-CPU.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_UP, Decimal, localcontext
from enum import Enum

QUANTITY_REGEX = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
FORMAT_ERROR = f"quantities must match the regular expression '{QUANTITY_REGEX}'"
SUFFIX_ERROR = "unable to parse quantity's suffix"

_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXPONENT = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {exp: suffix for suffix, exp in _BINARY_SUFFIXES.items()}
_NANO = Decimal("1e-9")


class QuantityFormat(str, Enum):
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"
    DECIMAL_EXPONENT = "DecimalExponent"


def _as_text(quantity: str | int | float | Decimal) -> str:
    if isinstance(quantity, bool):
        raise ValueError(FORMAT_ERROR)
    if isinstance(quantity, (int, Decimal)):
        return str(quantity)
    if isinstance(quantity, float):
        # YAML `cpu: 0.5` arrives as a float; its shortest repr is what the user wrote.
        return repr(quantity)
    if isinstance(quantity, str):
        return quantity
    raise ValueError(FORMAT_ERROR)


def parse_with_format(quantity: str | int | float | Decimal) -> tuple[Decimal, QuantityFormat]:
    """The exact value and the suffix family it was written in; ``ValueError`` when malformed."""
    text = _as_text(quantity)
    if not text:
        raise ValueError("quantities must not be empty")
    number = _NUMBER_RE.match(text)
    if not number or not re.fullmatch(QUANTITY_REGEX[1:-1], text):
        raise ValueError(FORMAT_ERROR)
    suffix = text[number.end():]
    with localcontext() as ctx:
        ctx.prec = 200  # exact for anything a quantity can spell
        value = Decimal(number.group())
        if suffix in _BINARY_SUFFIXES:
            value *= Decimal(2) ** _BINARY_SUFFIXES[suffix]
            fmt = QuantityFormat.BINARY_SI
        elif suffix in _DECIMAL_SUFFIXES:
            value = value.scaleb(_DECIMAL_SUFFIXES[suffix])
            fmt = QuantityFormat.DECIMAL_SI
        elif suffix[:1] in ("e", "E") and re.fullmatch(r"[+-]?[0-9]+", suffix[1:]):
            exponent = int(suffix[1:])
            if abs(exponent) > 1000:
                raise ValueError(SUFFIX_ERROR)
            value = value.scaleb(exponent)
            fmt = QuantityFormat.DECIMAL_EXPONENT
        else:
            raise ValueError(SUFFIX_ERROR)
        if value != value.quantize(_NANO, rounding=ROUND_UP):
            value = value.quantize(_NANO, rounding=ROUND_UP)
        return value.normalize() if value else Decimal(0), fmt


def parse_quantity(quantity: str | int | float | Decimal) -> Decimal:
    """``"100m"`` → ``Decimal("0.1")``; ``"1Ki"`` → ``Decimal("1024")``."""
    return parse_with_format(quantity)[0]


def is_quantity(quantity: object) -> bool:
    try:
        parse_with_format(quantity)  # type: ignore[arg-type]
    except ValueError:
        return False
    return True


def cpu_millis(quantity: str | int | float | Decimal) -> int:
    """CPU in milli-cores, rounded up: ``"0.5"`` → 500, ``"1"`` → 1000, ``"0.0001"`` → 1."""
    return int((parse_quantity(quantity) * 1000).to_integral_value(rounding=ROUND_CEILING))


def memory_bytes(quantity: str | int | float | Decimal) -> int:
    """Bytes, rounded up: ``"128Mi"`` → 134217728, ``"1G"`` → 1000000000."""
    return int(parse_quantity(quantity).to_integral_value(rounding=ROUND_CEILING))


def _split_factor(value: int, base: int) -> tuple[int, int]:
    times = 0
    while value and value % base == 0:
        value //= base
        times += 1
    return value, times


def _decimal_canonical(value: Decimal, fmt: QuantityFormat) -> str:
    sign, digits, exponent = value.as_tuple()
    mantissa = int("".join(map(str, digits)) or "0")
    assert isinstance(exponent, int)
    mantissa, times = _split_factor(mantissa, 10)
    exponent += times
    # Lower the exponent to a multiple of three so that the suffix is an SI one.
    shift = exponent % 3
    mantissa *= 10 ** shift
    exponent -= shift
    if mantissa == 0:
        exponent = 0
    number = f"{'-' if sign and mantissa else ''}{mantissa}"
    if fmt is QuantityFormat.DECIMAL_SI and exponent in _DECIMAL_BY_EXPONENT:
        return number + _DECIMAL_BY_EXPONENT[exponent]
    return number + (f"e{exponent}" if exponent else "")


def format_quantity(value: Decimal | int, fmt: QuantityFormat = QuantityFormat.DECIMAL_SI) -> str:
    """Kubernetes' canonical spelling of ``value`` in the family ``fmt``."""
    value = Decimal(value)
    if fmt is QuantityFormat.BINARY_SI:
        if -1024 < value < 1024 or value != value.to_integral_value():
            fmt = QuantityFormat.DECIMAL_SI
        else:
            integer = int(value)
            amount, times = _split_factor(abs(integer), 1024)
            times = min(times, 6)
            amount = abs(integer) >> (10 * times)
            return f"{'-' if integer < 0 else ''}{amount}{_BINARY_BY_EXPONENT.get(times * 10, '')}"
    return _decimal_canonical(value, fmt)


def canonical(quantity: str | int | float | Decimal) -> str:
    """The spelling the API server returns: ``0.5`` → ``500m``, ``1024Mi`` → ``1Gi``."""
    value, fmt = parse_with_format(quantity)
    return format_quantity(value, fmt)


def round_up_to_milli(quantity: str | int | float | Decimal) -> str:
    """Resource lists are rounded up to milli precision on the way in (``SetDefaults_ResourceList``)."""
    value, fmt = parse_with_format(quantity)
    rounded = value.quantize(Decimal("0.001"), rounding=ROUND_UP)
    if rounded != value:
        value = rounded
    return format_quantity(value, fmt)


def format_cpu(millis: int) -> str:
    """``500`` → ``"500m"``, ``2000`` → ``"2"``: how kubectl shows CPU."""
    return f"{millis // 1000}" if millis % 1000 == 0 else f"{millis}m"


def format_memory(num_bytes: int) -> str:
    """``134217728`` → ``"128Mi"``; falls back to plain bytes when no binary suffix divides."""
    return format_quantity(num_bytes, QuantityFormat.BINARY_SI)
