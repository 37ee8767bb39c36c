"""The memory estimate (static analysis, no allocation), the free-memory probe, and the
refusals it drives: a crafted Dense 1,000,000→10,000 network is refused by
run_training with one sentence and is never built."""

from __future__ import annotations

import sys

import pytest

from tests.core.memory_projects import GIB, MACHINE_24_GIB, forbid_building, huge_dense_document
from visionstudio.core import memory
from visionstudio.core.graph import analyze
from visionstudio.core.memory import (
    AvailableMemory,
    estimate_inference_memory,
    estimate_training_memory,
    human_bytes,
    memory_problem,
)
from visionstudio.core.summary import render_text, summarize
from visionstudio.core.templates import load_template
from visionstudio.core.training.device import TrainingSetupError
from visionstudio.core.training.run import run_training

# classic CNN: 1×28×28, 32×26×26, 32×13×13, 64×11×11, 64×5×5, 1600, 64, 10 elements
CLASSIC_ELEMENTS = 784 + 21_632 + 5_408 + 7_744 + 1_600 + 1_600 + 64 + 10
CLASSIC_PARAMS = 121_930


@pytest.fixture
def classic():
    doc = load_template("classic_cnn")
    return doc, analyze(doc.graph)


def test_estimate_counts_weights_gradients_optimizer_state_and_activations(classic):
    doc, analysis = classic
    e = estimate_training_memory(analysis, 64, doc.training.optimizer)
    assert (e.weights, e.gradients, e.optimizer_state) == (4 * CLASSIC_PARAMS, 4 * CLASSIC_PARAMS,
                                                           8 * CLASSIC_PARAMS)
    assert e.activations == CLASSIC_ELEMENTS * 64 * 4 * 2     # kept for backward, ×2
    assert e.total == e.weights + e.gradients + e.optimizer_state + e.activations
    assert e.describe() == "Memory for training (batch 64, adam): about 21 MiB"
    # the optimizer's own state: none for SGD, one buffer with momentum, three for AMSGrad
    assert estimate_training_memory(analysis, 64, "sgd").optimizer_state == 0
    assert estimate_training_memory(analysis, 64, "sgd_momentum").optimizer_state == 4 * CLASSIC_PARAMS
    amsgrad = {"key": "adam", "params": {"amsgrad": True}}
    assert estimate_training_memory(analysis, 64, amsgrad).optimizer_state == 12 * CLASSIC_PARAMS
    # half-precision activations; inference keeps one copy of each output and no gradients
    assert estimate_training_memory(analysis, 64, "adam", "bf16").activations == e.activations // 2
    inference = estimate_inference_memory(analysis)
    assert (inference.gradients, inference.activations) == (0, CLASSIC_ELEMENTS * 4)
    assert estimate_training_memory(analysis, 128, "adam").activations == 2 * e.activations


def test_refusal_sentence_says_what_is_needed_what_there_is_and_what_to_change():
    e = memory.MemoryEstimate("training", 64, "adam", "fp32", GIB, GIB, 2 * GIB, 208 * GIB)
    assert memory_problem(e, MACHINE_24_GIB) == (
        "needs about 212 GiB for batch 64; this machine has 24 GiB free: lower the batch size or "
        "the input size")
    assert memory_problem(e, AvailableMemory(213 * GIB, "this machine", "test")) is None
    assert memory_problem(e, None) is None                  # unknown: nothing is refused
    assert human_bytes(1536) == "1.5 KiB" and human_bytes(512) == "512 bytes"


def test_huge_dense_network_is_refused_by_run_training_and_never_built(monkeypatch, tmp_path):
    calls = forbid_building(monkeypatch)
    monkeypatch.setattr(memory, "host_available", lambda: MACHINE_24_GIB)
    with pytest.raises(TrainingSetupError) as info:
        run_training(huge_dense_document(), out_dir=tmp_path / "out", download=False)
    assert str(info.value) == (
        "the network needs about 150 GiB for batch 64; this machine has 24 GiB free: use fewer "
        "units or channels, or a smaller input (the weights alone are about 37 GiB)")
    assert calls == [] and not (tmp_path / "out").exists()


