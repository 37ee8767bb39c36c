"""Reading Keras files without Keras or TensorFlow: the JSON config and HDF5 weights.

    .keras   a zip: config.json (the model), model.weights.h5 (layers/<path>/vars/0..n,
             each layer's ``vars`` group naming its layer), metadata.json
    .h5      legacy HDF5: the ``model_config`` attribute (JSON) and model_weights/<layer>,
             whose ``weight_names`` attribute lists its arrays in order

These files come from anywhere, so nothing is allocated on their word: zip entries are
read only up to their declared size after it is checked (and refused when an entry is
far smaller packed than unpacked), entry names that climb out of the archive are
refused, and an HDF5 array is read only after its shape and type match what its layer
needs. External links, external storage and virtual datasets (which read other files)
are refused. Every refusal is one ImportProblem naming the file.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import PurePosixPath
from typing import Any

import numpy as np

from visionstudio.core.importers.result import ImportProblem

MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_WEIGHTS_BYTES = 2 * 1024 ** 3
MAX_PACKING_RATIO = 100        # unpacked/packed beyond this, for entries over 1 MiB: a zip bomb
CONFIG, WEIGHTS = "config.json", "model.weights.h5"


def _h5py():
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is in the "import" extra
        raise ImportProblem("importing Keras files needs the h5py package: "
                            "pip install 'visionstudio[import]'") from None
    return h5py


def parse_config(data: bytes | str, source: str, what: str) -> dict[str, Any]:
    try:
        config = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ImportProblem(f"{source}: {what} is not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ImportProblem(f"{source}: {what} does not describe a Keras model")
    return config


def _entry_name_problem(name: str) -> str | None:
    path = PurePosixPath(name)
    if "\\" in name or "\x00" in name or path.is_absolute() or ".." in path.parts or ":" in name:
        return f"the archive holds an entry named {name[:80]!r}, which points outside it"
    return None


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, source: str) -> bytes:
    if info.file_size > limit:
        raise ImportProblem(f"{source}: {info.filename} is {info.file_size:,} bytes unpacked; "
                            f"at most {limit:,} are read")
    if info.file_size > 1024 * 1024 and info.file_size > MAX_PACKING_RATIO * max(info.compress_size, 1):
        raise ImportProblem(f"{source}: {info.filename} unpacks to {info.file_size:,} bytes from "
                            f"{info.compress_size:,}: refused as a zip bomb")
    try:
        with zf.open(info) as handle:
            data = handle.read(info.file_size + 1)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise ImportProblem(f"{source}: {info.filename} cannot be unpacked ({exc})") from None
    if len(data) != info.file_size:
        raise ImportProblem(f"{source}: {info.filename} is not the size the archive declares")
    return data


def open_keras_zip(path: str, source: str) -> tuple[dict[str, Any], KerasWeights]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportProblem(f"{source}: not a .keras archive ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > 1000:
            raise ImportProblem(f"{source}: the archive holds {len(infos):,} entries; "
                                "a .keras file has three")
        for info in infos:
            if (problem := _entry_name_problem(info.filename)) is not None:
                raise ImportProblem(f"{source}: {problem}")
        entries = {info.filename: info for info in infos}
        for needed in (CONFIG, WEIGHTS):
            if needed not in entries:
                raise ImportProblem(f"{source}: the archive has no {needed}; is it a Keras 3 .keras file?")
        config = parse_config(_read_entry(zf, entries[CONFIG], MAX_CONFIG_BYTES, source), source, CONFIG)
        weights = _read_entry(zf, entries[WEIGHTS], MAX_WEIGHTS_BYTES, source)
    h5py = _h5py()
    try:
        handle = h5py.File(io.BytesIO(weights), "r")
    except (OSError, ValueError) as exc:
        raise ImportProblem(f"{source}: {WEIGHTS} is not an HDF5 file ({exc})") from None
    return config, KerasWeights(handle, source, legacy=False)


def open_legacy_h5(path: str, source: str) -> tuple[dict[str, Any], KerasWeights]:
    h5py = _h5py()
    try:
        handle = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise ImportProblem(f"{source}: not an HDF5 file ({exc})") from None
    raw = handle.attrs.get("model_config")
    if raw is None:
        handle.close()
        raise ImportProblem(f"{source}: the file holds weights only (no model_config); "
                            "save the whole model with model.save(...)")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str) or len(raw) > MAX_CONFIG_BYTES:
        handle.close()
        raise ImportProblem(f"{source}: model_config is not a JSON text of at most "
                            f"{MAX_CONFIG_BYTES:,} bytes")
    return parse_config(raw, source, "model_config"), KerasWeights(handle, source, legacy=True)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class KerasWeights:
    """The arrays of each layer, by layer name, in Keras's order (kernel, bias, ...)."""

    def __init__(self, handle: Any, source: str, *, legacy: bool) -> None:
        self._h5 = handle
        self.source = source
        self._layers: dict[str, Any] = {}
        root = handle.get("model_weights") if legacy else handle.get("layers")
        if root is None and legacy:
            root = handle   # model.save_weights() files keep the layer groups at the top
        if root is None:
            return
        for key in root:
            group = self._follow(root, key)
            if group is None:
                continue
            if legacy:
                self._layers[key] = group
            else:
                vars_group = group.get("vars")
                name = _text(vars_group.attrs.get("name", key)) if vars_group is not None else key
                self._layers[name] = group

    def close(self) -> None:
        self._h5.close()

    def _follow(self, parent: Any, key: str) -> Any:
        h5py = _h5py()
        link = parent.get(key, getlink=True)
        if not isinstance(link, (h5py.HardLink, h5py.SoftLink)):
            raise ImportProblem(f"{self.source}: {parent.name}/{key} links to another file; refused")
        return parent.get(key)

    def arrays(self, layer: str) -> list[Any]:
        """The layer's datasets (not read yet), in order; [] for a layer without weights."""
        group = self._layers.get(layer)
        if group is None:
            return []
        if "weight_names" in group.attrs:   # legacy
            names = [_text(n) for n in group.attrs["weight_names"]][:64]
            found = []
            for name in names:
                node = group
                for part in name.split("/"):
                    node = self._follow(node, part) if node is not None and part in node else None
                found.append(node)
            return found
        vars_group = group.get("vars")
        if vars_group is None:
            return []
        keys = sorted((k for k in vars_group if k.isdigit()), key=int)[:64]
        return [self._follow(vars_group, k) for k in keys]

    def read(self, dataset: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
        """The array, once its shape and type are checked (nothing read before)."""
        h5py = _h5py()
        if not isinstance(dataset, h5py.Dataset):
            raise ImportProblem(f"{self.source}: {what} is missing")
        if dataset.is_virtual or dataset.external:
            raise ImportProblem(f"{self.source}: {what} keeps its values in another file; refused")
        if tuple(dataset.shape) != tuple(shape):
            raise ImportProblem(f"{self.source}: {what} has shape {tuple(dataset.shape)}, "
                                f"the layer needs {tuple(shape)}")
        if dataset.dtype.kind != "f":
            raise ImportProblem(f"{self.source}: {what} holds {dataset.dtype}, not floating-point numbers")
        try:
            return np.asarray(dataset[()], dtype=np.float32)
        except (OSError, ValueError) as exc:
            raise ImportProblem(f"{self.source}: {what} cannot be read ({exc})") from None
