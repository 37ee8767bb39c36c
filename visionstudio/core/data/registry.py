"""The dataset registry: one ``DatasetSpec`` per dataset the user can pick.

Adding a dataset is one spec here: its params drive validation, the settings editor and
the project file; ``loader(params, ctx)`` returns a LoadedDataset; ``describe(params)``
tells what shape and class count it gives without loading it. ``load_dataset`` and
``describe_dataset`` are the way in for everyone else (the trainer, the app, tests).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visionstudio.core.data.base import (
    Cancel,
    DatasetError,
    DatasetInfo,
    LoadContext,
    LoadedDataset,
    Progress,
    default_data_dir,
)
from visionstudio.core.data.shapes import SHAPE_NAMES
from visionstudio.core.data.shapes_detect import DETECT_PARAMS, LOCALIZE_PARAMS
from visionstudio.core.data.shapes_regress import PARAMS as SHAPES_REGRESS_PARAMS
from visionstudio.core.layers import fmt_shape
from visionstudio.core.params import ConfigError, ParamSpec, validate_all, validate_section
from visionstudio.core.registry import Registry


def _lazy(module: str, name: str, pick: tuple[str, int] | None = None) -> Callable[..., Any]:
    """A function imported on first call: listing datasets and validating a project's
    dataset section must not load torch/torchvision (the app's start-up path).
    ``pick=(key, i)`` takes item ``i`` of ``name(key)`` (make_loader's pair)."""
    def call(*args: Any) -> Any:
        target = getattr(importlib.import_module(module, __package__), name)
        if pick is not None:
            target = target(pick[0])[pick[1]]
        return target(*args)
    call.__name__ = name
    return call


def _no_info(params: dict[str, Any]) -> DatasetInfo:
    return DatasetInfo("The dataset", None, None)


def _always_present(params: dict[str, Any], root: Path) -> bool:
    return True


@dataclass(frozen=True)
class DatasetSpec:
    key: str
    title: str
    description: str
    params: tuple[ParamSpec, ...]
    loader: Callable[[dict[str, Any], LoadContext], LoadedDataset]
    needs_download: bool
    describe: Callable[[dict[str, Any]], DatasetInfo] = _no_info
    # downloadable sets: whether the files are on disk (existence only: the GUI asks),
    # how to fetch them, and how big that is in the user's words
    present: Callable[[dict[str, Any], Path], bool] = _always_present
    fetch: Callable[[dict[str, Any], LoadContext], None] | None = None
    download_size: str = ""
    # the preview strip's first images without torch (see preview_dataset); None: loaded
    preview: Callable[[dict[str, Any], LoadContext, int], dict[str, Any]] | None = None
    # the tasks (core/tasks TASK_KINDS) whose labels this dataset gives
    tasks: tuple[str, ...] = ("classification",)


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def register(spec: DatasetSpec, category: str) -> DatasetSpec:
    return DATASETS.register(spec.key, spec, category=category)


register(DatasetSpec(
    key="shapes", title="Shapes (built-in)",
    description="Drawn shapes — " + ", ".join(SHAPE_NAMES) + " — with random size, position, "
                "rotation, colour and noise. Made on the spot from a seed; no download.",
    params=(
        ParamSpec("image_size", "int", 28, title="image size", minimum=8, maximum=256,
                  help="Width and height of the images in pixels."),
        ParamSpec("channels", "int", 1, minimum=1, maximum=3,
                  help="1 for grayscale, 3 for colour images (2 is not allowed)."),
        ParamSpec("classes", "int", 10, minimum=2, maximum=len(SHAPE_NAMES),
                  help="How many shape kinds, taken in order: " + ", ".join(SHAPE_NAMES) + "."),
        ParamSpec("samples", "int", 6000, title="training images", minimum=10, maximum=1_000_000,
                  help="Number of training images (balanced across classes)."),
        ParamSpec("val_samples", "int", 1000, title="validation images", minimum=0,
                  maximum=1_000_000, help="Validation images, drawn separately; 0 splits the "
                  "training images by the validation split instead."),
        ParamSpec("noise", "float", 0.08, minimum=0.0, maximum=1.0,
                  help="Standard deviation of the pixel noise (images range 0 to 1)."),
        ParamSpec("seed", "int", 0, minimum=0, maximum=2**31 - 1,
                  help="Same seed, same images."),
    ),
    loader=_lazy(".shapes", "load_shapes"), needs_download=False,
    describe=_lazy(".shapes", "describe_shapes"), preview=_lazy(".shapes", "preview_shapes"),
), "Built-in")

for _key, _title, _size, _description in (
    ("mnist", "MNIST", "about 12 MB", "70,000 handwritten digits, 1×28×28, 10 classes "
                       "(60,000 training, 10,000 test used for validation). About 12 MB download."),
    ("fashion_mnist", "Fashion-MNIST", "about 30 MB",
     "70,000 photos of clothing, 1×28×28, 10 classes (60,000 training, 10,000 test). "
     "About 30 MB download."),
    ("cifar10", "CIFAR-10", "about 170 MB", "60,000 colour photos, 3×32×32, 10 classes "
                            "(airplane … truck; 50,000 training, 10,000 test). About 170 MB download."),
):
    register(DatasetSpec(key=_key, title=_title, description=_description, params=(),
                         loader=_lazy(".torchvision_sets", "make_loader", (_key, 0)),
                         needs_download=True,
                         describe=_lazy(".torchvision_sets", "make_loader", (_key, 1)),
                         present=_lazy(".torchvision_sets", "make_loader", (_key, 2)),
                         fetch=_lazy(".torchvision_sets", "make_loader", (_key, 3)),
                         download_size=_size), "Download")

register(DatasetSpec(
    key="image_folder", title="Image folder",
    description="Your own images, one sub-folder per class (e.g. pets/cat/1.jpg, pets/dog/7.png). "
                "Images are resized to the network's Input and converted to its channels; "
                "unreadable files are reported and left out.",
    params=(
        ParamSpec("folder", "str", "", help="Folder with one sub-folder per class.",
                  extra={"editor": "directory"}),
        ParamSpec("val_folder", "str", "", title="validation folder",
                  help="Optional folder laid out the same way for validation; empty splits the "
                       "training images by the validation split (per class, seeded).",
                  extra={"editor": "directory"}),
    ),
    loader=_lazy(".image_folder", "load_image_folder"), needs_download=False,
    describe=_lazy(".image_folder", "describe_image_folder"),
), "Your data")

register(DatasetSpec(
    key="shapes_regress", title="Shapes regression (built-in)",
    description="One drawn shape per image and numbers to predict from it: its size, angle and "
                "position in pixels and degrees. Made on the spot from a seed; no download.",
    params=SHAPES_REGRESS_PARAMS, needs_download=False, tasks=("regression",),
    loader=_lazy(".shapes_regress", "load_shapes_regress"),
    describe=_lazy(".shapes_regress", "describe_shapes_regress"),
), "Built-in")

register(DatasetSpec(
    key="image_csv", title="Image folder with a CSV of values",
    description="Your own images and a CSV file of numbers to predict for each: a header "
                "file,target1,target2,… then one line per image (e.g. cat1.jpg,3.5,120). Lines "
                "with problems are reported with their line number and left out.",
    params=(
        ParamSpec("folder", "str", "", help="Folder with the images; the CSV names files inside it.",
                  extra={"editor": "directory"}),
        ParamSpec("csv", "str", "", title="CSV file",
                  help="The CSV of targets; empty: targets.csv in the folder. A relative path is "
                       "taken from the folder.", extra={"editor": "file"}),
    ),
    loader=_lazy(".image_csv", "load_image_csv"), needs_download=False,
    describe=_lazy(".image_csv", "describe_image_csv"), tasks=("regression",),
), "Your data")

register(DatasetSpec(
    key="shapes_detect", title="Shapes detection (built-in)",
    description="Several drawn shapes per image (1 to 4 by default), each with its class and a tight "
                "box. Made on the spot from a seed; no download.",
    params=DETECT_PARAMS, needs_download=False, tasks=("detection",),
    loader=_lazy(".shapes_detect", "load_shapes_detect"),
    describe=_lazy(".shapes_detect", "describe_shapes_detect"),
    preview=_lazy(".shapes_detect", "preview_shapes_detect"),
), "Built-in")

register(DatasetSpec(
    key="shapes_localize", title="Shapes localization (built-in)",
    description="One drawn shape per image: its class and its box. Made on the spot from a seed; "
                "no download.",
    params=LOCALIZE_PARAMS, needs_download=False, tasks=("localization",),
    loader=_lazy(".shapes_detect", "load_shapes_localize"),
    describe=_lazy(".shapes_detect", "describe_shapes_localize"),
    preview=_lazy(".shapes_detect", "preview_shapes_localize"),
), "Built-in")

register(DatasetSpec(
    key="yolo", title="YOLO labels (images + .txt boxes)",
    description="Your own images with YOLO box labels: images/ and labels/ (one .txt per image, "
                "lines 'class cx cy w h' as fractions), class names in data.yaml or classes.txt. "
                "Label problems are reported with file and line and left out.",
    params=(
        ParamSpec("folder", "str", "", help="The dataset folder (with images/, labels/ and data.yaml "
                  "or classes.txt).", extra={"editor": "directory"}),
    ),
    loader=_lazy(".yolo", "load_yolo"), needs_download=False, tasks=("detection",),
    describe=_lazy(".yolo", "describe_yolo"), preview=_lazy(".yolo", "preview_yolo"),
), "Your data")

register(DatasetSpec(
    key="coco", title="COCO JSON (images + instances file)",
    description="Your own images with a COCO instances JSON (images, annotations with bbox "
                "[x, y, width, height] in pixels, categories). Annotation problems are reported by "
                "id and left out.",
    params=(
        ParamSpec("images", "str", "", title="images folder", help="Folder the JSON's file_name "
                  "entries are relative to.", extra={"editor": "directory"}),
        ParamSpec("annotations", "str", "", title="instances JSON", help="The COCO instances file.",
                  extra={"editor": "file"}),
        ParamSpec("val_images", "str", "", title="validation images folder", help="Optional; empty "
                  "splits the training images by the validation split (seeded).",
                  extra={"editor": "directory"}),
        ParamSpec("val_annotations", "str", "", title="validation instances JSON",
                  help="The validation images' instances file (same categories).",
                  extra={"editor": "file"}),
    ),
    loader=_lazy(".coco", "load_coco"), needs_download=False, tasks=("detection",),
    describe=_lazy(".coco", "describe_coco"), preview=_lazy(".coco", "preview_coco"),
), "Your data")


# -- the way in ------------------------------------------------------------------------

def unknown_dataset_message(key: Any) -> str:
    return f"Unknown dataset {key!r}. Choose one of: {', '.join(DATASETS)}."


def load_dataset(config: Any, *, val_split: float = 0.1, seed: int = 0,
                 data_dir: str | Path | None = None,
                 target_shape: tuple[int, int, int] | None = None, download: bool = True,
                 progress: Progress | None = None, cancel: Cancel | None = None) -> LoadedDataset:
    """Load the dataset a ``DatasetConfig`` names; raise DatasetError in the user's words.

    ``val_split`` and ``seed`` are used by datasets without a validation set of their own;
    ``target_shape`` (C, H, W: the network's Input) sizes image folders.
    """
    key = getattr(config, "key", None)
    if not isinstance(key, str) or key not in DATASETS:
        raise DatasetError(unknown_dataset_message(key))
    spec = DATASETS.get(key)
    try:
        params = validate_section(spec.params, dict(getattr(config, "params", {}) or {}),
                                  "dataset.params")
    except ConfigError as exc:
        raise DatasetError(f"{spec.title}: {exc.problem} ({exc.path}).") from None
    if target_shape is not None:
        target_shape = tuple(int(d) for d in target_shape)  # type: ignore[assignment]
        if len(target_shape) != 3:  # type: ignore[arg-type]
            raise DatasetError(f"The network's Input must be channels×height×width, not "
                               f"{fmt_shape(target_shape)}.")
    ctx = LoadContext(val_split=float(val_split), seed=int(seed),
                      data_dir=_root(data_dir),
                      target_shape=target_shape, download=download, progress=progress,
                      cancel=cancel, preprocessing=getattr(config, "preprocessing", None))
    ctx.check_cancel()
    return _preprocessed(spec.loader(params, ctx), ctx.preprocessing, ctx.target_shape)


def _channels(loaded: LoadedDataset) -> int | None:
    try:
        return int(loaded.sample_shape[0])
    except ValueError:   # an empty set: loading says so
        return None


def _preprocessed(loaded: LoadedDataset, pre: Any, target: tuple[int, int, int] | None) -> LoadedDataset:
    """Pretrained weights expect images at their Input's size (built-in sets are resized:
    fit_input.py) and their training set's mean/std, not this dataset's."""
    if pre is None:
        return loaded
    from visionstudio.core.data.fit_input import fit_to_input  # torchvision: only when loading

    channels = len(loaded.mean)
    loaded = fit_to_input(loaded, pre, target)
    fitted = _channels(loaded)
    if fitted is not None and fitted != channels:
        if len(pre.mean) != fitted:   # RGB made grayscale for a 1-channel Input
            loaded.mean = (sum(loaded.mean) / channels,) * fitted
            loaded.std = (sum(loaded.std) / channels,) * fitted
            return loaded
        loaded.mean, loaded.std = (loaded.mean[0],) * fitted, (loaded.std[0],) * fitted
    if len(pre.mean) != len(loaded.mean):
        loaded.report.append(f"{pre.source} expects {len(pre.mean)}-channel images; these have "
                             f"{len(loaded.mean)}, so their own mean and std are used.")
        return loaded
    loaded.mean, loaded.std = tuple(pre.mean), tuple(pre.std)
    loaded.report.append(pre.describe() + ".")
    return loaded


def preview_dataset(config: Any, count: int, *, val_split: float = 0.1, seed: int = 0,
                    data_dir: str | Path | None = None, cancel: Cancel | None = None) -> dict | None:
    """What the dataset preview shows (the first ``count`` training images and labels,
    class names and counts, split sizes) for a set that can tell it without torch, which
    the app loads only when training or inspecting needs it; None for the others."""
    key = getattr(config, "key", None)
    spec = DATASETS.get(key) if isinstance(key, str) and key in DATASETS else None
    if spec is None or spec.preview is None:
        return None   # load_dataset says what is wrong
    try:
        params = validate_section(spec.params, dict(getattr(config, "params", {}) or {}),
                                  "dataset.params")
    except ConfigError:
        return None   # load_dataset says it in the user's words
    ctx = LoadContext(val_split=float(val_split), seed=int(seed), data_dir=_root(data_dir),
                      download=False, cancel=cancel)
    ctx.check_cancel()
    return spec.preview(params, ctx, int(count))


def _known(config: Any) -> tuple[DatasetSpec, dict[str, Any]]:
    key = getattr(config, "key", None)
    if not isinstance(key, str) or key not in DATASETS:
        raise DatasetError(unknown_dataset_message(key))
    spec = DATASETS.get(key)
    params, _ = validate_all(spec.params, dict(getattr(config, "params", {}) or {}))
    return spec, params


def _root(data_dir: str | Path | None) -> Path:
    return Path(data_dir).expanduser() if data_dir else default_data_dir()


def is_downloaded(config: Any, data_dir: str | Path | None = None) -> bool:
    """False when the dataset must be downloaded before it can load; True for sets made
    on the spot or read from the user's folders. A file-existence check that loads no
    torch: the panel asks it on the GUI thread each time a dataset is chosen."""
    key = getattr(config, "key", None)
    if not isinstance(key, str) or key not in DATASETS:
        return True    # loading says what is wrong with it
    spec, params = _known(config)
    return spec.fetch is None or spec.present(params, _root(data_dir))


def download_dataset(config: Any, *, data_dir: str | Path | None = None,
                     progress: Progress | None = None, cancel: Cancel | None = None) -> None:
    """Fetch a downloadable dataset's files into the data folder (its own download code
    and checksums); DatasetError in the user's words, DatasetCancelled when stopped."""
    spec, params = _known(config)
    if spec.fetch is None:
        raise DatasetError(f"{spec.title} needs no download: it is made or read on the spot.")
    ctx = LoadContext(data_dir=_root(data_dir), download=True, progress=progress, cancel=cancel)
    ctx.check_cancel()
    spec.fetch(params, ctx)


def describe_dataset(config: Any) -> DatasetInfo:
    """A ``DatasetInfo`` for a ``DatasetConfig`` without loading any images."""
    spec = DATASETS.get(config.key)
    params, _ = validate_all(spec.params, dict(config.params or {}))
    info = spec.describe(params)
    if getattr(config, "preprocessing", None) is not None and info.sample_shape is not None:
        # pretrained weights: the images are brought to the network's Input (fit_input.py)
        info = dataclasses.replace(info, sample_shape=None, channels=(1, 3))
    return info
