"""Does a checkpoint's content fit *this* network and optimizer? Checked tensor by tensor
before anything is loaded, so a wrong-shaped Adam moment is refused with its name
instead of failing later inside ``optimizer.step()``, and a refused resume leaves the
model and optimizer untouched.

checkpoint_fields.py has already checked every JSON value for type and range; here the
checks need the live objects: the model's state dict, the optimizer's parameter groups,
the RNG state sizes. ``load_weights`` (weights only, for inspection and export) lives
here too: it is a read followed by this check.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from visionstudio.core.training.checkpoint import (
    MODEL_FILE,
    STATE_FILE,
    CheckpointError,
    load_checkpoint,
    read_weights_file,
)
from visionstudio.core.training.checkpoint_fields import show

# The per-parameter state each torch optimizer keeps. "step" is a scalar; every other entry
# has the shape of its parameter.
STATE_NAMES = {
    "SGD": {"momentum_buffer"},
    "Adam": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "AdamW": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "RMSprop": {"step", "square_avg", "momentum_buffer", "grad_avg"},
    "Adagrad": {"step", "sum"},
}
SCALAR_STATES = {"step"}
# How the optimizer runs on this machine, not training state: kept from the live optimizer
# (a checkpoint must not switch on "differentiable" or a CUDA-only code path on the CPU).
IMPLEMENTATION_KEYS = {"foreach", "fused", "capturable", "differentiable"}


def _shape(shape: Any) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _dtypes_fit(found: torch.dtype, needed: torch.dtype) -> bool:
    return found == needed or (found.is_floating_point and needed.is_floating_point)


def check_model_state(state: Mapping[str, torch.Tensor], model: torch.nn.Module, where: str) -> None:
    """Every tensor of the network present with its shape and a usable dtype, nothing else;
    CheckpointError names the first tensor that does not fit."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append("it lacks " + ", ".join(repr(k) for k in missing[:5])
                         + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
        if extra:
            parts.append("it has tensors the network does not: " + ", ".join(repr(k) for k in extra[:5])
                         + (f" and {len(extra) - 5} more" if len(extra) > 5 else ""))
        raise CheckpointError(f"{where} does not fit this network: {'; '.join(parts)}")
    for key, needed in expected.items():
        found = state[key]
        if tuple(found.shape) != tuple(needed.shape):
            raise CheckpointError(f"{where} does not fit this network: tensor {key!r} has shape "
                                  f"{_shape(found.shape)}, the network needs {_shape(needed.shape)}")
        if not _dtypes_fit(found.dtype, needed.dtype):
            raise CheckpointError(f"{where} does not fit this network: tensor {key!r} is "
                                  f"{found.dtype}, the network needs {needed.dtype}")


def _fail(root: Any, name: str, problem: str) -> CheckpointError:
    return CheckpointError(f"cannot use checkpoint {root}: {name}: {problem}")


def _fit_groups(root: Any, groups: list[dict[str, Any]], live_groups: list[dict[str, Any]]
                ) -> tuple[dict[int, torch.nn.Parameter], list[dict[str, Any]]]:
    """(saved parameter index -> live parameter, the param groups to load)."""
    if len(groups) != len(live_groups):
        raise _fail(root, "checkpoint.json", f"field 'optimizer.param_groups' has {len(groups)} "
                                             f"group(s), this optimizer has {len(live_groups)}")
    params: dict[int, torch.nn.Parameter] = {}
    new_groups = []
    for g, (group, live) in enumerate(zip(groups, live_groups)):
        where = f"field 'optimizer.param_groups[{g}]"
        ids = group["params"]
        if len(ids) != len(live["params"]):
            raise _fail(root, "checkpoint.json", f"{where}.params' lists {len(ids)} parameters, "
                                                 f"the network has {len(live['params'])}")
        for index, param in zip(ids, live["params"]):
            if index in params:
                raise _fail(root, "checkpoint.json", f"{where}.params' lists parameter {index} twice")
            params[index] = param
        new = {}
        for name, value in live.items():
            if name == "params":
                continue
            if name in IMPLEMENTATION_KEYS or name not in group:
                new[name] = value
                continue
            new[name] = _group_value(group[name], value, f"{where}.{name}'", root)
        new["params"] = list(ids)
        new_groups.append(new)
    return params, new_groups


