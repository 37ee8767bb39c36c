"""Where a PyTorch network comes from: a torchvision architecture by name, or a class in
the user's own ``.py`` file.

A torchvision name is looked up in torchvision's own registry of classification models
and built with ``weights=None``: nothing is downloaded and no code but torchvision's
runs. A ``.py`` file is different: loading it runs it, so ``import_python`` refuses
unless the caller says the user agreed (``trust_code``), and names the file either way.
The path is used exactly as the user gave it (never read from a project file).
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import uuid
from pathlib import Path
from typing import Any

from visionstudio.core.importers.result import ImportProblem, ImportResult

TORCHVISION_PREFIX = "torchvision:"
DEFAULT_SIZE = 224
# The architectures the tests import and compare; any other classification model of
# torchvision may be tried by name too.
TESTED = ("resnet18", "resnet34", "resnet50", "vgg11_bn", "vgg16", "mobilenet_v2", "mobilenet_v3_small",
          "mobilenet_v3_large", "efficientnet_b0", "squeezenet1_1", "alexnet", "googlenet",
          "regnet_y_400mf")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def torchvision_architectures() -> list[str]:
    """Every classification architecture torchvision can build, by name."""
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def is_torchvision(source: str) -> bool:
    return source.startswith(TORCHVISION_PREFIX)


def split_python(source: str) -> tuple[str, str | None]:
    """``path/model.py:ClassName`` -> (path, class name); ``model.py`` -> (path, None)."""
    head, sep, tail = source.rpartition(":")
    if sep and head.lower().endswith(".py") and _IDENT.fullmatch(tail):
        return head, tail
    return source, None


def is_python(source: str) -> bool:
    return split_python(source)[0].lower().endswith(".py")


def _square(shape: Any, source: str) -> tuple[int, int, int]:
    if shape is None:
        return (3, DEFAULT_SIZE, DEFAULT_SIZE)
    if (not isinstance(shape, (tuple, list)) or len(shape) != 3
            or not all(isinstance(d, int) and 1 <= d <= 8192 for d in shape)):
        raise ImportProblem(f"{source}: the input shape must be three sizes C×H×W, not {str(shape)[:60]}")
    return tuple(shape)


def import_torchvision(source: str, input_shape: tuple[int, int, int] | None = None) -> ImportResult:
    """``torchvision:resnet18``: the architecture with fresh (untrained) weights."""
    import torchvision

    from visionstudio.core.importers.torch_fx import import_module

    name = source[len(TORCHVISION_PREFIX):]
    known = torchvision_architectures()
    if name not in known:
        close = [k for k in known if k.startswith(name[:4])][:8] if name else []
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ImportProblem(f"{source}: torchvision has no classification model named {name[:60]!r}{hint}")
    model = torchvision.models.get_model(name, weights=None)
    return import_module(model, _square(input_shape, source), source, name)


def _load_module(path: Path, source: str) -> Any:
    name = f"visionstudio_user_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportProblem(f"{source}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module           # dataclasses and typing look classes up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module failing in any way becomes one message
        raise ImportProblem(f"{source}: running the file failed "
                            f"({type(exc).__name__}: {str(exc)[:300]})") from None
    finally:
        sys.modules.pop(name, None)
    return module


def _network_class(module: Any, class_name: str | None, source: str) -> type:
    from torch import nn

    if class_name is not None:
        cls = getattr(module, class_name, None)
        if not (inspect.isclass(cls) and issubclass(cls, nn.Module)):
            raise ImportProblem(f"{source}: has no nn.Module class named {class_name}")
        return cls
    own = [c for c in vars(module).values()
           if inspect.isclass(c) and issubclass(c, nn.Module) and c.__module__ == module.__name__]
    if not own:
        raise ImportProblem(f"{source}: defines no nn.Module class")
    # the network is defined after the blocks it uses (the app's own model.py does so);
    # a module's names are in the order the file defines them
    return own[-1]


def _input_shape(module: Any, network: Any, given: Any, source: str) -> tuple[int, int, int]:
    if given is not None:
        return _square(given, source)
    declared = getattr(module, "INPUT_SHAPE", None)   # the app's exported model.py says it
    if declared is not None:
        return _square(tuple(declared) if isinstance(declared, (tuple, list)) else declared, source)
    from torch import nn

    first = next((m for m in network.modules() if isinstance(m, nn.Conv2d)), None)
    return (first.in_channels if first is not None else 3, DEFAULT_SIZE, DEFAULT_SIZE)


def import_python(source: str, *, trust_code: bool = False,
                  input_shape: tuple[int, int, int] | None = None) -> ImportResult:
    """``model.py:ClassName`` (or ``model.py``: its last nn.Module class), built with no
    arguments. Runs the file: refused unless ``trust_code``."""
    from visionstudio.core.importers.torch_fx import import_module

    raw_path, class_name = split_python(source)
    path = Path(raw_path)
    if not trust_code:
        raise ImportProblem(f"{raw_path}: importing a Python file runs its code; it was not run. "
                            "Allow it only for a file you trust (in the command line: --trust-code)")
    if not path.is_file():
        raise ImportProblem(f"{raw_path}: no such file")
    module = _load_module(path, raw_path)
    cls = _network_class(module, class_name, raw_path)
    try:
        network = cls()
    except Exception as exc:  # noqa: BLE001 - a constructor that needs arguments or fails is reported
        raise ImportProblem(f"{raw_path}: {cls.__name__}() cannot be built without arguments "
                            f"({type(exc).__name__}: {str(exc)[:200]})") from None
    shape = _input_shape(module, network, input_shape, raw_path)
    name = str(getattr(module, "PROJECT_NAME", "") or cls.__name__)[:200]
    return import_module(network, shape, f"{raw_path}:{cls.__name__}", name)


def load_torchvision(source: str, trust_code: bool) -> ImportResult:
    return import_torchvision(source)


def load_python(source: str, trust_code: bool) -> ImportResult:
    return import_python(source, trust_code=trust_code)
