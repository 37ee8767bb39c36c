"""Train the exported VisionStudio model with plain PyTorch.

One process:            python train.py
Several GPUs:           torchrun --nproc_per_node=4 train.py
Several machines:       torchrun --nnodes=2 --nproc_per_node=4 --rdzv_backend=c10d \\
                            --rdzv_endpoint=HOST:29500 --rdzv_id=myrun train.py
Resume:                 python train.py --resume            (out/checkpoints/last)

Settings come from config.json; the model from model.py (with its frozen layers and lr
multipliers), its initial weights from weights.safetensors; the data from train_data.py and
shapes_data.py; augmentation.py, lr_schedule.py and param_groups.py are VisionStudio's own
code, copied; train_tasks.py trains the project's task (regression, localization and
detection with the app's own objectives, task_*.py, cut from its code at export).
With torchrun the global batch size stays the project's (batch_size / N each).
Rank 0 prints, writes out/metrics.csv (the app imports it as a run) and out/checkpoints/
{last,best}/ (weights in model.safetensors), only ever read with weights_only=True.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch.nn.parallel import DistributedDataParallel

HERE = Path(__file__).resolve().parent


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


# -- augmentation (on the device, one batch at a time) --------------------------------
def make_augment(preset: str, input_shape: tuple[int, ...], task: str = "classification"):
    """VisionStudio's own augmentation (augmentation.py, copied unchanged) on float N×C×H×W
    batches in [0, 1] (torch's RNG), as the app applies it: before the normalisation (prepare);
    for the task as the app does it (train_tasks.make_augment: colour only, boxes moved)."""
    import train_tasks

    return train_tasks.make_augment(task, preset, input_shape)


# -- model, data, loss, optimizer, schedule ----------------------------------------------
def load_model(cfg: dict, weights: str | None, device: torch.device) -> torch.nn.Module:
    sys.path.insert(0, str(HERE))
    model_cls = getattr(importlib.import_module(cfg["model"]["module"]), cfg["model"]["class"])
    model = model_cls()
    model.load_state_dict(load_file(weights or str(HERE / cfg["model"]["weights"])))
    return model.to(device)


def make_optimizer(cfg: dict, model: torch.nn.Module):
    """(optimizer, its base learning rate, frozen BatchNorm layers) from config.json's class
    and arguments; model.py's FROZEN modules do not train and LR_MULTIPLIERS scale a module's
    learning rate, grouped by VisionStudio's own param_groups.py (copied unchanged)."""
    import param_groups

    module, opt_cfg = importlib.import_module(cfg["model"]["module"]), cfg["optimizer"]
    plan = param_groups.TransferPlan(getattr(module, "FROZEN", ()), getattr(module, "LR_MULTIPLIERS", {}),
                                     cfg["training"].get("frozen_bn_eval", True))
    param_groups.apply_freezing(model, plan)
    kwargs = {k: tuple(v) if k == "betas" else v for k, v in opt_cfg["kwargs"].items()}
    optimizer = getattr(torch.optim, opt_cfg["class"])(param_groups.param_groups(model, plan), **kwargs)
    return optimizer, kwargs["lr"], param_groups.frozen_batchnorms(model, plan)


def make_schedule(cfg: dict, base_lr: float, steps_per_epoch: int, epochs: int):
    """VisionStudio's own schedule (lr_schedule.py, copied unchanged): the app's lr at every step."""
    import lr_schedule

    sched = cfg["scheduler"]
    return lr_schedule.Schedule(sched["key"], sched["params"], base_lr=base_lr,
                                steps_per_epoch=steps_per_epoch, total_steps=steps_per_epoch * epochs)


def make_amp(tcfg: dict, device: torch.device):
    """(autocast context factory, GradScaler or None) for the project's precision."""
    precision = tcfg.get("mixed_precision", "off") if device.type == "cuda" else "off"
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    scaler = torch.amp.GradScaler("cuda") if precision == "fp16" else None

    def amp():
        return torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None)
    return amp, scaler


# -- checkpoints (rank 0 writes; everything is read with weights_only=True) ------------
def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer, state: dict) -> None:
    tmp = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    meta = {"format": "pt"}
    if state.get("objective"):   # a regression's target mean/std travel with the weights
        meta["objective"] = json.dumps(state["objective"])
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
              str(tmp / "model.safetensors"), metadata=meta)
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


