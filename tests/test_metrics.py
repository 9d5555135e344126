"""Metrics against hand-computed values on small hand-made tables."""

from __future__ import annotations

import itertools

import pytest

from foolbox_lite.errors import InputError
from foolbox_lite.evaluator import (
    NA,
    OTHER,
    Trial,
    accuracy,
    cue_fractions,
    error_consistency,
    followed_cue,
    shape_bias,
    summarize,
)
from foolbox_lite.evaluator.metrics import kappa

ORDER = ["shape", "texture"]


def trial(obs: str, stim: str, shape: str, texture: str, response: str, condition: str = "") -> Trial:
    cues = {"shape": shape, "texture": texture}
    return Trial(obs, stim, response, followed_cue(response, cues, ORDER) if response != NA else OTHER, cues, condition, shape)


# 8 trials of one observer: 6 cue-conflict stimuli, 2 without conflict (shape == texture).
TABLE = [
    ("s1", "cat", "dog", "cat", "a"),  # shape
    ("s2", "cat", "bird", "bird", "a"),  # texture
    ("s3", "car", "boat", "boat", "a"),  # texture
    ("s4", "car", "clock", "knife", "b"),  # other
    ("s5", "oven", "bear", "oven", "b"),  # shape
    ("s6", "oven", "truck", NA, "b"),  # other (no answer)
    ("s7", "dog", "dog", "dog", "a"),  # no conflict: attributed to shape, not counted by shape bias
    ("s8", "bird", "bird", "cat", "b"),  # no conflict, wrong
]


def obs(name: str = "m", table=TABLE) -> list[Trial]:
    return [trial(name, s, sh, tx, r, c) for s, sh, tx, r, c in table]


def test_cue_fractions_by_hand() -> None:
    f = cue_fractions(obs(), ORDER)
    assert f == {"shape": 3 / 8, "texture": 2 / 8, "other": 3 / 8}
    assert list(f) == ["shape", "texture", "other"]
    assert cue_fractions([], ORDER) == {"shape": 0.0, "texture": 0.0, "other": 0.0}


def test_shape_bias_counts_only_conflict_stimuli() -> None:
    # conflict trials: shape decisions s1, s5 (2); texture decisions s2, s3 (2); s7 (no conflict) is left out.
    assert shape_bias(obs()) == pytest.approx(2 / 4)
    only_shape = [t for t in obs() if t.stimulus in ("s1", "s5", "s7")]
    assert shape_bias(only_shape) == 1.0
    assert shape_bias([t for t in obs() if t.stimulus in ("s4", "s6", "s7", "s8")]) is None


def test_accuracy_per_condition_by_hand() -> None:
    ts = obs()
    assert accuracy(ts, "shape") == pytest.approx(3 / 8)  # s1, s5, s7
    assert accuracy([t for t in ts if t.condition == "a"], "shape") == pytest.approx(2 / 4)  # s1, s7
    assert accuracy([t for t in ts if t.condition == "b"], "shape") == pytest.approx(1 / 4)  # s5
    assert accuracy(ts, "texture") == pytest.approx(3 / 8)  # s2, s3, s7
    assert accuracy(ts, "background") is None


def test_kappa_hand_computed() -> None:
    # right/wrong per stimulus: a = 1 1 1 0 0, b = 1 1 0 0 1
    # p1 = p2 = 0.6; c_obs = 3/5; c_exp = 0.36 + 0.16 = 0.52; kappa = 0.08 / 0.48 = 1/6
    a = [trial("a", f"x{i}", "cat", "dog", "cat" if r else "dog") for i, r in enumerate([1, 1, 1, 0, 0])]
    b = [trial("b", f"x{i}", "cat", "dog", "cat" if r else NA) for i, r in enumerate([1, 1, 0, 0, 1])]
    ec = error_consistency(a, b)
    assert (ec.a, ec.b, ec.n) == ("a", "b", 5)
    assert ec.observed == pytest.approx(0.6)
    assert ec.expected == pytest.approx(0.52)
    assert ec.kappa == pytest.approx(1 / 6)
    assert kappa(1.0, 1.0) == 1.0  # identical, all right: published convention


def _cohen_kappa_2x2(x: list[bool], y: list[bool]) -> float:
    """Cohen's kappa from the 2x2 contingency table (an independent formula)."""
    n = len(x)
    table = {(i, j): sum(1 for u, v in zip(x, y) if (u, v) == (i, j)) for i in (False, True) for j in (False, True)}
    po = (table[True, True] + table[False, False]) / n
    rows = {i: table[i, False] + table[i, True] for i in (False, True)}
    cols = {j: table[False, j] + table[True, j] for j in (False, True)}
    pe = sum(rows[k] * cols[k] for k in (False, True)) / n**2
    return (po - pe) / (1 - pe)


@pytest.mark.parametrize("seed", range(5))
def test_kappa_matches_independent_formula(seed: int) -> None:
    import random

    rng = random.Random(seed)  # a local generator, not the global one
    n = 40
    ra = [rng.random() < 0.6 for _ in range(n)]
    rb = [(u if rng.random() < 0.7 else not u) for u in ra]
    a = [trial("a", f"x{i}", "cat", "dog", "cat" if r else "dog") for i, r in enumerate(ra)]
    # b saw the stimuli in another order and one extra stimulus a did not see: matched by stimulus
    b = [trial("b", f"x{i}", "cat", "dog", "cat" if r else "bird") for i, r in enumerate(rb)][::-1]
    b.append(trial("b", "extra", "cat", "dog", "cat"))
    ec = error_consistency(a, b)
    assert ec.n == n
    assert ec.kappa == pytest.approx(_cohen_kappa_2x2(ra, rb), abs=1e-12)


def test_error_consistency_edge_cases() -> None:
    a = obs("a")
    assert error_consistency(a, [trial("b", "zzz", "cat", "dog", "cat")]).n == 0
    assert error_consistency(a, [trial("b", "zzz", "cat", "dog", "cat")]).kappa is None
    with pytest.raises(InputError, match="two trials for stimulus 's1'"):
        error_consistency(a + [trial("a", "s1", "cat", "dog", "cat")], a)


def test_summarize_structure_and_pairs() -> None:
    t = {"m1": obs("m1"), "m2": obs("m2"), "subject-01": obs("subject-01")}
    s = summarize(t, ORDER)
    assert list(s["observers"]) == ["m1", "m2", "subject-01"]
    o = s["observers"]["m1"]
    assert o["n"] == 8 and o["shape_bias"] == 0.5
    assert o["accuracy"] == {"cue": "shape", "overall": 0.375, "per_condition": {"a": 0.5, "b": 0.25}}
    assert o["per_condition"]["a"]["cue_fractions"] == {"shape": 0.5, "texture": 0.5, "other": 0.0}
    pairs = [(p["a"], p["b"]) for p in s["error_consistency"]]
    assert pairs == list(itertools.combinations(["m1", "m2", "subject-01"], 2))
    assert all(p["kappa"] == 1.0 and p["observed"] == 1.0 for p in s["error_consistency"])
