"""The batch-size finder: power-of-two growth then binary search finds exactly the largest
batch that fits, recovers after out-of-memory, estimates on the CPU against the memory
there is, and leaves the model, the random state and the project as they were."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.training_helpers import one_thread, tiny_data, tiny_graph
from visionstudio.core.build import build_model
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.memory import AvailableMemory, estimate_training_memory
from visionstudio.core.project import ProjectDocument
from visionstudio.core.training import batch_finder
from visionstudio.core.training.batch_finder import (
    ESTIMATE_FACTOR,
    FIXED_OVERHEAD,
    find_batch_size,
    largest_fitting,
    search_batch,
)
from visionstudio.core.training.config import TrainingConfig
from visionstudio.core.training.plan import RunPlan, plan_run

_threads = pytest.fixture(autouse=True)(one_thread)


def _plan(samples: int = 64, **training) -> RunPlan:
    doc = ProjectDocument(
        graph=tiny_graph(classes=4, size=8),
        dataset=DatasetConfig.from_dict({"key": "shapes", "params": {
            "samples": samples, "val_samples": 16, "image_size": 8, "classes": 4}}),
        training=TrainingConfig.from_dict({"batch_size": 1, "device": "cpu", "epochs": 1,
                                           "optimizer": {"key": "adam", "params": {}}, **training}))
    plan = plan_run(doc)
    assert isinstance(plan, RunPlan), plan
    return plan


def _oom_above(limit: int, calls: list[int] | None = None):
    def probe(batch: int) -> int:
        if calls is not None:
            calls.append(batch)
        if batch > limit:
            raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {batch} MiB")
        return batch * 1000
    return probe


@settings(max_examples=40, deadline=None)
@given(limit=st.integers(0, 5000), cap=st.integers(1, 4096))
def test_the_search_finds_exactly_the_largest_fitting_batch(limit, cap):
    calls: list[int] = []
    best, tried, cancelled = largest_fitting(batch_finder.catching_oom(_oom_above(limit, calls)), cap)
    expected = min(limit, cap) or None
    assert best == expected and not cancelled
    assert [b for b, _f, _n in tried] == calls and len(set(calls)) == len(calls)   # no batch twice
    assert all(fits == (b <= limit) for b, fits, _n in tried)
    assert len(calls) <= 2 * cap.bit_length() + 1            # logarithmic, not a linear scan
    assert max(calls) <= cap


def test_growth_is_by_powers_of_two_then_bisects_between_fit_and_failure():
    calls: list[int] = []
    best, tried, _ = largest_fitting(batch_finder.catching_oom(_oom_above(300, calls)), 4096)
    assert best == 300
    assert calls[:10] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert all(256 < b < 512 for b in calls[10:])
    assert tried[-1][0] in (300, 301)


def test_it_recovers_after_out_of_memory_and_frees_after_every_try():
    freed: list[int] = []
    calls: list[int] = []
    fits = batch_finder.catching_oom(_oom_above(5, calls), after=lambda: freed.append(len(calls)))
    best, tried, _ = largest_fitting(fits, 64)
    assert best == 5 and len(freed) == len(calls)           # each try, failed or not, is cleaned up
    assert [f for _b, f, _n in tried] == [True, True, True, False, False, True]   # 1 2 4 8 | 6 5
    assert tried[3][2] is None and tried[-1] == (5, True, 5000)


def test_an_error_other_than_out_of_memory_is_not_swallowed():
    def broken(batch: int) -> int:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    with pytest.raises(RuntimeError, match="shapes"):
        largest_fitting(batch_finder.catching_oom(broken), 8)


def test_nothing_fits_gives_no_batch():
    best, tried, _ = largest_fitting(batch_finder.catching_oom(_oom_above(0)), 128)
    assert best is None and tried == [(1, False, None)]
    # from batch 2 (the real step's start), batch 1 is never tried, even when 2 fails
    best, tried, _ = largest_fitting(batch_finder.catching_oom(_oom_above(1)), 128, start=2)
    assert best is None and tried == [(2, False, None)]
    best, tried, _ = largest_fitting(batch_finder.catching_oom(_oom_above(7)), 128, start=2)
    assert best == 7 and min(b for b, _f, _n in tried) == 2


def test_the_probe_path_is_capped_by_the_training_set_and_leaves_the_model_alone():
    plan = _plan()
    model = build_model(plan.graph, plan.analysis, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    result = search_batch(plan, tiny_data(n=48), model, probe=_oom_above(10_000))
    assert result.ok and result.how == "measured" and result.batch == 48 and result.cap == 48
    assert any("48 images" in n for n in result.notes)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)


def test_the_cpu_estimate_respects_the_memory_there_is(monkeypatch):
    plan = _plan()
    per = estimate_training_memory(plan.analysis, 2, "adam").total - \
        estimate_training_memory(plan.analysis, 1, "adam").total
    base = estimate_training_memory(plan.analysis, 1, "adam").total - per
    room = int(FIXED_OVERHEAD + ESTIMATE_FACTOR * (base + 37 * per) + 1)   # 37 fit, 38 do not
    monkeypatch.setattr(batch_finder, "available_memory",
                        lambda device=None: AvailableMemory(room, "this machine", "test"))
    result = search_batch(plan, tiny_data(n=512), build_model(plan.graph, plan.analysis, seed=0))
    assert result.ok and result.how == "estimated" and result.batch == 37 and result.available == room
    assert all(n == estimate_training_memory(plan.analysis, b, "adam").total for b, _f, n in result.tried)
    # less room than one sample needs: no batch; nothing measurable: no suggestion, said so
    monkeypatch.setattr(batch_finder, "available_memory",
                        lambda device=None: AvailableMemory(FIXED_OVERHEAD, "this machine", "test"))
    assert search_batch(plan, tiny_data(n=64), None).batch is None
    monkeypatch.setattr(batch_finder, "available_memory", lambda device=None: None)
    unknown = search_batch(plan, tiny_data(n=64), None)
    assert unknown.batch is None and "could not be measured" in unknown.notes[-1]


def test_find_batch_size_goes_through_the_plan_and_cancels(monkeypatch):
    plan = _plan(samples=96)
    result = find_batch_size(plan, max_batch=40, probe=_oom_above(25))
    assert result.ok and result.batch == 25 and result.cap == 40
    data = result.to_dict()
    assert data["format"] == "visionstudio.batch_find" and data["tried"][0] == {
        "batch": 1, "fits": True, "bytes": 1000}

    class Stopped:
        stop_requested = False
    control = Stopped()
    seen: list[int] = []

    def progress(batch, fits, used):
        seen.append(batch)
        control.stop_requested = batch >= 4
    stopped = search_batch(plan, tiny_data(n=64), None, probe=_oom_above(50), control=control,
                           progress=progress)
    assert stopped.cancelled and stopped.batch == 4 and seen == [1, 2, 4]


def test_a_real_cpu_estimate_on_this_machine_is_a_positive_batch():
    result = find_batch_size(_plan(), max_batch=4096)
    assert result.ok and result.how == "estimated" and result.batch == 64   # all of the training set


def test_the_real_step_probe_trains_a_run_like_copy_and_recovers(monkeypatch):
    # the CUDA path on the CPU: torch.cuda's peak statistics faked, out of memory raised by
    # the network itself above 12 samples; every try before and after a failure is a real step
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 4242)
    plan = _plan()
    model = build_model(plan.graph, plan.analysis, seed=0)
    seen: list[int] = []

    def too_big(_module, args):
        seen.append(int(args[0].shape[0]))
        if args[0].shape[0] == 1:
            raise ValueError("Expected more than 1 value per channel when training")
        if args[0].shape[0] > 12:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    model.register_forward_pre_hook(too_big)
    first = next(model.parameters()).detach().clone()
    result = batch_finder._measured(plan, tiny_data(n=64), model, 64, [], None, None, None)
    assert result.ok and result.how == "measured" and result.batch == 12
    assert [(b, f) for b, f, _n in result.tried] == [(2, True), (4, True), (8, True),
                                                     (16, False), (12, True), (14, False), (13, False)]
    assert all(n == 4242 for _b, f, n in result.tried if f) and seen == [b for b, _f, _n in result.tried]
    assert not torch.equal(first, next(model.parameters()))   # real optimizer steps were taken
    assert all(p.grad is None for p in model.parameters())    # and their gradients freed
