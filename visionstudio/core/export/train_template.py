"""Train the exported VisionStudio model with plain PyTorch.

One process:            python train.py
Several GPUs:           torchrun --nproc_per_node=4 train.py
Several machines:       torchrun --nnodes=2 --nproc_per_node=4 --rdzv_backend=c10d \\
                            --rdzv_endpoint=HOST:29500 --rdzv_id=myrun train.py
Resume:                 python train.py --resume            (out/checkpoints/last)

Settings come from config.json (written by VisionStudio's export); the model from
model.py and its initial weights from weights.safetensors. With torchrun the global
batch size stays the project's: each of N processes takes batch_size / N images.
Rank 0 prints, writes out/metrics.csv (the app imports it as a run) and the
checkpoints out/checkpoints/{last,best}/ (weights in model.safetensors: the app can
export or inspect them). Checkpoints are only ever read with weights_only=True.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Subset, TensorDataset

HERE = Path(__file__).resolve().parent
METRIC_COLUMNS = ("epoch", "step", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                  "val_top5", "lr", "images_per_s", "epoch_s", "elapsed_s", "best")


# -- processes ------------------------------------------------------------------------
def setup_distributed(device_word: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device); starts the process group when run under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and device_word in ("auto", "cuda") or device_word.startswith("cuda")
    if cuda:
        index = local_rank if world > 1 or ":" not in device_word else int(device_word.split(":")[1])
        device = torch.device("cuda", index)
        torch.cuda.set_device(device)
    elif device_word == "mps" or (device_word == "auto" and world == 1
                                  and getattr(torch.backends, "mps", None) is not None
                                  and torch.backends.mps.is_available()):
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if world > 1:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return rank, world, device


def all_sum(values: list[float], device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


def log(rank: int, *args: object) -> None:
    if rank == 0:
        print(*args, flush=True)


# -- data -----------------------------------------------------------------------------
class ImageFolderUint8(Dataset):
    """torchvision ImageFolder resized to the network's input, as uint8 C×H×W tensors."""

    def __init__(self, root: str, shape: tuple[int, int, int]) -> None:
        from torchvision import datasets, transforms

        c, h, w = shape
        steps = [transforms.Resize((h, w))]
        steps.append(transforms.Grayscale(1) if c == 1 else transforms.Lambda(lambda im: im.convert("RGB")))
        steps.append(transforms.PILToTensor())
        self.folder = datasets.ImageFolder(root, transform=transforms.Compose(steps))
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


def load_data(cfg: dict, data_dir: str, rank: int):
    """(train dataset, val dataset or None, mean, std, num_classes); datasets yield
    (uint8 C×H×W, label)."""
    import shapes_data

    ds, shape = cfg["dataset"], tuple(cfg["input_shape"])
    key, p = ds["key"], ds["params"]
    val_split, seed = cfg["training"]["val_split"], cfg["training"]["seed"]
    if key == "shapes":
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
            return folder, ImageFolderUint8(p["val_folder"], shape), mean, std, len(folder.classes)
        targets = torch.tensor(folder.targets)
        tr, va = shapes_data.stratified_split(targets, val_split, seed)
        return (Subset(folder, tr), Subset(folder, va) if va else None, mean, std,
                len(folder.classes))
    else:
        raise SystemExit(f"config.json: dataset {key!r} is not supported by this script")
    mean, std = shapes_data.channel_stats(images)
    train_set = TensorDataset(images, labels)
    val_set = TensorDataset(*val) if val is not None and len(val[1]) else None
    return train_set, val_set, mean, std, classes


TORCHVISION_SETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "fashionmnist": "FashionMNIST",
                    "cifar10": "CIFAR10", "cifar_10": "CIFAR10"}


# -- augmentation (on the device, one batch at a time) --------------------------------
def make_augment(preset: str, input_shape: tuple[int, ...]):
    """VisionStudio's own augmentation (augmentation.py, its source copied unchanged):
    a function on float N×C×H×W batches in [0, 1], drawing from torch's RNG; None for
    "none". Applied as the app applies it: after scaling to [0, 1], before the
    per-channel normalisation (see prepare)."""
    import augmentation

    return augmentation.make_augmentation(preset, input_shape)


