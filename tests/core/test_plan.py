"""plan_run checks a run once and allocates nothing; execute trains it and turns every
problem a user can cause into a RunResult (never an exception)."""

from __future__ import annotations

import pytest

from tests.core.memory_projects import MACHINE_24_GIB, forbid_building, huge_dense_document
from tests.core.training_helpers import one_thread
from visionstudio.core import memory
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.graph.commands import SetParam
from visionstudio.core.templates import load_template
from visionstudio.core.training import plan_checks as plan_module  # where the fit checks live
from visionstudio.core.training.control import TrainerControl
from visionstudio.core.training.plan import (
    PlanProblems,
    RunPlan,
    RunResult,
    epochs_to_train,
    execute,
    plan_run,
)

_threads = pytest.fixture(autouse=True)(one_thread)
SMALL = {"device": "cpu", "epochs": 1, "batch_size": 50}


def small_doc(**dataset):
    doc = load_template("classic_cnn")
    doc.set_dataset(DatasetConfig.from_dict({"key": "shapes", "params": {
        "samples": 100, "val_samples": 50, **dataset}}))
    return doc


def count_checks(monkeypatch) -> list:
    calls: list = []
    real = plan_module.check_compatibility

    def counting(*args, **kwargs):
        calls.append(type(args[0]).__name__)
        return real(*args, **kwargs)

    monkeypatch.setattr(plan_module, "check_compatibility", counting)
    return calls


def test_plan_is_plain_checked_data_and_builds_nothing(monkeypatch):
    calls = forbid_building(monkeypatch)
    doc = small_doc()
    plan = plan_run(doc, SMALL)
    assert isinstance(plan, RunPlan), plan
    assert (plan.device, plan.precision, plan.config.epochs) == ("cpu", "fp32", 1)
    assert plan.graph is not doc.graph and plan.analysis.ok and plan.dataset_checked
    assert (plan.input_shape, plan.output_shape) == ((1, 28, 28), (10,))
    assert (plan.input_name, plan.output_name) == ("input", "dense2")
    assert plan.memory.total > 0 and plan.resume is None and calls == []


@pytest.mark.parametrize("change, words", [
    ({"overrides": {"batch_size": 0}}, "Invalid setting"),
    ({"overrides": {"device": "warp9"}}, "Invalid setting training.device: unknown device"),
    ({"dataset": {"channels": 3}}, "The network does not fit the dataset:\n- Shapes gives 3×28×28"),
    ({"units": 7}, "The network does not fit the dataset:\n- Shapes has 10 classes"),
    ({"key": "imagenet"}, "Unknown dataset 'imagenet'"),
])
def test_problems_are_sentences_found_before_anything_is_built(monkeypatch, change, words):
    calls = forbid_building(monkeypatch)
    doc = small_doc(**change.get("dataset", {}))
    if "units" in change:
        SetParam(doc.graph.node_by_name("dense2").id, "units", change["units"]).do(doc)
    if "key" in change:
        doc.dataset = DatasetConfig(change["key"], {})
    problems = plan_run(doc, {**SMALL, **change.get("overrides", {})})
    assert isinstance(problems, PlanProblems)
    assert problems.message.startswith(words), problems.message
    assert problems.message == "\n".join(problems.problems) and calls == []


def test_memory_refusal_comes_from_the_plan(monkeypatch):
    monkeypatch.setattr(memory, "host_available", lambda: MACHINE_24_GIB)
    problems = plan_run(huge_dense_document(), {"device": "cpu"})
    assert isinstance(problems, PlanProblems)
    assert problems.message.startswith("The network needs about 150 GiB for batch 64")


def test_a_described_dataset_is_checked_once_in_the_plan(monkeypatch, tmp_path):
    calls = count_checks(monkeypatch)
    plan = plan_run(small_doc(), SMALL)
    result = execute(plan, run_dir=tmp_path / "run")
    assert result.status == "completed" and result.fit.epochs_completed == 1
    assert calls == ["DatasetInfo"]
    assert (tmp_path / "run" / "metrics.csv").is_file() and (tmp_path / "run" / "run.json").is_file()


def test_an_image_folder_is_checked_once_after_loading(monkeypatch, tmp_path):
    import numpy as np
    from PIL import Image

    for k, name in enumerate(("cats", "dogs")):
        (tmp_path / "data" / name).mkdir(parents=True)
        for i in range(6):
            pixels = np.full((12, 12, 3), 40 + 150 * k + i, dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / "data" / name / f"{i}.png")
    doc = small_doc()
    doc.dataset = DatasetConfig("image_folder", {"folder": str(tmp_path / "data")})
    calls = count_checks(monkeypatch)
    plan = plan_run(doc, SMALL)
    assert isinstance(plan, RunPlan) and not plan.dataset_checked and calls == []
    result = execute(plan)
    assert result.status == "failed" and result.fit is None and calls == ["LoadedDataset"]
    assert result.failure.kind == "dataset"
    assert "2 classes, the last layer dense2 has 10 units" in result.failure.message