def test_run_training_checks_the_dataset_fits_before_building(monkeypatch, tmp_path):
    from visionstudio.core.graph.commands import SetParam

    calls = forbid_building(monkeypatch)
    doc = load_template("classic_cnn")
    dense = doc.graph.node_by_name("dense2")
    SetParam(dense.id, "units", 7).do(doc)
    doc.set_dataset(type(doc.dataset).from_dict({"key": "shapes", "params": {"samples": 40,
                                                                           "val_samples": 10}}))
    with pytest.raises(TrainingSetupError, match="does not fit the dataset"):
        run_training(doc, overrides={"device": "cpu", "epochs": 1}, download=False)
    assert calls == []


def test_summary_shows_the_estimate(classic):
    doc, analysis = classic
    summary = summarize(doc.graph, doc.name, training=doc.training)
    assert summary.memory.total == estimate_training_memory(analysis, 64, "adam").total
    assert summary.to_dict()["memory"]["training"]["total_bytes"] == summary.memory.total
    assert "Memory for training (batch 64, adam): about 21 MiB (weights 476 KiB" in render_text(summary)
    assert summarize(doc.graph, doc.name).to_dict()["memory"] is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/meminfo and cgroups are Linux's")
def test_probe_reads_memavailable_then_total_and_a_cgroup_limit(monkeypatch, tmp_path):
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       32000000 kB\nMemFree:  1000 kB\nMemAvailable:   24000000 kB\n")
    monkeypatch.setattr(memory, "MEMINFO", str(info))
    missing = (str(tmp_path / "no-max"), str(tmp_path / "no-current"))
    monkeypatch.setattr(memory, "CGROUP_V2", missing)
    monkeypatch.setattr(memory, "CGROUP_V1", missing)
    found = memory.host_available()
    assert (found.bytes, found.source) == (24_000_000 * 1024, "MemAvailable")
    info.write_text("MemTotal:       10000000 kB\n")              # an old kernel: 80% of the total
    assert memory.host_available().bytes == 8_000_000 * 1024
    limit, used = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text(f"{4 * GIB}\n")
    used.write_text(f"{GIB}\n")
    monkeypatch.setattr(memory, "CGROUP_V2", (str(limit), str(used)))
    assert memory.host_available().bytes == 3 * GIB               # the container's limit is lower
    limit.write_text("max\n")
    assert memory.host_available().source == "80% of MemTotal"


def test_cuda_is_asked_only_when_the_device_is_cuda(monkeypatch):
    import torch

    asked = []

    def mem_get_info(index):
        asked.append(index)
        return 5 * GIB, 80 * GIB

    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(memory, "host_available", lambda: MACHINE_24_GIB)
    assert memory.available_memory("cpu") is MACHINE_24_GIB and asked == []
    gpu = memory.available_memory("cuda:1")
    assert asked == [1] and (gpu.bytes, gpu.where) == (5 * GIB, "the GPU (cuda:1)")


@pytest.mark.parametrize("fmt", ["pytorch", "script", "onnx", "torchscript"])
def test_export_of_a_network_too_big_for_memory_is_refused_and_never_built(monkeypatch, tmp_path, fmt):
    import visionstudio.core.build as build
    import visionstudio.core.export.weights as export_weights
    from visionstudio.core.export import ExportError, export_project

    calls = forbid_building(monkeypatch)
    monkeypatch.setattr(export_weights, "build_model", build.build_model)   # its own import of it
    monkeypatch.setattr(memory, "host_available", lambda: MACHINE_24_GIB)
    with pytest.raises(ExportError, match=r"needs about .* GiB to export .* 24 GiB free"):
        export_project(huge_dense_document(), fmt, tmp_path / "out")
    assert calls == []
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