# -- loss, optimizer, schedule ------------------------------------------------------------
def make_loss(cfg: dict, num_classes: int, device: torch.device):
    key, p = cfg["key"], cfg["params"]
    weight = p.get("class_weights") or None
    weight = torch.tensor(weight, dtype=torch.float32, device=device) if weight else None
    if key == "cross_entropy":
        smoothing = float(p.get("label_smoothing", 0.0))
        return lambda out, y: F.cross_entropy(out, y, weight=weight, label_smoothing=smoothing)
    if key == "nll":
        return lambda out, y: F.nll_loss(out, y, weight=weight)
    one_hot = {
        "bce_with_logits": F.binary_cross_entropy_with_logits,
        "mse": F.mse_loss,
        "l1": F.l1_loss,
        "smooth_l1": lambda o, t: F.smooth_l1_loss(o, t, beta=float(p.get("beta", 1.0))),
        "huber": lambda o, t: F.huber_loss(o, t, delta=float(p.get("delta", 1.0))),
    }
    if key not in one_hot:
        raise SystemExit(f"config.json: loss {key!r} is not supported by this script")
    fn = one_hot[key]
    return lambda out, y: fn(out, F.one_hot(y, out.shape[1]).to(out.dtype))


def schedule_factor(key: str, p: dict, step: int, per_epoch: int, total: int) -> float:
    epoch = step // max(per_epoch, 1)
    if key == "step":
        return p["gamma"] ** (epoch // p["step_size"])
    if key == "multistep":
        return p["gamma"] ** sum(1 for m in p["milestones"] if epoch >= m)
    if key == "exponential":
        return p["gamma"] ** epoch
    if key == "cosine":
        warm = int(round(p["warmup_epochs"] * per_epoch))
        if step < warm:
            return (step + 1) / warm
        progress = min((step - warm) / max(total - warm, 1), 1.0)
        low = p["min_lr_ratio"]
        return low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if key == "one_cycle":
        start = 1.0 / p["div_factor"]
        end = start / p["final_div_factor"]
        up = max(float(p["pct_start"] * total) - 1.0, 1.0)
        down = max(float(total - 1) - up, 1.0)

        def anneal(a: float, b: float, t: float) -> float:
            return b + (a - b) * 0.5 * (1.0 + math.cos(math.pi * min(max(t, 0.0), 1.0)))
        return anneal(start, 1.0, step / up) if step <= up else anneal(1.0, end, (step - up) / down)
    return 1.0  # constant, reduce_on_plateau (handled by Plateau)


class Plateau:
    """Reduce-on-plateau: scale the learning rate by ``factor`` after ``patience`` bad epochs."""

    def __init__(self, p: dict) -> None:
        self.p, self.scale, self.best, self.bad = p, 1.0, None, 0

    def update(self, value: float) -> None:
        if not math.isfinite(value):
            return
        if self.best is None or value < self.best * (1.0 - self.p["threshold"]):
            self.best, self.bad = value, 0
            return
        self.bad += 1
        if self.bad > self.p["patience"]:
            self.scale *= self.p["factor"]
            self.bad = 0


# -- checkpoints (rank 0 writes; everything is read with weights_only=True) ------------
def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer, state: dict) -> None:
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
              str(tmp / "model.safetensors"), metadata={"format": "pt"})
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "train_state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(folder: Path, model: torch.nn.Module, optimizer, device: torch.device) -> dict:
    for name in ("model.safetensors", "optimizer.pt", "train_state.json"):
        if not (folder / name).is_file():
            raise SystemExit(f"cannot resume: {folder / name} is missing")
    model.load_state_dict(load_file(str(folder / "model.safetensors"), device=str(device)))
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", map_location=device,
                                         weights_only=True))
    return json.loads((folder / "train_state.json").read_text(encoding="utf-8"))


