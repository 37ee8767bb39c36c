"""The training loop's behaviour: hooks, softmax folding, stop/pause, faults."""

from __future__ import annotations

import threading

import pytest
import torch

from tests.core.training_helpers import Recorder, config, one_thread, tiny_data, tiny_model
from visionstudio.core.training.callbacks import Callback
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.device import suggest_batch_size
from visionstudio.core.training.records import BatchRecord, EpochRecord, FitResult
from visionstudio.core.training.trainer import Trainer

_threads = pytest.fixture(autouse=True)(one_thread)


def test_hooks_and_records_are_plain_data():
    rec = Recorder()
    result = Trainer(tiny_model(), config(epochs=2), callbacks=[rec], report_every=2).fit(tiny_data())
    assert result.status == "completed" and result.epochs_completed == 2 and result.steps == 8
    hooks = [c[0] for c in rec.calls]
    assert hooks[0] == "on_fit_start" and hooks[-1] == "on_fit_end"
    assert hooks.count("on_epoch_start") == hooks.count("on_epoch_end") == 2
    assert hooks.count("on_validation_end") == 2
    batches = rec.of("on_batch_end")
    assert [b.step for b in batches] == [2, 4, 6, 8]
    assert all(len(b.losses) == len(b.lrs) == 2 for b in batches)
    for record in batches + rec.of("on_epoch_end") + [result]:
        with pytest.raises(AttributeError):
            record.epoch = 99 if not isinstance(record, FitResult) else None
            record.status = "x"
    epoch = rec.of("on_epoch_end")[-1]
    assert isinstance(epoch, EpochRecord) and 0.0 <= epoch.val_accuracy <= 1.0
    assert epoch.images_per_s > 0 and epoch.eta_s == 0.0
    allowed = (int, float, str, bool, tuple, type(None))
    for b in batches:
        assert isinstance(b, BatchRecord)
        assert all(isinstance(v, allowed) for v in b.as_dict().values())


def test_learns_tiny_signal_and_top5_only_above_five_classes():
    data = tiny_data(n=96, classes=4)
    r = Trainer(tiny_model(), config(epochs=4, optimizer={"key": "adam", "params": {"lr": 0.02}})).fit(data)
    assert r.history[-1].val_accuracy >= 0.9
    assert r.history[-1].val_top5 is None
    data8 = tiny_data(n=64, classes=8)
    r8 = Trainer(tiny_model(classes=8), config(epochs=1)).fit(data8)
    assert r8.history[-1].val_top5 is not None


@pytest.mark.parametrize("where", ["activation", "node"])
def test_softmax_folded_for_cross_entropy(where):
    kw = {"head_activation": "softmax"} if where == "activation" else {"softmax_node": True}
    model = tiny_model(**kw)
    rec = Recorder()
    trainer = Trainer(model, config(epochs=1), callbacks=[rec])
    result = trainer.fit(tiny_data())
    note = rec.of("on_fit_start")[0].notes
    assert any("softmax" in n and "folded" in n for n in note), note
    assert any("folded" in n for n in result.notes)
    x = torch.randn(5, 1, 8, 8)
    model.eval()
    trainer.train_model.eval()
    probs = model(x)                       # prediction keeps the softmax
    logits = trainer.train_model(x)        # training view does not, same weights
    assert torch.allclose(probs.sum(1), torch.ones(5), atol=1e-5)
    assert torch.allclose(torch.softmax(logits, 1), probs, atol=1e-6)
    assert not torch.allclose(logits.sum(1), torch.ones(5), atol=1e-3)
    assert {k for k, _ in model.named_parameters()} == {k for k, _ in trainer.train_model.named_parameters()}
    for (_, a), (_, b) in zip(model.named_parameters(), trainer.train_model.named_parameters()):
        assert a is b


def test_nll_on_softmax_output_uses_log_softmax():
    model = tiny_model(head_activation="softmax")
    trainer = Trainer(model, config(epochs=1, loss={"key": "nll"}))
    result = trainer.fit(tiny_data())
    assert any("log-softmax" in n for n in result.notes)
    assert result.status == "completed" and result.history[0].train_loss > 0
    plain = Trainer(tiny_model(), config(epochs=1, loss={"key": "nll"})).fit(tiny_data())
    assert any("log-probabilities" in n for n in plain.notes)
    mse = Trainer(tiny_model(head_activation="softmax"),
                  config(epochs=1, loss={"key": "mse"})).fit(tiny_data())
    assert not any("softmax" in n for n in mse.notes)