def _check_state_tensor(root: Any, key: str, name: str, value: torch.Tensor,
                        param: torch.nn.Parameter) -> None:
    if name in SCALAR_STATES:
        if value.numel() != 1 or value.dtype.is_complex or value.dtype == torch.bool:
            raise _fail(root, STATE_FILE, f"tensor {key!r} must be a single number, found "
                                          f"{value.dtype} of shape {_shape(value.shape)}")
        count = float(value.reshape(()))
        if not math.isfinite(count) or count < 0 or count > 1e15:
            raise _fail(root, STATE_FILE, f"tensor {key!r} must be a step count ≥ 0, found {count!r}")
        return
    if tuple(value.shape) != tuple(param.shape):
        raise _fail(root, STATE_FILE, f"tensor {key!r} has shape {_shape(value.shape)}, but "
                                      f"its parameter has shape {_shape(param.shape)}")
    if not value.dtype.is_floating_point:
        raise _fail(root, STATE_FILE, f"tensor {key!r} is {value.dtype}, a floating-point "
                                      "tensor is needed")


def _tensor_states(root: Any, tensors: Mapping[str, torch.Tensor], params: Mapping[int, Any],
                   kind: str, names: Any) -> dict[int, dict[str, Any]]:
    """The per-parameter state held as tensors (``optim.<index>.<name>``), checked."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("rng."):
            continue
        parts = key.split(".", 2)
        if len(parts) != 3 or parts[0] != "optim" or not parts[1].isdigit():
            raise _fail(root, STATE_FILE, f"tensor {key!r} is not part of a training state")
        index, name = int(parts[1]), parts[2]
        if index not in params:
            raise _fail(root, STATE_FILE, f"tensor {key!r} belongs to parameter {index}, which "
                                          "the optimizer does not have")
        if names is not None and name not in names:
            raise _fail(root, STATE_FILE, f"tensor {key!r}: {kind} keeps no {name!r} state "
                                          "(was it saved by another optimizer?)")
        _check_state_tensor(root, key, name, value, params[index])
        state.setdefault(index, {})[name] = value
    return state


def _add_scalar_states(root: Any, scalars: Mapping[str, Any], state: dict[int, dict[str, Any]],
                       params: Mapping[int, Any], kind: str, names: Any) -> None:
    """The per-parameter state kept as JSON numbers (``optimizer.scalars``), checked."""
    for index, values in scalars.items():
        if int(index) not in params:
            raise _fail(root, "checkpoint.json", f"field 'optimizer.scalars.{index}' belongs to a "
                                                 "parameter the optimizer does not have")
        for name, value in values.items():
            if names is not None and name not in names:
                raise _fail(root, "checkpoint.json", f"field 'optimizer.scalars.{index}.{name}': "
                                                     f"{kind} keeps no {name!r} state")
            if name in state.get(int(index), {}):
                raise _fail(root, "checkpoint.json", f"field 'optimizer.scalars.{index}.{name}' "
                                                     "duplicates a tensor of the same name")
            if value is not None and name not in SCALAR_STATES:
                raise _fail(root, "checkpoint.json", f"field 'optimizer.scalars.{index}.{name}' "
                                                     "must be a tensor, found a number")
            state.setdefault(int(index), {})[name] = value


def fit_optimizer_state(root: Any, tensors: Mapping[str, torch.Tensor], data: dict[str, Any],
                        optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The state dict to give ``optimizer.load_state_dict``, built from the checkpoint's
    optimizer tensors and JSON once they are known to fit ``optimizer``: the same number
    of groups and parameters, state entries this kind of optimizer keeps, tensors shaped
    like the parameters they belong to. Raises CheckpointError naming the tensor or field."""
    kind = type(optimizer).__name__
    names = STATE_NAMES.get(kind)
    params, new_groups = _fit_groups(root, data["param_groups"], optimizer.param_groups)
    state = _tensor_states(root, tensors, params, kind, names)
    _add_scalar_states(root, data["scalars"], state, params, kind, names)
    _check_complete(root, kind, state, params, new_groups)
    return {"state": state, "param_groups": new_groups}


