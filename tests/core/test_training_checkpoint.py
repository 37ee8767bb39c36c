"""Checkpoints: exact resume, and refusal of damaged files."""

from __future__ import annotations

import json

import pytest
import torch

from tests.core.training_helpers import Recorder, config, one_thread, tiny_data, tiny_model
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.checkpoint import CheckpointError, load_checkpoint
from visionstudio.core.training.checkpoint_fit import load_weights
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.trainer import Trainer

_threads = pytest.fixture(autouse=True)(one_thread)

# Dropout, augmentation and a per-step schedule make the test sensitive to RNG and schedule state.
CFG = dict(epochs=3, optimizer={"key": "adam", "params": {"lr": 0.01}},
           scheduler={"key": "cosine", "params": {"warmup_epochs": 0.5}}, augmentation="flip_crop")


def _losses(rec):
    return [v for b in rec.of("on_batch_end") for v in b.losses]


def _model():
    from tests.core.training_helpers import chain
    from visionstudio.core.build import build_model

    graph = chain(("input", {"channels": 1, "height": 8, "width": 8}),
                  ("conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1, "activation": "relu"}),
                  ("maxpool2d", {}), ("flatten", {}), ("dropout", {"p": 0.3}),
                  ("dense", {"units": 4}))
    return build_model(graph, seed=1)


def test_resume_at_epoch_boundary_matches_uninterrupted(tmp_path):
    data = tiny_data()
    full = Recorder()
    ref = Trainer(_model(), config(**CFG), callbacks=[full], report_every=1).fit(data)

    control = TrainerControl()

    class StopAfterEpoch1(Callback):
        def on_epoch_end(self, trainer, record):
            control.request_stop()

    first = Recorder()
    part = Trainer(_model(), config(**CFG), control=control, callbacks=[StopAfterEpoch1(), first],
                   report_every=1, checkpoint_dir=tmp_path / "a").fit(data)
    assert part.status == "stopped" and part.steps == 4
    rest = Recorder()
    resumed = Trainer(_model(), config(**CFG), callbacks=[rest], report_every=1,
                      checkpoint_dir=tmp_path / "a").fit(data, resume=tmp_path / "a" / "last")
    assert rest.of("on_fit_start")[0].start_epoch == 2
    assert _losses(first) + _losses(rest) == _losses(full)
    assert [h.val_loss for h in resumed.history] == [h.val_loss for h in ref.history]
    assert len(resumed.history) == 3  # the history travels in the checkpoint
    times = [h.elapsed_s for h in resumed.history]
    assert times == sorted(times) and all(h.epoch_s > 0 for h in resumed.history)


def test_resume_after_stop_mid_epoch_matches_uninterrupted(tmp_path):
    data = tiny_data()
    full = Recorder()
    Trainer(_model(), config(**CFG), callbacks=[full], report_every=1).fit(data)
    control = TrainerControl()

    class StopAt(Callback):
        def on_batch_end(self, trainer, record):
            if record.step == 6:
                control.request_stop()

    first = Recorder()
    stopped = Trainer(_model(), config(**CFG), control=control, callbacks=[StopAt(), first],
                      report_every=1, checkpoint_dir=tmp_path).fit(data)
    assert stopped.status == "stopped" and stopped.steps == 6
    rest = Recorder()
    resumed = Trainer(_model(), config(**CFG), callbacks=[rest], report_every=1,
                      checkpoint_dir=tmp_path).fit(data, resume=stopped.last_checkpoint)
    assert _losses(first) + _losses(rest) == _losses(full)
    assert resumed.steps == 12 and resumed.status == "completed"
    full_epochs = full.of("on_epoch_end")
    assert resumed.history[1].train_loss == pytest.approx(full_epochs[1].train_loss, rel=1e-6)


def _checkpoint(tmp_path):
    Trainer(tiny_model(), config(epochs=1), checkpoint_dir=tmp_path).fit(tiny_data())
    return tmp_path / "last"


def test_checkpoint_contents_and_weights_load(tmp_path):
    ckpt = _checkpoint(tmp_path)
    loaded = load_checkpoint(ckpt)
    assert loaded.meta["epoch"] == 2 and loaded.meta["step"] == 4
    assert any(k.startswith("optim.") and k.endswith("exp_avg") for k in loaded.tensors)
    body = json.loads((ckpt / "checkpoint.json").read_text())
    assert body["format"] == "visionstudio.checkpoint"
    model = tiny_model(seed=5)
    load_weights(ckpt / "model.safetensors", model)
    assert torch.equal(model.state_dict()["conv1.weight"], loaded.model_state["conv1.weight"])


@pytest.mark.parametrize("damage", ["truncate_model", "flip_state_byte", "edit_json", "truncate_json",
                                    "missing_file"])
def test_damaged_checkpoint_is_refused(tmp_path, damage):
    ckpt = _checkpoint(tmp_path)
    if damage == "truncate_model":
        data = (ckpt / "model.safetensors").read_bytes()
        (ckpt / "model.safetensors").write_bytes(data[: len(data) // 2])
        expect = "truncated"
    elif damage == "flip_state_byte":
        data = bytearray((ckpt / "state.safetensors").read_bytes())
        data[-10] ^= 0xFF
        (ckpt / "state.safetensors").write_bytes(bytes(data))
        expect = "modified or damaged"
    elif damage == "edit_json":
        text = (ckpt / "checkpoint.json").read_text().replace('"step": 4', '"step": 40')
        (ckpt / "checkpoint.json").write_text(text)
        expect = "modified or damaged"
    elif damage == "truncate_json":
        text = (ckpt / "checkpoint.json").read_text()
        (ckpt / "checkpoint.json").write_text(text[:100])
        expect = "damaged"
    else:
        (ckpt / "state.safetensors").unlink()
        expect = "cannot be read"
    with pytest.raises(CheckpointError, match=expect):
        load_checkpoint(ckpt)
    with pytest.raises(CheckpointError):
        Trainer(tiny_model(), config(epochs=2)).fit(tiny_data(), resume=ckpt)


def test_checkpoint_from_another_network_is_refused(tmp_path):
    ckpt = _checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="does not fit"):
        Trainer(tiny_model(classes=6), config(epochs=2)).fit(tiny_data(classes=6), resume=ckpt)


def test_best_and_last_with_early_stopping(tmp_path):
    # lr 0 => the validation loss never improves after epoch 1 -> stop after patience epochs
    cfg = config(epochs=10, optimizer={"key": "sgd", "params": {"lr": 1e-12}},
                 early_stopping_patience=2)
    result = Trainer(tiny_model(), cfg, checkpoint_dir=tmp_path).fit(tiny_data())
    assert result.status == "early_stopped" and result.epochs_completed == 3
    assert result.best_epoch == 1
    assert load_checkpoint(result.best_checkpoint).meta["step"] == 4
    assert load_checkpoint(result.last_checkpoint).meta["step"] == 12
