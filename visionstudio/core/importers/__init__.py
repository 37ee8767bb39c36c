"""Bring existing networks in: ``import_model(source)`` -> an :class:`ImportResult`.

A source is a file or a named reference; ``SOURCES`` maps each to its importer, in
order, so a new kind of source (``torchvision:resnet18``, ``module.py:ClassName``) is one
more entry. Importers produce flat graphs of the library's kinds and a state dict with
``build_model``'s keys; ``save_import`` writes the project and its weights side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from visionstudio.core.importers.pretrained import is_pretrained_source, load_pretrained_source
from visionstudio.core.importers.result import ImportProblem, ImportResult
from visionstudio.core.importers.save import WEIGHTS_SUFFIX, save_import, weights_path
from visionstudio.core.importers.torch_sources import is_python, is_torchvision, load_python, load_torchvision


def _keras(source: str, trust_code: bool) -> ImportResult:
    from visionstudio.core.importers.keras import import_keras

    return import_keras(source)


def _onnx(source: str, trust_code: bool) -> ImportResult:
    from visionstudio.core.importers.onnx_import import import_onnx

    return import_onnx(source)


def _suffix(*suffixes: str) -> Callable[[str], bool]:
    return lambda source: Path(source).suffix.lower() in suffixes


# (accepts source, import it): the first that accepts a source imports it.
SOURCES: list[tuple[Callable[[str], bool], Callable[[str, bool], ImportResult]]] = [
    (_suffix(".keras", ".h5", ".hdf5"), _keras),
    (_suffix(".onnx"), _onnx),
    (is_pretrained_source, load_pretrained_source),
    (is_torchvision, load_torchvision),
    (is_python, load_python),
]
KNOWN = ("a .onnx file, a .keras file, a legacy Keras .h5 file, torchvision:NAME, "
         "torchvision:NAME@WEIGHTS (pretrained, e.g. @IMAGENET1K_V1) or module.py:ClassName")


def import_model(source: str, *, trust_code: bool = False) -> ImportResult:
    """Import ``source``; raises ImportProblem (one message, naming the source) when it
    cannot be imported whole. ``trust_code``: the user agreed to run code the source
    names (a .py module); file formats never run code."""
    for accepts, load in SOURCES:
        if accepts(source):
            return load(source, trust_code)
    raise ImportProblem(f"{source}: cannot tell what to import; give {KNOWN}")


__all__ = ["KNOWN", "SOURCES", "WEIGHTS_SUFFIX", "ImportProblem", "ImportResult", "import_model",
           "save_import", "weights_path"]
