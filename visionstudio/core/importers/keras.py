"""Keras models (.keras and legacy .h5) onto the canvas, without Keras or TensorFlow.

Sequential and Functional models are walked in their config's order (a topological
order for both); each layer goes through ``keras_layers``. Every layer class without a
mapping is listed before anything is converted; a supported class with an unsupported
setting ("same" average pooling that pads) is listed as the walk meets it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visionstudio.core.importers.flat import DEAD, FlatBuilder, Value
from visionstudio.core.importers.keras_files import KerasWeights, open_keras_zip, open_legacy_h5
from visionstudio.core.importers.keras_layers import SUPPORTED, Ctx, convert
from visionstudio.core.importers.result import ImportProblem, ImportResult, listing

MAX_LAYERS = 10_000
Ref = tuple[str, int, int]   # (layer name, node index, tensor index)
MODELS = ("Sequential", "Functional", "Model")


def import_keras(path: str | Path) -> ImportResult:
    p = Path(path)
    source = str(p)
    if not p.is_file():
        raise ImportProblem(f"{source}: no such file")
    opener = open_legacy_h5 if p.suffix.lower() in (".h5", ".hdf5") else open_keras_zip
    config, weights = opener(source, source)
    try:
        return _convert(config, weights, source, p.stem)
    finally:
        weights.close()


def _layers(config: dict[str, Any], source: str) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    kind = config.get("class_name")
    body = config.get("config")
    if kind not in MODELS or not isinstance(body, dict):
        raise ImportProblem(f"{source}: a {str(kind)[:40]} is not a Sequential or Functional model")
    layers = body.get("layers")
    if not isinstance(layers, list) or not all(isinstance(x, dict) for x in layers):
        raise ImportProblem(f"{source}: the model's layer list cannot be read")
    if len(layers) > MAX_LAYERS:
        raise ImportProblem(f"{source}: {len(layers):,} layers; at most {MAX_LAYERS:,} are imported")
    return kind, layers, body


def _config(layer: dict[str, Any]) -> dict[str, Any]:
    cfg = layer.get("config")
    return cfg if isinstance(cfg, dict) else {}


def _layer_name(layer: dict[str, Any], index: int) -> str:
    cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
    name = layer.get("name", cfg.get("name", f"layer_{index}"))
    return str(name)[:200]


def _convert(config: dict[str, Any], weights: KerasWeights, source: str, stem: str) -> ImportResult:
    kind, layers, body = _layers(config, source)
    builder = FlatBuilder(source, "layer")
    missing = [f"{layer.get('class_name')!s:.40} at {_layer_name(layer, i)} (layer {i + 1})"
               + (" (a model inside the model)" if layer.get("class_name") in MODELS else "")
               for i, layer in enumerate(layers)
               if not isinstance(layer.get("class_name"), str) or layer["class_name"] not in SUPPORTED]
    if missing:
        raise listing(source, "layer", missing)
    walk = _sequential if kind == "Sequential" else _functional
    output = walk(builder, weights, layers, body)
    return builder.finish(output, str(body.get("name") or stem))


def _input(builder: FlatBuilder, name: str, shape: Any, where: str) -> Value:
    """The image input (Keras's H, W, C as C×H×W); a vector input of n values becomes a
    1×1×n image and a Flatten, which hands the next Dense the same n values."""
    if not isinstance(shape, list) or not all(isinstance(d, int) for d in shape[1:]):
        return builder.unsupported(f"{where} (an input shape of {str(shape)[:40]})")
    dims = shape[1:]
    if len(dims) == 3:
        h, w, c = dims
        return builder.add("input", name, {"channels": c, "height": h, "width": w}, [], where)
    if len(dims) == 1:
        x = builder.add("input", name, {"channels": 1, "height": 1, "width": dims[0]}, [], where)
        builder.notes.append(f"The {dims[0]}-value input is a 1×1×{dims[0]} image followed by a Flatten.")
        return builder.add("flatten", f"{name}_flatten", {}, [x], where)
    return builder.unsupported(f"{where} (a {len(dims)}-dimensional input: only images H×W×C "
                               "and vectors are imported)")


def _input_shape(cfg: dict[str, Any]) -> Any:
    return cfg.get("batch_shape", cfg.get("batch_input_shape"))


def _sequential(builder: FlatBuilder, weights: KerasWeights, layers: list[dict[str, Any]],
                body: dict[str, Any]) -> Value:
    x: Value | None = None
    flat: dict[str, tuple[int, int, int]] = {}
    for i, layer in enumerate(layers):
        cfg, name = _config(layer), _layer_name(layer, i)
        where = f"{layer['class_name']} at {name} (layer {i + 1})"
        if x is None:
            shape = _input_shape(cfg)
            if shape is None and isinstance(body.get("build_input_shape"), list):
                shape = body["build_input_shape"]
            if shape is None:
                raise ImportProblem(f"{builder.source}: the model does not say its input shape "
                                    "(build or call it once before saving)")
            x = _input(builder, name if layer["class_name"] == "InputLayer" else "input", shape, where)
            if layer["class_name"] == "InputLayer":
                continue
        x = convert(Ctx(builder, weights, name, layer["class_name"], cfg, where, flat), [x])
    if x is None:
        raise ImportProblem(f"{builder.source}: the model has no layers")
    return x


def _ref(item: Any) -> Ref | None:
    """One inbound tensor in either format (Keras 3 ``__keras_tensor__``, Keras 2 lists)."""
    if isinstance(item, dict) and isinstance(item.get("config"), dict):
        item = item["config"].get("keras_history")
    if (isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str)
            and all(type(i) is int for i in item[1:3])):
        return item[0], item[1], item[2]
    return None


def _inbound(layer: dict[str, Any]) -> list[list[Ref]] | None:
    """The refs of each call of the layer (None: unreadable)."""
    calls: list[list[Ref]] = []
    nodes = layer.get("inbound_nodes") or []
    if not isinstance(nodes, list):
        return None
    for node in nodes:
        if isinstance(node, dict):        # Keras 3: {"args": [tensor or [tensors]], "kwargs": {}}
            args = node.get("args") or []
            if not isinstance(args, list):
                return None
            items = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        elif isinstance(node, list):      # Keras 2: [[name, node, tensor, kwargs], ...]
            items = node
        else:
            return None
        refs = [_ref(item) for item in items]
        if any(r is None for r in refs):
            return None
        calls.append(refs)
    return calls


def _endpoints(value: Any) -> list[Ref]:
    if isinstance(value, list) and value and isinstance(value[0], str):
        value = [value]
    refs = [_ref(v) for v in value] if isinstance(value, list) else [None]
    return [r for r in refs if r is not None] if all(r is not None for r in refs) else []


def _functional(builder: FlatBuilder, weights: KerasWeights, layers: list[dict[str, Any]],
                body: dict[str, Any]) -> Value:
    values: dict[Ref, Value] = {}
    flat: dict[str, tuple[int, int, int]] = {}
    inputs, outputs = _endpoints(body.get("input_layers")), _endpoints(body.get("output_layers"))
    if len(inputs) != 1 or len(outputs) != 1:
        raise ImportProblem(f"{builder.source}: the model has {len(inputs)} inputs and {len(outputs)} "
                            "outputs; one of each is imported")
    for i, layer in enumerate(layers):
        cfg, name = _config(layer), _layer_name(layer, i)
        where = f"{layer['class_name']} at {name} (layer {i + 1})"
        if layer["class_name"] == "InputLayer":
            values[(name, 0, 0)] = _input(builder, name, _input_shape(cfg), where)
            continue
        calls = _inbound(layer)
        if calls is None:
            builder.unsupported(f"{where} (its inputs cannot be read)")
            continue
        if len(calls) != 1:
            builder.unsupported(f"{where} (the layer is used {len(calls)} times, sharing its weights)")
            continue
        if any(r not in values for r in calls[0]):
            builder.unsupported(f"{where} (it uses a layer that comes later or does not exist)")
            continue
        values[(name, 0, 0)] = convert(Ctx(builder, weights, name, layer["class_name"], cfg, where, flat),
                                       [values[r] for r in calls[0]])
    if inputs[0] not in values:
        raise ImportProblem(f"{builder.source}: the model's input layer {inputs[0][0]!r} is missing")
    return values.get(outputs[0], DEAD)
