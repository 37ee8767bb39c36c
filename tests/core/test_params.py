"""ParamSpec validation: canonical values, or a ParamError a user can act on."""

from __future__ import annotations

import math

import pytest

from visionstudio.core.params import ParamError, ParamSpec, defaults, pair, validate_all

COUNT = ParamSpec("out_channels", "int", 32, title="filters", minimum=1, maximum=4096)
RATE = ParamSpec("p", "float", 0.5, title="rate", minimum=0.0, maximum=0.99)
FLAG = ParamSpec("bias", "bool", True)
ACT = ParamSpec("activation", "choice", "none", choices=("none", "relu"))
LABEL = ParamSpec("label", "str", "")
KERNEL = ParamSpec("kernel_size", "pair", 3, title="kernel size", minimum=1, maximum=64)
STRIDE = ParamSpec("stride", "pair", None, optional=True, minimum=1)
PADDING = ParamSpec("padding", "padding", 0, minimum=0, maximum=16, choices=("same", "valid"))
MILESTONES = ParamSpec("milestones", "int_list", [], minimum=0)
WEIGHTS = ParamSpec("weights", "float_list", [], minimum=-10.0, maximum=10.0)


def refused(spec: ParamSpec, value) -> str:
    with pytest.raises(ParamError) as info:
        spec.validate(value)
    return str(info.value)


def test_int_bounds():
    assert COUNT.validate(1) == 1 and COUNT.validate(4096) == 4096
    assert COUNT.validate(8.0) == 8 and isinstance(COUNT.validate(8.0), int)
    assert refused(COUNT, 0) == "filters must be at least 1 (got 0)"
    assert refused(COUNT, 5000) == "filters must be at most 4096 (got 5000)"
    assert refused(COUNT, -3) == "filters must be at least 1 (got -3)"
    assert refused(COUNT, 2.5) == "filters must be a whole number (got 2.5)"
    assert refused(COUNT, "8") == "filters must be a whole number (got '8')"


def test_bool_is_not_an_int_and_int_is_not_a_bool():
    assert refused(COUNT, True) == "filters must be a whole number (got True)"
    assert "whole number" in refused(KERNEL, False)
    assert "must be a number" in refused(RATE, True)
    assert refused(FLAG, 1) == "bias must be true or false (got 1)"
    assert FLAG.validate(False) is False


def test_float_bounds_and_finiteness():
    assert RATE.validate(0) == 0.0 and isinstance(RATE.validate(0), float)
    assert refused(RATE, 0.995) == "rate must be at most 0.99 (got 0.995)"
    assert refused(RATE, -0.1) == "rate must be at least 0 (got -0.1)"
    assert "finite" in refused(RATE, math.nan)
    assert "finite" in refused(RATE, math.inf)
    assert refused(RATE, "0.1") == "rate must be a number (got '0.1')"


def test_choice_and_text():
    assert ACT.validate("relu") == "relu"
    assert refused(ACT, "swish") == "activation must be one of none, relu (got 'swish')"
    assert LABEL.validate("x") == "x"
    assert "must be text" in refused(LABEL, 3)


def test_pairs():
    assert KERNEL.validate(3) == 3
    assert KERNEL.validate([3, 3]) == 3          # a square pair collapses to one number
    assert KERNEL.validate((3, 5)) == [3, 5]      # canonical form is a JSON list
    assert KERNEL.validate([3.0, 5]) == [3, 5]
    assert refused(KERNEL, [3, 5, 7]) == "kernel size must be one number or two (height, width); got 3"
    assert refused(KERNEL, [3, 0]) == "kernel size must be at least 1 (got 0)"
    assert refused(KERNEL, [3, 65]) == "kernel size must be at most 64 (got 65)"
    assert "whole number" in refused(KERNEL, [3, True])
    assert "whole number" in refused(KERNEL, "3")
    assert pair(3) == (3, 3) and pair([2, 4]) == (2, 4)


def test_optional_and_required():
    assert STRIDE.validate(None) is None
    assert STRIDE.validate(2) == 2
    assert refused(KERNEL, None) == "kernel size must be set"


def test_padding_words():
    assert PADDING.validate("same") == "same"
    assert PADDING.validate("valid") == "valid"
    assert PADDING.validate(2) == 2 and PADDING.validate([1, 2]) == [1, 2]
    assert refused(PADDING, "full") == (
        "padding must be a number, a pair or one of same, valid (got 'full')")
    assert refused(PADDING, -1) == "padding must be at least 0 (got -1)"
    assert "one number or two" in refused(PADDING, [])


def test_lists():
    assert MILESTONES.validate([10, 20.0]) == [10, 20]
    assert MILESTONES.validate(()) == []
    assert refused(MILESTONES, 10) == "milestones must be a list of numbers (got 10)"
    assert refused(MILESTONES, [10, -1]) == "milestones must be at least 0 (got -1)"
    assert "whole number" in refused(MILESTONES, [1.5])
    assert "whole number" in refused(MILESTONES, [True])
    assert WEIGHTS.validate([1, 0.5]) == [1.0, 0.5]
    assert refused(WEIGHTS, [1.0, 11.0]) == "weights must be at most 10 (got 11)"
    assert "finite" in refused(WEIGHTS, [math.nan])
    assert "a list of numbers" in refused(WEIGHTS, "1, 2")


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown parameter kind"):
        ParamSpec("x", "complex", 0)


def test_label_and_describe():
    assert ParamSpec("negative_slope", "float", 0.01).label == "negative slope"
    text = COUNT.describe()
    assert "Range 1 … 4096." in text and "Default: 32." in text
    assert "Options: none, relu." in ACT.describe()
    assert "Range 0 … inf." in MILESTONES.describe()


def test_validate_all_reports_every_problem_and_fills_defaults():
    specs = (COUNT, RATE, FLAG, KERNEL)
    clean, problems = validate_all(specs, {"out_channels": 0, "p": 2.0, "bogus": 1})
    assert problems == [
        "unknown parameter 'bogus'",
        "filters must be at least 1 (got 0)",
        "rate must be at most 0.99 (got 2)",
    ]
    assert clean == {"out_channels": 32, "p": 0.5, "bias": True, "kernel_size": 3}
    clean, problems = validate_all(specs, {"kernel_size": [5, 5]})
    assert not problems and clean["kernel_size"] == 5


def test_defaults_copy_lists():
    d1, d2 = defaults((WEIGHTS, COUNT)), defaults((WEIGHTS, COUNT))
    d1["weights"].append(1.0)
    assert d2["weights"] == [] and WEIGHTS.default == []
    clean, _ = validate_all((WEIGHTS,), {})
    clean["weights"].append(2.0)
    assert WEIGHTS.default == []