def test_nan_loss_stops_within_one_step(tmp_path):
    class Poison(Callback):
        def on_batch_end(self, trainer, record):
            if record.step == 5:
                with torch.no_grad():
                    next(trainer.model.parameters()).fill_(float("nan"))

    rec = Recorder()
    result = Trainer(tiny_model(), config(epochs=3), callbacks=[Poison(), rec], report_every=1,
                     checkpoint_dir=tmp_path).fit(tiny_data())
    assert result.status == "failed" and result.failure.kind == "nan"
    assert result.failure.step == 6 and result.steps == 6
    msg = result.failure.message
    assert "epoch 2, step 6" in msg and "learning rate" in msg and "clipping" in msg
    assert rec.of("on_failure") == [result.failure]
    assert result.failure.checkpoint == str(tmp_path / "last")  # epoch 1 stays on disk
    assert (tmp_path / "last" / "model.safetensors").is_file()


def test_stop_request_returns_within_one_batch(tmp_path):
    control = TrainerControl()

    class StopAt(Callback):
        def on_batch_end(self, trainer, record):
            if record.step == 3:
                control.request_stop()

    result = Trainer(tiny_model(), config(epochs=5), control=control, callbacks=[StopAt()],
                     report_every=1, checkpoint_dir=tmp_path).fit(tiny_data())
    assert result.status == "stopped" and result.steps == 3
    assert result.last_checkpoint == str(tmp_path / "last")


def test_simulated_oom_suggests_batch_size(monkeypatch):
    model = tiny_model()
    calls = {"n": 0}
    original = model.forward

    def forward(x):
        calls["n"] += 1
        if calls["n"] == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(x)

    monkeypatch.setattr(model, "forward", forward)
    result = Trainer(model, config(epochs=2, batch_size=24)).fit(tiny_data())
    f = result.failure
    assert result.status == "failed" and f.kind == "oom"
    assert f.suggested_batch_size == 8 and "batch size 8" in f.message
    assert [suggest_batch_size(b) for b in (1, 2, 3, 64, 100, 128)] == [1, 1, 1, 32, 32, 64]


def test_exception_in_loop_gives_failure_record():
    class Boom(Callback):
        def on_batch_end(self, trainer, record):
            raise ValueError("callback exploded")

    rec = Recorder()
    result = Trainer(tiny_model(), config(epochs=1), callbacks=[Boom(), rec], report_every=1).fit(tiny_data())
    assert result.status == "failed" and result.failure.kind == "error"
    assert "callback exploded" in result.failure.message
    assert "Traceback" in result.failure.traceback and "ValueError" in result.failure.traceback
    assert rec.of("on_fit_end")[0] is result


def test_pause_change_lr_resume_keeps_adam_state():
    control = TrainerControl()
    snapshot = {}

    class PauseAt(Callback):
        def on_batch_end(self, trainer, record):
            if record.step == 3:
                control.pause()

    rec = Recorder()
    trainer = Trainer(tiny_model(), config(epochs=2), control=control, callbacks=[PauseAt(), rec],
                      report_every=1)
    thread = threading.Thread(target=lambda: snapshot.setdefault("result", trainer.fit(tiny_data())))
    thread.start()
    assert control.wait_paused(timeout=30)
    opt = trainer.optimizer
    param = next(trainer.model.parameters())
    exp_avg = opt.state[param]["exp_avg"].clone()
    assert float(opt.state[param]["step"]) == 3
    control.set_hyperparameters(lr=0.0123, beta1=0.8)
    # applied in place while paused, before any further step
    deadline = 0
    while opt.param_groups[0]["lr"] != 0.0123 and deadline < 300:
        threading.Event().wait(0.01)
        deadline += 1
    assert opt.param_groups[0]["lr"] == 0.0123 and opt.param_groups[0]["betas"] == (0.8, 0.999)
    assert torch.equal(opt.state[param]["exp_avg"], exp_avg)   # state untouched
    assert opt is trainer.optimizer
    control.resume()
    thread.join(timeout=60)
    result = snapshot["result"]
    assert result.status == "completed" and result.steps == 8
    assert float(opt.state[param]["step"]) == 8                 # continued, not restarted
    batches = rec.of("on_batch_end")
    assert batches[2].lrs == (0.001,) and batches[3].lrs == (0.0123,)
    assert any("learning rate set to 0.0123" in e for b in batches for e in b.events)
    assert result.history[-1].lr == 0.0123


def test_lazy_dataset_path_trains():
    from visionstudio.core.training.feed import TrainData

    mem = tiny_data(n=32, n_val=8)

    class Lazy(torch.utils.data.Dataset):
        def __init__(self, x, y):
            self.x, self.y = x, y

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return self.x[i], int(self.y[i])

    data = TrainData(num_classes=4, train_dataset=Lazy(mem.train_images, mem.train_labels),
                     val_dataset=Lazy(mem.val_images, mem.val_labels), sample_shape=(1, 8, 8))
    rec = Recorder()
    result = Trainer(tiny_model(), config(epochs=1, augmentation="flip"), callbacks=[rec],
                     num_workers=0).fit(data)
    assert result.status == "completed" and result.steps == 2
    assert rec.of("on_fit_start")[0].in_memory is False
    assert result.history[0].val_accuracy is not None
