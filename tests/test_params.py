from __future__ import annotations

import math

import pytest
import torch

from foolbox_lite.errors import ParameterError
from foolbox_lite.params import Choice, Fixed, LogUniform, Uniform, as_spec


def test_spec_forms():
    assert as_spec("a", 3) == Fixed(3)
    assert as_spec("a", (1, 2)) == Uniform(1, 2)
    assert as_spec("a", {"uniform": [1, 2]}) == Uniform(1, 2)
    assert as_spec("a", {"loguniform": [0.1, 1]}) == LogUniform(0.1, 1)
    assert as_spec("a", {"choice": [1, 5]}) == Choice((1, 5))
    assert as_spec("m", "reflect", options=["zeros", "reflect"]) == Fixed("reflect")


def test_sampling_stays_in_range_and_is_seeded():
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    u = Uniform(40, 70)
    xs = [u.sample(g1) for _ in range(200)]
    assert all(40 <= x <= 70 for x in xs) and xs == [u.sample(g2) for _ in range(200)]
    lu = LogUniform(0.01, 1)
    assert all(0.01 <= lu.sample(g1) <= 1 for _ in range(100))


@pytest.mark.parametrize(
    "value,match",
    [
        ((70, 40), "upside down"),
        (math.nan, "finite"),
        (math.inf, "finite"),
        ("x", "number"),
        ({"gauss": [0, 1]}, "unknown distribution"),
        ({"choice": []}, "non-empty"),
        ((1, 2, 3), r"\[low, high\]"),
    ],
)
def test_bad_specs(value, match):
    with pytest.raises(ParameterError, match=match):
        as_spec("pitch", value)


def test_bounds_are_enforced():
    with pytest.raises(ParameterError, match="above its maximum"):
        as_spec("std", 2.0, low=0, high=1)
    with pytest.raises(ParameterError, match="not one of"):
        as_spec("border", "wrap", options=["zeros", "reflect"])
