"""The datasets of an exported VisionStudio training script (train_data.py).

make_loaders(...) shares every global batch between the processes.
load_data(cfg, data_dir, rank) gives (train set, val set or None, mean, std, classes,
target names); the sets yield (uint8 C×H×W, label) pairs, as the app's feeds do, labels
in the app's layout of the task (classification int64; regression float32 values;
localization [class, cx, cy, w, h]; detection such rows padded with -1 rows). The built-in
sets come from the app's own generators (shapes_data.py, regress_shapes_data.py,
box_shapes_data.py: the same seed, the same images); torchvision sets are downloaded by
rank 0 while the other processes wait; an image folder is read with torchvision's
ImageFolder.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset, TensorDataset


def uint8_transform(shape: tuple[int, int, int]):
    """PIL image -> uint8 C×H×W resized to the network's input (1 or 3 channels)."""
    from torchvision import transforms

    c, h, w = shape
    steps = [transforms.Resize((h, w))]
    steps.append(transforms.Grayscale(1) if c == 1 else transforms.Lambda(lambda im: im.convert("RGB")))
    steps.append(transforms.PILToTensor())
    return transforms.Compose(steps)


class ImageFolderUint8(Dataset):
    """torchvision ImageFolder resized to the network's input, as uint8 C×H×W tensors."""

    def __init__(self, root: str, shape: tuple[int, int, int]) -> None:
        from torchvision import datasets

        self.folder = datasets.ImageFolder(root, transform=uint8_transform(shape))
        self.classes = self.folder.classes
        self.targets = list(self.folder.targets)

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, i: int):
        return self.folder[i]


def _as_nchw_uint8(data, channels: int) -> torch.Tensor:
    images = torch.as_tensor(data)
    if images.dim() == 3:          # MNIST: N×H×W
        images = images.unsqueeze(1)
    elif images.shape[-1] in (1, 3) and images.shape[1] not in (1, 3):  # CIFAR: N×H×W×C
        images = images.permute(0, 3, 1, 2)
    images = images.contiguous()
    if channels == 3 and images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1).contiguous()
    elif channels == 1 and images.shape[1] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        images = (images.float() * weights).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    return images


def task_sets(key: str, p: dict, val_split: float, seed: int):
    """(train (images, labels), val pair or None, classes, target names) of the built-in
    regression and box sets, split as the app splits them."""
    import numpy as np

    if key == "shapes_regress":
        import regress_shapes_data as gen

        def draw(n, stream):
            return gen.generate(p, n, stream)
        split, classes, names = shapes_split, 0, gen.target_names(p)
    else:
        import box_labels_data
        import box_shapes_data as gen

        task = "detection" if key == "shapes_detect" else "localization"

        def draw(n, stream):
            return gen._drawn(p, task, n, stream)

        def split(labels, fraction, seed):
            return box_labels_data.random_split(len(labels), fraction, seed)
        classes, names = p["classes"], []
    images, labels = draw(p["samples"], 0)
    if p.get("val_samples", 0) > 0:
        val = draw(p["val_samples"], 1)
    elif val_split > 0:
        tr, va = split(labels, val_split, seed)
        val, images, labels = (images[va], labels[va]), images[tr], labels[tr]
    else:
        val = None
    as_torch = [torch.from_numpy(np.ascontiguousarray(a)) for a in (images, labels)]
    val = None if val is None else tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in val)
    return tuple(as_torch), val, classes, names


