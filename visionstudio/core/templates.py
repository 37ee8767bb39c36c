"""Template projects: ready-made networks the app and ``visionstudio summary`` can open.

The templates are ordinary project files in the repository's top-level
``resources/templates/`` folder (regenerate them with ``packaging/make_templates.py``, and
the ones built from blocks with ``resources/templates/make_block_templates.py``).
An installed wheel ships them as data files under ``<prefix>/share/visionstudio/templates``
(``[tool.setuptools.data-files]`` in pyproject.toml). :func:`templates_dir` looks in
``$VISIONSTUDIO_TEMPLATES``, then the source checkout, then the install prefixes.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from visionstudio.core.project import ProjectDocument, ProjectFormatError, load_project

ENV_VAR = "VISIONSTUDIO_TEMPLATES"
DEFAULT_TEMPLATE = "classic_cnn"


@dataclass(frozen=True)
class Template:
    key: str
    title: str
    description: str
    filename: str

    @property
    def path(self) -> Path:
        return templates_dir() / self.filename


TEMPLATES: list[Template] = [
    Template("classic_cnn", "Classic CNN",
             "Two convolution + max-pool stages and two dense layers; 121,930 parameters.",
             "classic_cnn.vsproj"),
    Template("lenet5", "LeNet-5",
             "LeCun's 1998 network: 5×5 convolutions, tanh, average pooling, 120-84-10.",
             "lenet5.vsproj"),
    Template("small_vgg", "Small VGG",
             "VGG-style blocks of two 3×3 convolutions and a max-pool, dense head with dropout.",
             "small_vgg.vsproj"),
    Template("small_resnet", "Small ResNet",
             "Two residual blocks with batch norm; a 1×1 projection where channels change.",
             "small_resnet.vsproj"),
    Template("inception_block", "Inception block",
             "Parallel 1×1, 3×3, 5×5 and pooling branches joined by Concat.",
             "inception_block.vsproj"),
    # Built from blocks (resources/templates/make_block_templates.py writes these).
    Template("resnet18_cifar", "ResNet-18 (32×32)",
             "ResNet-18 of basic blocks for 3×32×32 images: a 3×3 stem without max-pool; "
             "11,173,962 parameters.",
             "resnet18_cifar.vsproj"),
    Template("resnet18", "ResNet-18",
             "ResNet-18 of basic blocks for 3×224×224 images, as torchvision's resnet18 with "
             "10 classes: 11,181,642 parameters.",
             "resnet18.vsproj"),
    Template("mobilenet_se", "MobileNet with SE",
             "MobileNet's 13 depthwise-separable blocks with squeeze-and-excitation blocks, "
             "for 3×32×32 images; 3,393,346 parameters.",
             "mobilenet_se.vsproj"),
    # Other tasks (resources/templates/make_box_templates.py writes these).
    Template("detection_grid", "Grid detector",
             "Detection: a small anchor-free grid detector (8×8 cells, Detect layer with "
             "class-aware NMS) for 3×64×64 images of several shapes.",
             "detection_grid.vsproj"),
    Template("localization", "Localization",
             "One object per image: a class head and a box head on a small CNN, for 3×64×64 "
             "images of one shape.",
             "localization.vsproj"),
    # resources/templates/make_regression_template.py writes this one.
    Template("regression", "Regression",
             "Regression: a small CNN measuring a drawn square's size, angle and centre "
             "(four numbers, MSE) on 1×32×32 images.",
             "regression.vsproj"),
]

_BY_KEY = {t.key: t for t in TEMPLATES}


def _candidates() -> list[Path]:
    found: list[Path] = []
    env = os.environ.get(ENV_VAR)
    if env:
        found.append(Path(env))
    # Source checkout: visionstudio/core/templates.py -> <repo>/resources/templates
    found.append(Path(__file__).resolve().parents[2] / "resources" / "templates")
    # Installed wheel: data files land under the scheme's "data" path.
    prefixes = [sysconfig.get_path("data"), sys.prefix, sys.base_prefix]
    try:
        prefixes.append(site.getuserbase())
    except (AttributeError, OSError):  # pragma: no cover - unusual site modules
        pass
    for prefix in prefixes:
        if prefix:
            found.append(Path(prefix) / "share" / "visionstudio" / "templates")
    return found


def templates_dir() -> Path:
    """The folder holding the template files (the first candidate that has them)."""
    candidates = _candidates()
    for folder in candidates:
        if (folder / f"{DEFAULT_TEMPLATE}.vsproj").is_file():
            return folder
    return candidates[0]


def template(key: str) -> Template:
    try:
        return _BY_KEY[key]
    except KeyError:
        known = ", ".join(_BY_KEY)
        raise KeyError(f"unknown template {key!r} (known: {known})") from None


def load_template(key: str) -> ProjectDocument:
    """A fresh document of template ``key``; raises KeyError for an unknown key and
    ProjectFormatError when the file is missing or damaged."""
    path = template(key).path
    if not path.is_file():
        raise ProjectFormatError(
            f"template {key!r} is missing (looked in {templates_dir()}; set {ENV_VAR} to the "
            "folder holding the .vsproj templates)", file=str(path))
    return load_project(path)


__all__ = ["DEFAULT_TEMPLATE", "ENV_VAR", "TEMPLATES", "Template", "load_template", "template",
           "templates_dir"]