def write_metrics(path: Path, history: list[dict], columns: list[str]) -> None:
    """The metrics CSV in the app's columns (config.json's metrics.columns, in order)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in history:
        writer.writerow(["" if row.get(c) is None else (f"{row[c]:.6g}" if isinstance(row[c], float)
                                                        else row[c]) for c in columns])
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


# -- training ---------------------------------------------------------------------------
def prepare(xb: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, device,
            augment=None) -> torch.Tensor:
    """uint8 images -> [0, 1] -> augmented (training only) -> normalised per channel."""
    xb = xb.to(device, non_blocking=True).float().div_(255.0)
    if augment is not None:
        xb = augment(xb)
    return (xb - mean) / std


def backward_step(loss: torch.Tensor, model, optimizer, scaler, clip) -> None:
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        if clip:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        scaler.step(optimizer)
        scaler.update()
        return
    loss.backward()
    if clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()


class Training:
    """One run: the model, its data, optimizer and schedule, and what a checkpoint keeps."""

    def __init__(self, args: argparse.Namespace, cfg: dict) -> None:
        import train_data
        import train_tasks

        self.cfg, self.tcfg = cfg, cfg["training"]
        self.epochs = args.epochs or self.tcfg["epochs"]
        batch_size = args.batch_size or self.tcfg["batch_size"]
        self.rank, self.world, self.device = setup_distributed(args.device or self.tcfg.get("device", "auto"))
        self.out = Path(args.out) if args.out else HERE / "out"
        self.ckpt_dir = self.out / "checkpoints"
        if self.rank == 0:
            self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.seed = self.tcfg["seed"]
        torch.manual_seed(self.seed)
        self.model = self.ddp = load_model(cfg, args.weights, self.device)
        self.train_set, val_set, mean, std, self.num_classes, names = train_data.load_data(
            cfg, args.data_dir or str(HERE / "data"), self.rank)
        self.task = train_tasks.make_task(cfg, self.num_classes, names, self.train_set, self.device)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)
        self.sampler, self.train_loader, self.val_loader, self.per_process = train_data.make_loaders(
            cfg, self.train_set, val_set, batch_size, self.rank, self.world, self.device)
        self.optimizer, base_lr, self.frozen_bn = make_optimizer(cfg, self.model)
        self.schedule = make_schedule(cfg, base_lr, len(self.train_loader), self.epochs)
        self.clip = self.tcfg.get("clip_norm")
        self.amp, self.scaler = make_amp(self.tcfg, self.device)
        self.augment = make_augment(self.tcfg.get("augmentation", "none"), tuple(cfg["input_shape"]),
                                    cfg.get("task", "classification"))
        self.history: list[dict] = []
        self.start_epoch, self.step, self.elapsed0 = 1, 0, 0.0
        self.best_value, self.since_best = None, 0
        self.metric = self.tcfg.get("early_stopping_metric", "val_loss")
        mode = self.tcfg.get("early_stopping_mode", "max" if self.metric.endswith("accuracy") else "min")
        if self.val_loader is None and self.metric.startswith("val_"):
            self.metric = self.metric.replace("val_", "train_")
            if self.metric not in ("train_loss", "train_accuracy"):   # a task's metric needs validation
                self.metric, mode = "train_loss", "min"
        self.maximise = mode == "max"

    def resume(self, where: str) -> None:
        folder = Path(where) if where else self.ckpt_dir / "last"
        state = load_checkpoint(folder, self.model, self.optimizer, self.device)
        self.start_epoch, self.step, self.history = state["epoch"] + 1, state["step"], state["history"]
        self.elapsed0 = self.history[-1]["elapsed_s"] if self.history else 0.0
        self.best_value, self.since_best = state.get("best_value"), state.get("since_best", 0)
        if state.get("schedule"):
            self.schedule.load_state_dict(state["schedule"])
        if state.get("objective"):
            self.task.load_state_dict(state["objective"])
        log(self.rank, f"resumed from {folder} after epoch {state['epoch']}")

    def train_epoch(self, epoch: int) -> tuple[list[float], float]:
        """One pass over this process's shard: ([loss sum, seen, the task's counts…] over
        all processes, the last step's learning rate)."""
        self.sampler.set_epoch(epoch - 1)
        torch.manual_seed(self.seed + 7919 * epoch + self.rank)
        self.ddp.train()
        for bn in self.frozen_bn:  # frozen BatchNorm keeps (and uses) its running statistics
            bn.eval()
        sums, lr = [0.0, 0.0], self.schedule.lr(self.step)
        for xb, yb in self.train_loader:
            lr = self.schedule.lr(self.step)
            for group in self.optimizer.param_groups:
                group["lr"] = lr * group.get("lr_multiplier", 1.0)
            xb, yb = self.prepare(xb, yb.to(self.device, non_blocking=True))
            with self.amp():
                output = self.task.forward(self.ddp, xb)
                loss, parts = self.task.loss(output, yb)
            backward_step(loss, self.model, self.optimizer, self.scaler, self.clip)
            self.step += 1
            counts = self.task.counts(output, yb, parts)
            sums += [0.0] * (2 + len(counts) - len(sums))
            for i, value in enumerate((float(loss.detach()) * yb.shape[0], yb.shape[0], *counts)):
                sums[i] += value
        return all_sum(sums, self.device), lr

    def prepare(self, xb, yb):
        import train_tasks

        return train_tasks.prepare_pair(prepare, xb, yb, self.mean, self.std, self.device, self.augment,
                                        self.task.moves_targets)

    def validate(self, row: dict) -> None:
        """The validation columns of ``row``, then the schedule's look at the epoch."""
        if self.val_loader is not None:
            row.update(self.task.evaluate(self.model, self.val_loader, prepare, self.mean, self.std,
                                          self.device, self.amp, all_sum))
        self.schedule.on_validation(row["val_loss"] if row["val_loss"] is not None else row["train_loss"])

    def end_epoch(self, epoch: int, row: dict, started: float) -> bool:
        """Record the epoch, checkpoint and report on rank 0; True to stop early."""
        import train_tasks

        monitored = row[self.metric]
        better = self.best_value is None or (monitored > self.best_value if self.maximise
                                             else monitored < self.best_value)
        self.since_best = 0 if better else self.since_best + 1
        self.best_value = monitored if better else self.best_value
        row.update(epoch_s=time.perf_counter() - started,
                   elapsed_s=self.elapsed0 + time.perf_counter() - self.t_start, best=better)
        self.history.append(row)
        if self.rank == 0:
            state = {"epoch": epoch, "step": self.step, "history": self.history,
                     "best_value": self.best_value, "since_best": self.since_best, "world_size": self.world,
                     "schedule": self.schedule.state_dict(), "objective": self.task.state_dict()}
            save_checkpoint(self.ckpt_dir / "last", self.model, self.optimizer, state)
            if better:
                save_checkpoint(self.ckpt_dir / "best", self.model, self.optimizer, state)
            write_metrics(self.out / "metrics.csv", self.history,
                          train_tasks.metric_columns(self.cfg["metrics"]["columns"], self.history))
            print(f"epoch {epoch}/{self.epochs}  {self.task.line(row)}  lr {row['lr']:.3g}  "
                  f"{row['images_per_s']:.0f} img/s", flush=True)
        patience = self.tcfg.get("early_stopping_patience", 0)
        if patience and self.since_best >= patience:
            log(self.rank, f"early stopping: {self.metric} has not improved for {patience} epochs")
            return True
        return False

    def fit(self) -> None:
        self.ddp = DistributedDataParallel(self.model) if self.world > 1 else self.model
        log(self.rank, f"training {self.cfg['model']['class']} on {self.cfg['dataset']['key']}: "
                       f"{len(self.train_set)} images, {self.world} process(es) on {self.device}, "
                       f"batch {self.per_process * self.world}, {self.epochs} epochs")
        self.t_start = time.perf_counter()
        for epoch in range(self.start_epoch, self.epochs + 1):
            started = time.perf_counter()
            (loss_sum, seen, *counts), lr = self.train_epoch(epoch)
            train_time = time.perf_counter() - started
            row = {"epoch": epoch, "step": self.step, "train_loss": loss_sum / max(seen, 1),
                   "train_accuracy": None, "val_loss": None, "val_accuracy": None,
                   "val_top5": None, "lr": lr, "images_per_s": seen / max(train_time, 1e-9)}
            row.update(self.task.train_fields(counts, seen))
            self.validate(row)
            if self.end_epoch(epoch, row, started):
                break


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = Training(args, json.loads(Path(args.config).read_text(encoding="utf-8")))
    if args.resume is not None:
        run.resume(args.resume)
    run.fit()
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
