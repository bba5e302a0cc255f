"""Kubernetes quantities: exact parsing, canonical spelling, CPU/memory conversions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.api import quantity
from orchestrator.api.quantity import QuantityFormat


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100m", Decimal("0.1")),
        ("0.5", Decimal("0.5")),
        ("1", Decimal(1)),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("128Mi", Decimal(128 * 2**20)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),  # "E3" is an exponent, not Exa followed by 3
        ("2Ki", Decimal(2048)),
        ("1.5Gi", Decimal(1610612736)),
        ("1E", Decimal(10**18)),
        ("250u", Decimal("0.00025")),
        ("3n", Decimal("0.000000003")),
        ("-2k", Decimal(-2000)),
        ("+7", Decimal(7)),
        ("1e-3", Decimal("0.001")),
        (1, Decimal(1)),
        (0.5, Decimal("0.5")),
        ("0.0000000001", Decimal("0.000000001")),  # finer than nano rounds up
    ],
)
def test_parse_quantity(text: str | int | float, value: Decimal) -> None:
    assert quantity.parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1x", "1Kb", "1.2.3", "Mi", "1 Mi", "1e", "--1", "1ee3", True, None, [1]])
def test_invalid_quantities_raise_value_error(text: object) -> None:
    with pytest.raises(ValueError):
        quantity.parse_quantity(text)  # type: ignore[arg-type]
    assert not quantity.is_quantity(text)


def test_format_error_uses_kubernetes_wording() -> None:
    with pytest.raises(ValueError, match=r"quantities must match the regular expression"):
        quantity.parse_quantity("12x")


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("0.5", "500m"),
        ("1500", "1500"),
        ("2000", "2k"),
        ("1e3", "1e3"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("0.5Ki", "512"),
        ("100m", "100m"),
        ("1", "1"),
        ("0", "0"),
        ("1000m", "1"),
        ("128974848", "128974848"),
        ("129e6", "129e6"),
        ("129M", "129M"),
        ("0.1Gi", "107374182400m"),
        ("1536", "1536"),
        ("2048Ki", "2Mi"),
        (1, "1"),
        (0.25, "250m"),
    ],
)
def test_canonical(text: str | int | float, canonical: str) -> None:
    assert quantity.canonical(text) == canonical


@pytest.mark.parametrize(
    ("text", "millis"),
    [("100m", 100), ("0.5", 500), ("1", 1000), ("2", 2000), ("0.0001", 1), ("1.0005", 1001), (3, 3000)],
)
def test_cpu_millis_rounds_up(text: str | int, millis: int) -> None:
    assert quantity.cpu_millis(text) == millis


@pytest.mark.parametrize(
    ("text", "num_bytes"),
    [("128Mi", 134217728), ("1G", 10**9), ("1Gi", 2**30), ("100", 100), ("0.5", 1), ("1k", 1000)],
)
def test_memory_bytes(text: str, num_bytes: int) -> None:
    assert quantity.memory_bytes(text) == num_bytes


@pytest.mark.parametrize(("millis", "text"), [(500, "500m"), (1000, "1"), (2500, "2500m"), (0, "0")])
def test_format_cpu(millis: int, text: str) -> None:
    assert quantity.format_cpu(millis) == text


@pytest.mark.parametrize(("num_bytes", "text"), [(134217728, "128Mi"), (2**30, "1Gi"), (1000, "1k"), (1536 * 2**20, "1536Mi")])
def test_format_memory(num_bytes: int, text: str) -> None:
    assert quantity.format_memory(num_bytes) == text


def test_round_up_to_milli() -> None:
    assert quantity.round_up_to_milli("0.0001") == "1m"
    assert quantity.round_up_to_milli("1Gi") == "1Gi"


# ── properties ───────────────────────────────────────────────────────────────────────────────

_SUFFIXES = ["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "e3", "e-2", "n", "u"]


@st.composite
def quantity_texts(draw: st.DrawFn) -> str:
    integer = draw(st.integers(min_value=0, max_value=10**6))
    fraction = draw(st.one_of(st.just(""), st.integers(min_value=0, max_value=999).map(lambda f: f".{f}")))
    sign = draw(st.sampled_from(["", "-", "+"]))
    return f"{sign}{integer}{fraction}{draw(st.sampled_from(_SUFFIXES))}"


@given(quantity_texts())
def test_canonical_preserves_value(text: str) -> None:
    assert quantity.parse_quantity(quantity.canonical(text)) == quantity.parse_quantity(text)


@given(quantity_texts())
def test_canonical_is_idempotent(text: str) -> None:
    once = quantity.canonical(text)
    assert quantity.canonical(once) == once


@given(st.integers(min_value=0, max_value=10**9))
def test_cpu_round_trip(millis: int) -> None:
    assert quantity.cpu_millis(quantity.format_cpu(millis)) == millis


@given(st.integers(min_value=0, max_value=2**62))
def test_memory_round_trip(num_bytes: int) -> None:
    assert quantity.memory_bytes(quantity.format_memory(num_bytes)) == num_bytes


@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from(list(QuantityFormat)))
def test_format_quantity_round_trips_integers(value: int, fmt: QuantityFormat) -> None:
    assert quantity.parse_quantity(quantity.format_quantity(value, fmt)) == value


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(["Ki", "Mi", "Gi"]))
def test_binary_suffix_is_exact(amount: int, suffix: str) -> None:
    power = {"Ki": 10, "Mi": 20, "Gi": 30}[suffix]
    assert quantity.memory_bytes(f"{amount}{suffix}") == amount * 2**power