def csv_sets(p: dict, shape: tuple[int, int, int], val_split: float, seed: int, rank: int):
    """An image folder with a CSV of targets (image_csv): the app's own CSV checks
    (image_csv_data.py), every left-out line printed; images read into memory, resized to
    the network's input with torchvision (as image folders here)."""
    import image_csv_data
    import shapes_data
    from PIL import Image, UnidentifiedImageError

    try:
        folder = image_csv_data._check_folder(p)
        table = image_csv_data.read_targets(image_csv_data.csv_path_for(p), folder)
    except shapes_data.DatasetError as exc:
        raise SystemExit(f"config.json: {exc}") from None
    skipped = [(path, why) for _, path, why in table.problems]
    to_tensor, images, values = uint8_transform(shape), [], []
    for path, line, value in zip(table.paths, table.lines, table.values):
        try:
            with Image.open(path) as im:
                images.append(to_tensor(im))
            values.append(value)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as exc:
            skipped.append((path, f"{table.csv_path.name} line {line}: {path.name} cannot be read ({exc})"))
    if rank == 0:
        for line in image_csv_data._report(skipped):
            print(f"left out: {line}", flush=True)
    if not images:
        raise SystemExit(f"{table.csv_path}: no usable image ({len(skipped)} line(s) left out)")
    images = torch.stack(images)
    targets = torch.tensor(values, dtype=torch.float32).reshape(len(values), -1)
    tr, va = shapes_data.stratified_split([0] * len(values), val_split, seed)
    mean, std = shapes_data.channel_stats(images[tr])
    val = TensorDataset(images[va], targets[va]) if len(va) else None
    return TensorDataset(images[tr], targets[tr]), val, mean, std, 0, list(table.names)


def _read_images(records, shape, skipped: list[str]) -> tuple[list, list]:
    """(uint8 images, their records) of the records whose image can be read."""
    from PIL import Image, UnidentifiedImageError

    to_tensor, images, kept = uint8_transform(shape), [], []
    for record in records:
        try:
            with Image.open(record.path) as im:
                images.append(to_tensor(im))
            kept.append(record)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError) as exc:
            skipped.append(f"{record.path}: cannot be read as an image ({exc})")
    return images, kept


def box_file_sets(key: str, p: dict, shape: tuple[int, int, int], val_split: float, seed: int, rank: int):
    """The user's box labels (YOLO text files or COCO JSON) through the app's own readers
    and checks (yolo_data.py, coco_data.py): every label problem printed with its file and
    line and left out; images read into memory, resized to the network's input."""
    import box_labels_data
    import coco_data
    import shapes_data
    import yolo_data

    reader = yolo_data if key == "yolo" else coco_data
    try:
        root, names, train, val, problems, report = reader._listing(p)
    except shapes_data.DatasetError as exc:
        raise SystemExit(f"config.json: {exc}") from None
    skipped: list[str] = []
    images, train = _read_images(train, shape, skipped)
    val_images, val = _read_images(val or [], shape, skipped)
    if not images:
        raise SystemExit(f"{root}: none of the training images could be read")
    if not val:
        tr, va = (a.tolist() for a in box_labels_data.random_split(len(images), val_split, seed))
        val_images, val = [images[i] for i in va], [train[i] for i in va]
        images, train = [images[i] for i in tr], [train[i] for i in tr]
    if rank == 0:
        for line in report + problems.report() + skipped:
            print(f"note: {line}", flush=True)
    labels = torch.from_numpy(box_labels_data.label_array(train))
    val_labels = torch.from_numpy(box_labels_data.label_array(val)) if val else None
    if val_labels is not None:   # one box count per dataset, as the app pads them
        most = max(labels.shape[1], val_labels.shape[1])
        labels, val_labels = _padded(labels, most), _padded(val_labels, most)
    train_images = torch.stack(images)
    mean, std = shapes_data.channel_stats(train_images)
    val_set = TensorDataset(torch.stack(val_images), val_labels) if val else None
    return TensorDataset(train_images, labels), val_set, mean, std, len(names), []


def _padded(labels: torch.Tensor, most: int) -> torch.Tensor:
    pad = torch.full((labels.shape[0], most - labels.shape[1], 5), -1.0)
    return torch.cat([labels, pad], dim=1)


def shapes_split(labels, fraction: float, seed: int):
    import shapes_data

    return shapes_data.stratified_split([0] * len(labels), fraction, seed)