def write_metrics(path: Path, history: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(METRIC_COLUMNS)
    for row in history:
        writer.writerow(["" if row.get(c) is None else (f"{row[c]:.6g}" if isinstance(row[c], float)
                                                        else row[c]) for c in METRIC_COLUMNS])
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


# -- training ---------------------------------------------------------------------------
def evaluate(model, loader, loss_fn, head: str, mean, std, device, amp, num_classes: int):
    model.eval()
    sums = [0.0, 0.0, 0.0, 0.0]  # loss, correct, top5, n
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = prepare(xb, mean, std, device), yb.to(device)
            with amp():
                out = forward(model, xb, head)
                loss = loss_fn(out, yb)
            out = out.reshape(out.shape[0], -1).float()
            sums[0] += float(loss) * yb.shape[0]
            sums[1] += float((out.argmax(1) == yb).sum())
            if num_classes > 5:
                sums[2] += float((out.topk(5, dim=1).indices == yb[:, None]).any(1).sum())
            sums[3] += yb.shape[0]
    model.train()
    return all_sum(sums, device)


def prepare(xb: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, device,
            augment=None) -> torch.Tensor:
    """uint8 images -> [0, 1] -> augmented (training only) -> normalised per channel."""
    xb = xb.to(device, non_blocking=True).float().div_(255.0)
    if augment is not None:
        xb = augment(xb)
    return (xb - mean) / std


def forward(model, xb: torch.Tensor, head: str) -> torch.Tensor:
    """The network's output as the loss wants it: raw scores where a final softmax is
    folded into the loss ("logits"), their log-softmax for NLL, else the output itself."""
    if head == "logits":
        return model(xb, logits=True)
    if head == "log_softmax":
        return F.log_softmax(model(xb, logits=True), dim=1)
    return model(xb)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(HERE / "config.json"))
    ap.add_argument("--out", default=None, help="output folder (default: out/ next to train.py)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None, help="global batch size")
    ap.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps")
    ap.add_argument("--data-dir", default=None, help="where torchvision datasets are downloaded")
    ap.add_argument("--resume", nargs="?", const="", default=None,
                    help="resume from a checkpoint folder (default: OUT/checkpoints/last)")
    ap.add_argument("--weights", default=None, help="start from these .safetensors weights")
    args = ap.parse_args(argv)

    cfg = json.loads(Path(args.config).read_text(encoding="utf-8"))
    tcfg = cfg["training"]
    epochs = args.epochs or tcfg["epochs"]
    batch_size = args.batch_size or tcfg["batch_size"]
    rank, world, device = setup_distributed(args.device or tcfg.get("device", "auto"))
    out = Path(args.out) if args.out else HERE / "out"
    ckpt_dir = out / "checkpoints"
    if rank == 0:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    seed = tcfg["seed"]
    torch.manual_seed(seed)

    sys.path.insert(0, str(HERE))
    model_cls = getattr(importlib.import_module(cfg["model"]["module"]), cfg["model"]["class"])
    model = model_cls()
    model.load_state_dict(load_file(args.weights or str(HERE / cfg["model"]["weights"])))
    model.to(device)

    train_set, val_set, mean, std, num_classes = load_data(
        cfg, args.data_dir or str(HERE / "data"), rank)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    per_process = max(1, batch_size // world)
    if batch_size % world:
        log(rank, f"note: batch size {batch_size} is not a multiple of {world} processes; "
                  f"each uses {per_process}")
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=seed)
    shard = len(sampler)
    train_loader = DataLoader(train_set, batch_size=per_process, sampler=sampler,
                              drop_last=shard % per_process == 1 and shard > 1,
                              num_workers=int(cfg.get("num_workers", 0)),
                              pin_memory=device.type == "cuda")
    val_loader = None
    if val_set is not None:
        val_loader = DataLoader(Subset(val_set, range(rank, len(val_set), world)),
                                batch_size=max(per_process * 2, 256))

    opt_cfg = cfg["optimizer"]
    kwargs = {k: tuple(v) if k == "betas" else v for k, v in opt_cfg["kwargs"].items()}
    optimizer = getattr(torch.optim, opt_cfg["class"])(model.parameters(), **kwargs)
    base_lr = kwargs["lr"]
    sched = cfg["scheduler"]
    plateau = Plateau(sched["params"]) if sched["key"] == "reduce_on_plateau" else None
    loss_fn = make_loss(cfg["loss"], num_classes, device)
    head = cfg["loss"]["head"]
    clip = tcfg.get("clip_norm")
    precision = tcfg.get("mixed_precision", "off") if device.type == "cuda" else "off"
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def amp():
        return torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None)

    history: list[dict] = []
    start_epoch, step, elapsed0 = 1, 0, 0.0
    best_value, since_best = None, 0
    metric = tcfg.get("early_stopping_metric", "val_loss")
    if val_loader is None and metric.startswith("val_"):
        metric = metric.replace("val_", "train_")
    if args.resume is not None:
        folder = Path(args.resume) if args.resume else ckpt_dir / "last"
        state = load_checkpoint(folder, model, optimizer, device)
        start_epoch, step, history = state["epoch"] + 1, state["step"], state["history"]
        elapsed0 = history[-1]["elapsed_s"] if history else 0.0
        best_value, since_best = state.get("best_value"), state.get("since_best", 0)
        if plateau is not None and state.get("plateau"):
            plateau.scale, plateau.best, plateau.bad = state["plateau"]
        log(rank, f"resumed from {folder} after epoch {state['epoch']}")

    ddp = DistributedDataParallel(model) if world > 1 else model
    steps_per_epoch = len(train_loader)
    total = steps_per_epoch * epochs
    augment = make_augment(tcfg.get("augmentation", "none"), tuple(cfg["input_shape"]))
    log(rank, f"training {cfg['model']['class']} on {cfg['dataset']['key']}: {len(train_set)} "
              f"images, {world} process(es) on {device}, batch {per_process * world}, {epochs} epochs")
    t_start = time.perf_counter()
    for epoch in range(start_epoch, epochs + 1):
        sampler.set_epoch(epoch - 1)
        torch.manual_seed(seed + 7919 * epoch + rank)
        ddp.train()
        sums = [0.0, 0.0, 0.0]
        t0 = time.perf_counter()
        for xb, yb in train_loader:
            lr = base_lr * schedule_factor(sched["key"], sched["params"], step, steps_per_epoch, total)
            if plateau is not None:
                lr = max(lr * plateau.scale, sched["params"]["min_lr"])
            for group in optimizer.param_groups:
                group["lr"] = lr
            xb = prepare(xb, mean_t, std_t, device, augment)
            yb = yb.to(device, non_blocking=True)
            with amp():
                output = forward(ddp, xb, head)
                loss = loss_fn(output, yb)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                if clip:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                if clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
            step += 1
            output = output.detach().reshape(output.shape[0], -1)
            sums[0] += float(loss.detach()) * yb.shape[0]
            sums[1] += float((output.argmax(1) == yb).sum())
            sums[2] += yb.shape[0]
        loss_sum, correct, seen = all_sum(sums, device)
        train_time = time.perf_counter() - t0
        row = {"epoch": epoch, "step": step, "train_loss": loss_sum / max(seen, 1),
               "train_accuracy": correct / max(seen, 1), "val_loss": None, "val_accuracy": None,
               "val_top5": None, "lr": lr}
        if val_loader is not None:
            v_loss, v_correct, v_top5, v_n = evaluate(model, val_loader, loss_fn, head, mean_t, std_t,
                                                      device, amp, num_classes)
            v_n = max(v_n, 1)
            row.update(val_loss=v_loss / v_n, val_accuracy=v_correct / v_n,
                       val_top5=v_top5 / v_n if num_classes > 5 else None)
        if plateau is not None:
            plateau.update(row["val_loss"] if row["val_loss"] is not None else row["train_loss"])
        monitored = row[metric]
        better = best_value is None or (monitored > best_value if metric.endswith("accuracy")
                                        else monitored < best_value)
        best_value, since_best = (monitored, 0) if better else (best_value, since_best + 1)
        epoch_s = time.perf_counter() - t0
        row.update(images_per_s=seen / max(train_time, 1e-9), epoch_s=epoch_s,
                   elapsed_s=elapsed0 + time.perf_counter() - t_start, best=better)
        history.append(row)
        if rank == 0:
            state = {"epoch": epoch, "step": step, "history": history, "best_value": best_value,
                     "since_best": since_best, "world_size": world,
                     "plateau": [plateau.scale, plateau.best, plateau.bad] if plateau else None}
            save_checkpoint(ckpt_dir / "last", model, optimizer, state)
            if better:
                save_checkpoint(ckpt_dir / "best", model, optimizer, state)
            write_metrics(out / "metrics.csv", history)
            val = (f"  val loss {row['val_loss']:.4f}  val acc {row['val_accuracy']:.4f}"
                   if row["val_loss"] is not None else "")
            print(f"epoch {epoch}/{epochs}  loss {row['train_loss']:.4f}  "
                  f"acc {row['train_accuracy']:.4f}{val}  lr {lr:.3g}  "
                  f"{row['images_per_s']:.0f} img/s", flush=True)
        patience = tcfg.get("early_stopping_patience", 0)
        if patience and since_best >= patience:
            log(rank, f"early stopping: {metric} has not improved for {patience} epochs")
            break
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