def _needed_states(kind: str, group: Mapping[str, Any]) -> set[str]:
    """The entries ``kind``'s step reads from a parameter's state once it has any."""
    if kind in ("Adam", "AdamW"):
        return {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group.get("amsgrad") else set())
    if kind == "RMSprop":
        return ({"step", "square_avg"} | ({"momentum_buffer"} if group.get("momentum") else set())
                | ({"grad_avg"} if group.get("centered") else set()))
    if kind == "Adagrad":
        return {"step", "sum"}
    return set()


def _check_complete(root: Any, kind: str, state: Mapping[int, Mapping[str, Any]],
                    params: Mapping[int, Any], groups: list[dict[str, Any]]) -> None:
    group_of = {index: g for g, group in enumerate(groups) for index in group["params"]}
    for index in params:
        have = state.get(index)
        if have is None and kind != "Adagrad":   # state appears at a parameter's first step
            continue
        lacking = sorted(_needed_states(kind, groups[group_of[index]]) - set(have or ()))
        if lacking:
            raise _fail(root, STATE_FILE, f"the optimizer state of parameter {index} lacks "
                                          + ", ".join(f"'optim.{index}.{n}'" for n in lacking))


def _group_value(found: Any, live: Any, where: str, root: Any) -> Any:
    """A parameter group's setting from the checkpoint, of the kind the live optimizer uses."""
    def bad(problem: str) -> CheckpointError:
        return _fail(root, "checkpoint.json", f"{where} {problem}, found {show(found)}")
    if isinstance(live, bool):
        if not isinstance(found, bool):
            raise bad("must be true or false")
        return found
    if isinstance(live, (int, float)) or (isinstance(live, torch.Tensor) and live.numel() == 1):
        if (isinstance(found, bool) or not isinstance(found, (int, float)) or not math.isfinite(found)
                or found < 0):
            raise bad("must be a finite number ≥ 0")
        return found
    if isinstance(live, (tuple, list)):
        if not isinstance(found, list) or len(found) != len(live):
            raise bad(f"must be a list of {len(live)} numbers")
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1 for v in found):
            raise bad("must hold numbers from 0 up to (not including) 1")
        return tuple(found)
    if live is None:
        if found is not None and not isinstance(found, (bool, int, float)):
            raise bad("must be a number, true/false or null")
        return found
    if type(found) is not type(live):
        raise bad(f"must be of the kind {type(live).__name__}")
    return found


def check_rng_states(root: Any, tensors: Mapping[str, torch.Tensor], sizes: Mapping[str, int]) -> None:
    """The RNG states the trainer restores: present, bytes (uint8) of the size this torch uses."""
    for key, size in sizes.items():
        value = tensors.get(key)
        if value is None:
            raise _fail(root, STATE_FILE, f"tensor {key!r} is missing")
        if value.dtype != torch.uint8 or tuple(value.shape) != (size,):
            raise _fail(root, STATE_FILE, f"tensor {key!r} must be {size} bytes (uint8), found "
                                          f"{value.dtype} of shape {_shape(value.shape)}")
    for key, value in tensors.items():
        if key.startswith("rng.cuda.") and (value.dtype != torch.uint8 or value.dim() != 1):
            raise _fail(root, STATE_FILE, f"tensor {key!r} must be a list of bytes (uint8)")


__all__ = ["MODEL_FILE", "check_model_state", "check_rng_states", "fit_optimizer_state"]


def load_weights(path: str | os.PathLike[str], model: torch.nn.Module) -> None:
    """Load a checkpoint's (or a bare model.safetensors') weights into ``model``; every
    tensor's name, shape and dtype is checked against the model first."""
    p = Path(path)
    if p.is_dir():
        state = load_checkpoint(p).model_state
    else:
        state = read_weights_file(p)
    check_model_state(state, model, f"the weights in {p}")
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"the weights in {p} do not fit this network: {exc}") from None