def load_data(cfg: dict, data_dir: str, rank: int):
    """(train dataset, val dataset or None, mean, std, num_classes, target names); datasets
    yield (uint8 C×H×W, label)."""
    import shapes_data

    ds, shape = cfg["dataset"], tuple(cfg["input_shape"])
    key, p = ds["key"], ds["params"]
    val_split, seed = cfg["training"]["val_split"], cfg["training"]["seed"]
    names: list[str] = []
    if key in TASK_SETS:
        (images, labels), val, classes, names = task_sets(key, p, val_split, seed)
    elif key == "image_csv":
        return csv_sets(p, shape, val_split, seed, rank)
    elif key == "shapes":
        common = dict(size=p["image_size"], channels=p["channels"], classes=p["classes"],
                      noise=p["noise"], seed=p["seed"])
        images, labels = shapes_data.generate_shapes(p["samples"], stream=0, **common)
        if p.get("val_samples", 0) > 0:
            val = shapes_data.generate_shapes(p["val_samples"], stream=1, **common)
        elif val_split > 0:
            tr, va = shapes_data.stratified_split(labels, val_split, seed)
            val = images[va], labels[va]
            images, labels = images[tr], labels[tr]
        else:
            val = None
        classes = p["classes"]
    elif key in TORCHVISION_SETS:
        import torchvision

        cls = getattr(torchvision.datasets, TORCHVISION_SETS[key])
        root = os.path.join(data_dir, key)
        # Rank 0 downloads; the others wait, then read the files it wrote.
        if rank != 0 and dist.is_initialized():
            dist.barrier()
        train = cls(root, train=True, download=True)
        test = cls(root, train=False, download=True)
        if rank == 0 and dist.is_initialized():
            dist.barrier()
        images = _as_nchw_uint8(train.data, shape[0])
        labels = torch.as_tensor(train.targets, dtype=torch.int64)
        val = _as_nchw_uint8(test.data, shape[0]), torch.as_tensor(test.targets, dtype=torch.int64)
        classes = len(train.classes)
    elif key == "image_folder":
        root = next((p[k] for k in ("path", "root", "folder", "directory") if p.get(k)), None)
        if root is None:
            raise SystemExit("config.json: dataset.params has no folder path")
        folder = ImageFolderUint8(root, shape)
        mean, std = cfg["dataset"].get("mean"), cfg["dataset"].get("std")
        if mean is None:
            mean, std = (0.5,) * shape[0], (0.25,) * shape[0]
        if p.get("val_folder"):
            return folder, ImageFolderUint8(p["val_folder"], shape), mean, std, len(folder.classes), names
        targets = torch.tensor(folder.targets)
        tr, va = shapes_data.stratified_split(targets, val_split, seed)
        return (Subset(folder, tr), Subset(folder, va) if va else None, mean, std,
                len(folder.classes), names)
    elif key in ("yolo", "coco"):
        return box_file_sets(key, p, shape, val_split, seed, rank)
    else:
        raise SystemExit(f"config.json: dataset {key!r} is not supported by this script")
    mean, std = shapes_data.channel_stats(images)
    train_set = TensorDataset(images, labels)
    val_set = TensorDataset(*val) if val is not None and len(val[1]) else None
    return train_set, val_set, mean, std, classes, names


TASK_SETS = ("shapes_regress", "shapes_localize", "shapes_detect")
TORCHVISION_SETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "fashionmnist": "FashionMNIST",
                    "cifar10": "CIFAR10", "cifar_10": "CIFAR10"}


def make_loaders(cfg: dict, train_set, val_set, batch_size: int, rank: int, world: int,
                 device: torch.device):
    """(sampler, train loader, val loader or None, batch per process): each process takes
    its share of every global batch; a classification's validation is split between the
    processes (its counts add up), another task's is whole in each (see train_tasks.py)."""
    per_process = max(1, batch_size // world)
    if batch_size % world and rank == 0:
        print(f"note: batch size {batch_size} is not a multiple of {world} processes; "
              f"each uses {per_process}", flush=True)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True,
                                 seed=cfg["training"]["seed"])
    shard = len(sampler)
    train_loader = DataLoader(train_set, batch_size=per_process, sampler=sampler,
                              drop_last=shard % per_process == 1 and shard > 1,
                              num_workers=int(cfg.get("num_workers", 0)),
                              pin_memory=device.type == "cuda")
    val_loader = None
    if val_set is not None:
        share = world if cfg.get("task", "classification") == "classification" else 1
        val_loader = DataLoader(Subset(val_set, range(rank if share > 1 else 0, len(val_set), share)),
                                batch_size=max(per_process * 2, 256))
    return sampler, train_loader, val_loader, per_process
