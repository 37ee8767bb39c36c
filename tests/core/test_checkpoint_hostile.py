"""Checkpoints written by an attacker: each is refused with one CheckpointError that names
the file and the field or tensor, before anything is loaded — through the trainer, through
``visionstudio train --resume`` and through ``visionstudio export --weights``.

A hostile file carries a matching digest and matching SHA-256s (anyone can compute them),
so every attack below rewrites them: what is tested is the field checks, not the digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from tests.core.training_helpers import config, one_thread, tiny_data, tiny_graph, tiny_model
from visionstudio.core.training.checkpoint import (
    META_FILE,
    MODEL_FILE,
    STATE_FILE,
    CheckpointError,
    _digest,
    load_checkpoint,
    read_meta,
)
from visionstudio.core.training.checkpoint_fit import load_weights
from visionstudio.core.training.trainer import Trainer

_threads = pytest.fixture(autouse=True)(one_thread)
posix_only = pytest.mark.skipif(sys.platform == "win32" or not os.path.exists("/dev/zero"),
                                reason="needs /dev/zero and FIFOs (POSIX)")


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """One real checkpoint (Adam, 1 epoch); each test works on a copy."""
    folder = tmp_path_factory.mktemp("good")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        Trainer(tiny_model(), config(epochs=1), checkpoint_dir=folder).fit(tiny_data())
    finally:
        torch.set_num_threads(before)
    return folder / "last"


@pytest.fixture
def ckpt(good, tmp_path):
    import shutil

    return shutil.copytree(good, tmp_path / "ckpt")


def _body(ckpt):
    return json.loads((ckpt / META_FILE).read_text())


def _write_body(ckpt, body):
    body.pop("digest", None)
    body["digest"] = _digest(body)   # what an attacker does: the digest is no secret
    (ckpt / META_FILE).write_text(json.dumps(body))


def _edit_trainer(ckpt, edit):
    body = _body(ckpt)
    edit(body["trainer"])
    _write_body(ckpt, body)


def _replace_file(ckpt, name, data: bytes):
    """Swap a tensor file and update its size and SHA-256 in checkpoint.json."""
    (ckpt / name).write_bytes(data)
    body = _body(ckpt)
    body["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    _write_body(ckpt, body)


def _edit_state(ckpt, edit):
    tensors = dict(st_load((ckpt / STATE_FILE).read_bytes()))
    edit(tensors)
    _replace_file(ckpt, STATE_FILE, st_save(tensors))


def _refused(ckpt, *fragments):
    """The checkpoint is refused by loading and by resuming, the model left untouched."""
    model = tiny_model(seed=3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as info:
        Trainer(model, config(epochs=2)).fit(tiny_data(), resume=ckpt)
    message = str(info.value)
    assert str(ckpt) in message
    for fragment in fragments:
        assert fragment in message, message
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k].cpu()) for k in before)
    return message


# -- checkpoint.json ----------------------------------------------------------------------
def test_deeply_nested_json_is_refused_without_recursion_error(ckpt):
    (ckpt / META_FILE).write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(CheckpointError, match="checkpoint.json is nested too deeply"):
        read_meta(ckpt)


def test_nested_json_under_the_recursion_limit_with_a_valid_digest_is_refused(ckpt):
    def nest(meta):
        deep: list = []
        for _ in range(200):
            deep = [deep]
        meta["notes"] = deep
    _edit_trainer(ckpt, nest)
    with pytest.raises(CheckpointError, match="nested more than 32 levels"):
        read_meta(ckpt)


@pytest.mark.parametrize("field, value, expected", [
    ("step", float("inf"), "checkpoint.json: field 'step' must be a whole number ≥ 0, found Infinity"),
    ("step", float("nan"), "field 'step' must be a whole number ≥ 0, found NaN"),
    ("step", 10 ** 30, "field 'step' must be a whole number ≥ 0, found 1000000000000000000000000000000"),
    ("step", -1, "field 'step' must be a whole number ≥ 0, found -1"),
    ("step", "4", "field 'step' must be a whole number ≥ 0, found '4'"),
    ("epoch", 2.5, "field 'epoch' must be a whole number ≥ 1"),
    ("schedule", [], "checkpoint.json: field 'schedule' must be an object, found a list of 0"),
    ("schedule", None, "field 'schedule' must be an object, found null"),
    ("history", {}, "field 'history' must be a list, found an object"),
    ("epoch_sums", [0, 0], "field 'epoch_sums' must be a list of 3"),
    ("best", {"value": float("-inf"), "epoch": 1, "since": 0}, "field 'best.value' must be a finite number"),
    ("metric", "__import__('os')", "field 'metric' must be one of"),
    ("optimizer_key", "lbfgs", "field 'optimizer_key' names an unknown optimizer 'lbfgs'"),
    ("scaler", "yes", "field 'scaler' must be an object"),
    ("notes", [1], "field 'notes[0]' must be a text"),
    ("config", {"epochs": -5}, "field 'config'"),
])
def test_wrong_field_is_named(ckpt, field, value, expected):
    def edit(meta):
        meta[field] = value
    _edit_trainer(ckpt, edit)
    _refused(ckpt, expected)


@pytest.mark.parametrize("edit, expected", [
    (lambda m: m["schedule"].update(base_lr=float("inf")),
     "field 'schedule.base_lr' must be a finite number"),
    (lambda m: m["schedule"].update(bad_epochs=True), "field 'schedule.bad_epochs' must be a whole number"),
    (lambda m: m["schedule"].pop("scale"), "field 'schedule.scale' is missing"),
    (lambda m: m["history"][0].update(train_loss="low"), "field 'history[0].train_loss' must be a number"),
    (lambda m: m["history"][0].update(evil=1), "field 'history[0].evil' is not a field of an epoch record"),
    (lambda m: m["optimizer"]["param_groups"][0].update(lr="fast"),
     "field 'optimizer.param_groups[0].lr' must be a finite number ≥ 0, found 'fast'"),
    (lambda m: m["optimizer"]["param_groups"][0].update(betas=[0.9, 2.0]),
     "field 'optimizer.param_groups[0].betas' must hold numbers from 0 up to (not including) 1, "
     "found a list of 2"),
    (lambda m: m["optimizer"]["param_groups"][0].update(params=[0, 0, 1, 2]),
     "field 'optimizer.param_groups[0].params' lists parameter 0 twice"),
    (lambda m: m["optimizer"]["param_groups"][0].update(params=[0]),
     "field 'optimizer.param_groups[0].params' lists 1 parameters, the network has 4"),
    (lambda m: m["optimizer"]["param_groups"].append(m["optimizer"]["param_groups"][0]),
     "field 'optimizer.param_groups' has 2 group(s), this optimizer has 1"),
    (lambda m: m["optimizer_params"].update(lr=-1.0), "field 'optimizer_params.lr'"),
    (lambda m: m.pop("batch"), "field 'batch' is missing"),
])
def test_wrong_nested_field_is_named(ckpt, edit, expected):
    _edit_trainer(ckpt, edit)
    _refused(ckpt, "checkpoint.json", expected)


def test_integer_of_thousands_of_digits_is_damaged_json(ckpt):
    text = (ckpt / META_FILE).read_text().replace('"step": 4', '"step": ' + "9" * 5000)
    (ckpt / META_FILE).write_text(text)
    with pytest.raises(CheckpointError, match="checkpoint.json is damaged"):
        read_meta(ckpt)


def test_oversized_checkpoint_json_is_refused_before_reading(ckpt, monkeypatch):
    from visionstudio.core.training import checkpoint

    monkeypatch.setattr(checkpoint, "MAX_META_BYTES", 1000)
    with pytest.raises(CheckpointError, match=r"checkpoint.json is [\d,]+ bytes, more than the 1,000"):
        read_meta(ckpt)


# -- tensors against the network and the optimizer --------------------------------------
def test_optimizer_tensor_of_the_wrong_shape_is_named(ckpt):
    _edit_state(ckpt, lambda t: t.update({"optim.0.exp_avg": torch.zeros(3)}))
    _refused(ckpt, "state.safetensors: tensor 'optim.0.exp_avg' has shape [3], but its parameter "
                   "has shape [4, 1, 3, 3]")


def test_optimizer_state_of_another_optimizer_kind_is_named(ckpt):
    _edit_state(ckpt, lambda t: t.update({"optim.1.momentum_buffer": torch.zeros(4)}))
    _refused(ckpt, "tensor 'optim.1.momentum_buffer': Adam keeps no 'momentum_buffer' state")


def test_optimizer_state_missing_a_moment_is_named(ckpt):
    _edit_state(ckpt, lambda t: t.pop("optim.2.exp_avg_sq"))
    _refused(ckpt, "the optimizer state of parameter 2 lacks 'optim.2.exp_avg_sq'")


def test_optimizer_state_for_a_parameter_that_does_not_exist(ckpt):
    _edit_state(ckpt, lambda t: t.update({"optim.9.exp_avg": torch.zeros(3)}))
    _refused(ckpt, "tensor 'optim.9.exp_avg' belongs to parameter 9")


def test_step_counter_that_is_not_a_count(ckpt):
    _edit_state(ckpt, lambda t: t.update({"optim.0.step": torch.tensor(float("inf"))}))
    _refused(ckpt, "tensor 'optim.0.step' must be a step count ≥ 0, found inf")


def test_rng_state_of_the_wrong_size(ckpt):
    _edit_state(ckpt, lambda t: t.update({"rng.torch": torch.zeros(7, dtype=torch.uint8)}))
    _refused(ckpt, "tensor 'rng.torch' must be 5056 bytes (uint8)")


def test_model_tensor_of_the_wrong_shape_or_dtype(ckpt):
    weights = dict(st_load((ckpt / MODEL_FILE).read_bytes()))
    weights["conv1.weight"] = torch.zeros(4, 1, 5, 5)
    _replace_file(ckpt, MODEL_FILE, st_save(weights))
    _refused(ckpt, "does not fit this network: tensor 'conv1.weight' has shape [4, 1, 5, 5], "
                   "the network needs [4, 1, 3, 3]")
    weights["conv1.weight"] = torch.zeros(4, 1, 3, 3, dtype=torch.int32)
    _replace_file(ckpt, MODEL_FILE, st_save(weights))
    _refused(ckpt, "tensor 'conv1.weight' is torch.int32, the network needs torch.float32")
    with pytest.raises(CheckpointError, match="tensor 'conv1.weight' is torch.int32"):
        load_weights(ckpt, tiny_model())


# -- the files themselves -----------------------------------------------------------------
def test_truncated_safetensors_with_matching_size_and_hash(ckpt):
    data = (ckpt / STATE_FILE).read_bytes()
    _replace_file(ckpt, STATE_FILE, data[: len(data) - 100])
    _refused(ckpt, "state.safetensors is not a valid safetensors file")


def test_safetensors_header_claiming_a_huge_length(ckpt):
    data = (ckpt / MODEL_FILE).read_bytes()
    _replace_file(ckpt, MODEL_FILE, (2 ** 62).to_bytes(8, "little") + data[8:])
    _refused(ckpt, "model.safetensors claims a header of 4,611,686,018,427,387,904 bytes")


@posix_only
@pytest.mark.parametrize("name", [MODEL_FILE, STATE_FILE, META_FILE])
def test_symlink_to_dev_zero_is_not_read(ckpt, name):
    (ckpt / name).unlink()
    os.symlink("/dev/zero", ckpt / name)
    message = _refused(ckpt, f"{name} is not a regular file")
    assert "checkpoint" in message


@posix_only
def test_fifo_does_not_block(ckpt):
    (ckpt / META_FILE).unlink()
    os.mkfifo(ckpt / META_FILE)
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(_read_error(ckpt)), daemon=True)
    reader.start()
    reader.join(30)   # generous; a blocking open would never return
    if reader.is_alive():   # unblock the thread before failing
        with open(ckpt / META_FILE, "wb"):
            pass
        pytest.fail("reading a FIFO checkpoint.json blocked")
    assert "checkpoint.json is not a regular file" in outcome[0]


def _read_error(ckpt):
    try:
        read_meta(ckpt)
    except CheckpointError as exc:
        return str(exc)
    return "accepted"


@posix_only
def test_bare_weights_file_linked_to_dev_zero(tmp_path):
    link = tmp_path / "w.safetensors"
    os.symlink("/dev/zero", link)
    with pytest.raises(CheckpointError, match="w.safetensors: the file is not a regular file"):
        load_weights(link, tiny_model())


# -- what must keep working -----------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "sgd_momentum", "nesterov", "rmsprop", "adam", "adamw",
                                       "adagrad"])
def test_real_checkpoints_of_every_optimizer_still_resume(tmp_path, optimizer):
    params = {"amsgrad": True} if optimizer == "adam" else {}
    params.update({"momentum": 0.5} if optimizer == "rmsprop" else {})
    cfg = dict(optimizer={"key": optimizer, "params": params},
               scheduler={"key": "reduce_on_plateau", "params": {}})
    Trainer(tiny_model(), config(epochs=1, **cfg), checkpoint_dir=tmp_path).fit(tiny_data(n=32))
    assert load_checkpoint(tmp_path / "last").meta["step"] == 2
    result = Trainer(tiny_model(), config(epochs=2, **cfg), checkpoint_dir=tmp_path).fit(
        tiny_data(n=32), resume=tmp_path / "last")
    assert result.status == "completed" and result.steps == 4


# -- the command line: one message, no traceback -----------------------------------------
@pytest.fixture(scope="module")
def project_and_checkpoint(tmp_path_factory):
    """A tiny project and a real checkpoint of it, trained through the CLI."""
    from visionstudio.cli import main
    from visionstudio.core.data.config import DatasetConfig
    from visionstudio.core.project import ProjectDocument, save_project

    folder = tmp_path_factory.mktemp("cli")
    doc = ProjectDocument(graph=tiny_graph(classes=4, size=8), name="tiny")
    doc.dataset = DatasetConfig.from_dict({"key": "shapes", "params": {
        "image_size": 8, "classes": 4, "samples": 32, "val_samples": 8}})
    doc.training = doc.training.replace(batch_size=16, device="cpu")
    project = folder / "tiny.vsproj"
    save_project(doc, project)
    assert main(["train", str(project), "--epochs", "1", "--out", str(folder / "run"), "--quiet"]) == 0
    return project, folder / "run" / "checkpoints" / "last"


def _cli_attacks(ckpt):
    yield "infinity", lambda c: _edit_trainer(c, lambda m: m.update(step=float("inf"))), \
        "field 'step' must be a whole number ≥ 0, found Infinity"
    yield "schedule", lambda c: _edit_trainer(c, lambda m: m.update(schedule=[])), \
        "field 'schedule' must be an object"
    yield "nested", lambda c: (c / META_FILE).write_text("[" * 100_000), "nested too deeply"
    yield "header", lambda c: _replace_file(c, MODEL_FILE, (2 ** 62).to_bytes(8, "little") + b"{}"), \
        "model.safetensors claims a header"


@pytest.mark.parametrize("attack", ["infinity", "schedule", "nested", "header", "optimizer_shape"])
def test_cli_resume_and_export_refuse_with_one_message(project_and_checkpoint, tmp_path, capsys, attack):
    import shutil

    from visionstudio.cli import main

    project, good_ckpt = project_and_checkpoint
    ckpt = shutil.copytree(good_ckpt, tmp_path / "ckpt")
    attacks = {name: (do, text) for name, do, text in _cli_attacks(ckpt)}
    attacks["optimizer_shape"] = (
        lambda c: _edit_state(c, lambda t: t.update({"optim.0.exp_avg_sq": torch.zeros(2, 2)})),
        "tensor 'optim.0.exp_avg_sq' has shape [2, 2]")
    do, expected = attacks[attack]
    do(ckpt)
    capsys.readouterr()
    code = main(["train", str(project), "--epochs", "2", "--out", str(tmp_path / "o"), "--quiet",
                 "--resume", str(ckpt)])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    if attack == "optimizer_shape":
        return   # the weights themselves are fine: export may use them
    code = main(["export", str(project), "--format", "pytorch", "--out", str(tmp_path / "x"),
                 "--weights", str(ckpt)])
    err = capsys.readouterr().err
    assert code == 1 and expected in err and "Traceback" not in err, err
    assert not (tmp_path / "x" / "model.py").exists()


@posix_only
def test_cli_export_weights_linked_to_dev_zero_or_a_fifo(project_and_checkpoint, tmp_path, capsys):
    from visionstudio.cli import main

    project, _ = project_and_checkpoint
    zero = tmp_path / "zero.safetensors"
    os.symlink("/dev/zero", zero)
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    for weights in (zero, fifo):
        code = main(["export", str(project), "--format", "pytorch", "--out", str(tmp_path / "x"),
                     "--weights", str(weights)])
        err = capsys.readouterr().err
        assert code == 1 and "is not a regular file" in err and weights.name in err, err
        assert "Traceback" not in err


def test_weights_only_checkpoint_is_not_resumed_and_its_fields_are_still_checked(tmp_path):
    from visionstudio.core.training.checkpoint import save_checkpoint

    state = tiny_model().state_dict()
    folder = save_checkpoint(tmp_path / "w", model_state=state, tensors={}, meta={"epoch": 3})
    load_weights(folder, tiny_model(seed=2))          # the weights are usable
    with pytest.raises(CheckpointError, match="holds weights but no training state"):
        Trainer(tiny_model(), config(epochs=2)).fit(tiny_data(), resume=folder)
    folder = save_checkpoint(tmp_path / "w", model_state=state, tensors={}, meta={"step": float("inf")})
    with pytest.raises(CheckpointError, match="field 'step' must be a whole number ≥ 0, found Infinity"):
        load_weights(folder, tiny_model())


def test_cli_export_refuses_weights_of_the_wrong_dtype(project_and_checkpoint, tmp_path, capsys):
    from safetensors.torch import save_file

    from visionstudio.cli import main

    project, ckpt = project_and_checkpoint
    weights = {k: v.to(torch.int32) for k, v in load_checkpoint(ckpt).model_state.items()}
    path = tmp_path / "int.safetensors"
    save_file(weights, str(path))
    code = main(["export", str(project), "--format", "pytorch", "--out", str(tmp_path / "x"),
                 "--weights", str(path)])
    err = capsys.readouterr().err
    assert code == 1 and "conv1.weight is torch.int32 but the network needs torch.float32" in err, err
    assert not (tmp_path / "x" / "model.py").exists()