def test_execute_reports_dataset_errors_and_cancelling_without_raising(tmp_path):
    doc = small_doc()
    doc.dataset = DatasetConfig("image_folder", {"folder": str(tmp_path / "missing")})
    result = execute(plan_run(doc, SMALL))
    assert isinstance(result, RunResult) and result.status == "failed" and not result.ok
    assert result.failure.kind == "dataset" and "missing" in result.failure.message
    control = TrainerControl()
    control.request_stop()
    stopped = execute(plan_run(small_doc(), SMALL), control=control)
    assert (stopped.status, stopped.fit, stopped.failure) == ("stopped", None, None)


def test_a_build_out_of_memory_is_a_failure_record(monkeypatch):
    import visionstudio.core.build as build

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(build, "build_model", exhausted)
    result = execute(plan_run(small_doc(), SMALL))
    assert result.status == "failed" and result.failure.kind == "setup"
    assert result.failure.message.startswith("The network cannot be built: out of memory")


def test_epochs_to_train_for_a_continued_run():
    assert epochs_to_train(planned=5, done=2, extra_epochs=None) == 5     # finish the plan
    assert epochs_to_train(planned=5, done=5, extra_epochs=None) == 10    # as many again
    assert epochs_to_train(planned=5, done=5, extra_epochs=3) == 8
    assert epochs_to_train(planned=5, done=5, extra_epochs=0) == 6        # at least one more


def test_continue_from_a_run_resumes_its_checkpoint(tmp_path):
    doc = small_doc()
    root = tmp_path / "runs"
    first = execute(plan_run(doc, SMALL), run_dir=root / "r1")
    assert first.status == "completed"
    entry = {"id": "r1", "name": "Run 1", "settings": {"training": doc.training.replace(**SMALL).to_dict(),
                                                        "dataset": doc.dataset.to_dict()}}
    doc.set_runs([entry])
    plan = plan_run(doc, continue_from="r1", runs_root=root, extra_epochs=1)
    assert isinstance(plan, RunPlan), plan
    assert plan.config.epochs == 2 and plan.resume_step == first.fit.steps
    assert plan.run_folder == root / "r1" and plan.resume == str(root / "r1" / "checkpoints" / "last")
    second = execute(plan)
    assert second.status == "completed" and second.fit.epochs_completed == 2
    assert plan_run(doc, continue_from="gone", runs_root=root).message == (
        "That run is no longer in the project.")
    (root / "r1" / "checkpoints" / "last" / "checkpoint.json").unlink()
    problem = plan_run(doc, continue_from=entry, runs_root=root)
    assert isinstance(problem, PlanProblems) and problem.message.startswith("Run Run 1 cannot be continued")
    assert "checkpoint.json" in problem.message


def test_a_damaged_checkpoint_is_a_setup_failure_not_an_exception(tmp_path):
    first = execute(plan_run(small_doc(), SMALL), run_dir=tmp_path / "run")
    ckpt = tmp_path / "run" / "checkpoints" / "last"
    weights = ckpt / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)   # same size, other bytes
    plan = plan_run(small_doc(), {**SMALL, "epochs": 2}, resume=ckpt)
    assert first.ok and isinstance(plan, RunPlan) and plan.resume_step == first.fit.steps
    result = execute(plan, run_dir=tmp_path / "run")
    assert result.status == "failed" and result.fit is None and result.failure.kind == "setup"
    assert "model.safetensors" in result.failure.message
    missing = plan_run(small_doc(), SMALL, resume=tmp_path / "nowhere")
    assert isinstance(missing, PlanProblems) and "no such checkpoint directory" in missing.message


def test_a_caller_with_its_own_history_leaves_metrics_csv_to_it(tmp_path):
    """The app's RunHistory writes the run's metrics.csv; execute must not write it too
    (two writers of one file, on two threads), but run.json still names the file."""
    import json

    folder = tmp_path / "run"
    result = execute(plan_run(small_doc(), SMALL), run_dir=folder, metrics_csv=False)
    assert result.status == "completed", result.failure
    assert not (folder / "metrics.csv").exists()
    summary = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert summary["metrics_csv"] == str(folder / "metrics.csv")
    own = execute(plan_run(small_doc(), SMALL), run_dir=tmp_path / "cli")
    assert own.status == "completed" and (tmp_path / "cli" / "metrics.csv").is_file()


def test_dataset_overrides_keep_the_pretrained_preprocessing():
    """A sweep or the CLI changing one dataset setting must not drop the preprocessing a
    pretrained network's weights expect."""
    from visionstudio.core.data.preprocessing import Preprocessing

    doc = small_doc()
    pre = Preprocessing("ResNet18_Weights.IMAGENET1K_V1", 256, 224, (0.485, 0.456, 0.406),
                        (0.229, 0.224, 0.225))
    doc.set_dataset(DatasetConfig.from_dict({**doc.dataset.to_dict(), "preprocessing": pre.to_dict()}))
    plan = plan_run(doc, SMALL, dataset_overrides={"samples": 60})
    assert isinstance(plan, RunPlan), plan
    assert plan.dataset.params["samples"] == 60 and plan.dataset.preprocessing == pre
