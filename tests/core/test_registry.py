"""Registry: stable keys, aliases for renamed kinds, categories, helpful unknown-key errors."""

from __future__ import annotations

import pytest

from visionstudio.core.layers import LAYERS
from visionstudio.core.registry import Registry, UnknownKeyError


@pytest.fixture
def reg() -> Registry[str]:
    r: Registry[str] = Registry("loss")
    r.register("cross_entropy", "CE", category="Classification", aliases=("ce", "xent"))
    r.register("mse", "MSE", category="Regression")
    r.register("nll", "NLL", category="Classification")
    return r


def test_lookup_by_key_and_alias(reg):
    assert reg.get("cross_entropy") == "CE"
    assert reg.get("ce") == reg.get("xent") == "CE"
    assert reg.canonical("xent") == "cross_entropy"
    assert reg.canonical("mse") == "mse"
    assert "ce" in reg and "mse" in reg and "bogus" not in reg and 3 not in reg


def test_aliases_are_not_listed_as_keys(reg):
    assert reg.keys() == ["cross_entropy", "mse", "nll"]
    assert list(reg) == reg.keys() and len(reg) == 3
    assert reg.items()[0] == ("cross_entropy", "CE")


def test_unknown_key_message_lists_known_keys(reg):
    with pytest.raises(UnknownKeyError) as info:
        reg.get("hinge")
    assert str(info.value) == "unknown loss 'hinge' (known: cross_entropy, mse, nll)"
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownKeyError):
        reg.category("hinge")


def test_categories_keep_registration_order(reg):
    assert reg.category("ce") == "Classification"
    assert reg.by_category() == {"Classification": ["cross_entropy", "nll"], "Regression": ["mse"]}


def test_duplicate_keys_and_aliases_are_refused(reg):
    with pytest.raises(ValueError, match="already registered"):
        reg.register("mse", "other")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("ce", "other")  # an existing alias
    with pytest.raises(ValueError, match="alias 'mse' is already registered"):
        reg.register("l2", "other", aliases=("mse",))


def test_layer_registry_aliases_and_unknown_kind():
    assert LAYERS.canonical("linear") == "dense"
    assert LAYERS.canonical("batchnorm") == "batchnorm2d"
    assert LAYERS.get("linear") is LAYERS.get("dense")
    with pytest.raises(UnknownKeyError) as info:
        LAYERS.get("conv3d")
    message = str(info.value)
    assert message.startswith("unknown layer kind 'conv3d' (known: ")
    for key in ("conv2d", "dense", "maxpool2d", "add", "concat"):
        assert key in message


def test_layer_categories():
    assert LAYERS.category("conv2d") == "Convolution"
    assert LAYERS.category("linear") == "Dense"
    groups = LAYERS.by_category()
    assert {"add", "concat", "average", "weighted_sum"} <= set(groups["Merge"])
    assert groups["Input"] == ["input"]
