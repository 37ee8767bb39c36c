"""Pretrained torchvision weights: the catalogue (offline metadata), loading from torch's
hub-cache layout (a file the test writes there), refusals of files that do not fit or hold
objects, the download loop with a local fake opener, and the preprocessing carried by the
project. Nothing touches the network."""

from __future__ import annotations

import hashlib
import io
import pickle
import urllib.error

import pytest
import torch
import torchvision

from visionstudio.core.build import build_model
from visionstudio.core.data.config import DatasetConfig
from visionstudio.core.data.preprocessing import Preprocessing
from visionstudio.core.data.registry import load_dataset
from visionstudio.core.graph import analyze
from visionstudio.core.importers import ImportProblem, hub_download, import_model
from visionstudio.core.importers.hub_download import DownloadCancelled, DownloadProblem, download
from visionstudio.core.importers.pretrained import FEATURED, find_weights, import_pretrained, read_state
from visionstudio.core.params import ConfigError
from visionstudio.core.project import ProjectDocument
from visionstudio.core.project.commands import SetDatasetSettings
from visionstudio.core.project.document import document_from_dict

ARCH = "squeezenet1_1"


@pytest.fixture(autouse=True)
def hub(tmp_path, monkeypatch):
    """torch's hub cache in a temporary folder; one thread per forward."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path / "hub"
    torch.set_num_threads(before)


def trained_state(arch: str = ARCH) -> dict[str, torch.Tensor]:
    """A state dict unlike a fresh model's, so equal outputs prove the file was loaded."""
    torch.manual_seed(1)
    state = torchvision.models.get_model(arch, weights=None).state_dict()
    state = {k: (v + 0.01 * torch.randn_like(v)) if v.is_floating_point() else v for k, v in state.items()}
    return {k: v.abs() + 0.5 if k.endswith("running_var") else v for k, v in state.items()}


def place(state, arch: str = ARCH):
    entry = find_weights(arch)
    entry.path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, entry.path)
    return entry


def test_catalogue_reads_torchvisions_metadata(hub):
    entry = find_weights("resnet18")
    assert (entry.name, entry.title) == ("IMAGENET1K_V1", "ResNet18_Weights.IMAGENET1K_V1")
    assert (entry.num_params, entry.acc1, entry.classes) == (11_689_512, 69.758, 1000)
    assert entry.file_mb == pytest.approx(44.661)
    assert entry.path == hub / "checkpoints" / "resnet18-f37072fd.pth" and not entry.is_downloaded()
    pre = entry.preprocessing
    assert (pre.resize, pre.crop) == (256, 224)
    assert (pre.mean, pre.std) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert pre.describe() == ("Preprocessing from ResNet18_Weights.IMAGENET1K_V1: resize 256, "
                              "centre crop 224, mean 0.485/0.456/0.406, std 0.229/0.224/0.225 (bilinear)")
    assert find_weights("efficientnet_b0").preprocessing.interpolation == "bicubic"
    assert find_weights("resnet50").name == "IMAGENET1K_V2"          # torchvision's DEFAULT
    assert all(find_weights(a).acc1 for a in FEATURED)
    with pytest.raises(ImportProblem, match="IMAGENET1K_V1, IMAGENET1K_V2"):
        find_weights("resnet50", "IMAGENET9K")


def imported_and_original(arch: str):
    state = trained_state(arch)
    entry = place(state, arch)
    result = import_pretrained(arch)
    original = torchvision.models.get_model(arch, weights=None)
    original.load_state_dict(state)
    graph = result.document.graph
    imported = build_model(graph, analyze(graph))
    imported.load_state_dict(result.weights)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = original.eval()(x)
        got = imported.eval()(x)          # the imported network ends in its Dense scores, no softmax
    assert (got - expected).abs().max().item() <= 1e-5
    return entry, result


def test_batch_norm_statistics_come_from_the_file_too():
    imported_and_original("resnet18")


def test_imported_project_computes_what_torchvision_computes_with_the_weights():
    entry, result = imported_and_original(ARCH)
    # the preprocessing travels with the project, through a save and a load
    assert result.document.dataset.preprocessing == entry.preprocessing
    assert entry.preprocessing.describe() + "." in result.notes
    again = document_from_dict(result.document.to_dict())
    assert again.dataset.preprocessing == entry.preprocessing
    # the same through import_model: the file is there, nothing is downloaded
    by_name = import_model(f"torchvision:{ARCH}@IMAGENET1K_V1")
    assert all(torch.equal(by_name.weights[k], result.weights[k]) for k in result.weights)


def test_a_tensor_of_the_wrong_shape_is_refused_by_name():
    state = trained_state()
    state["classifier.1.weight"] = torch.zeros(10, 512, 1, 1)
    del state["features.0.bias"]
    state["extra.weight"] = torch.zeros(3)
    place(state)
    with pytest.raises(ImportProblem) as info:
        import_pretrained(ARCH)
    message = str(info.value)
    assert "classifier.1.weight has shape (10, 512, 1, 1), the network needs (1000, 512, 1, 1)" in message
    assert "features.0.bias is missing" in message and "extra.weight is not part of the network" in message


class Planted:
    """An object a weights file must never bring to life."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_file_holding_objects_is_not_unpickled(hub, tmp_path):
    marker = tmp_path / "ran"
    entry = find_weights(ARCH)
    entry.path.parent.mkdir(parents=True)
    with open(entry.path, "wb") as f:
        pickle.dump({"features.0.weight": Planted(str(marker))}, f, protocol=2)
    with pytest.raises(ImportProblem, match="is not a file of weights alone"):
        import_pretrained(ARCH)
    assert not marker.exists()
    torch.save({"features.0.weight": torch.zeros(1), "epoch": 3}, entry.path)   # allowed by weights_only
    with pytest.raises(ImportProblem, match="not tensors: epoch"):
        read_state(entry.path)


def test_offline_the_message_names_the_file_and_the_folder(hub, monkeypatch):
    entry = find_weights(ARCH)
    with pytest.raises(ImportProblem) as info:
        import_pretrained(ARCH)
    for part in (entry.url, "squeezenet1_1-b8a52dc0.pth", str(hub / "checkpoints")):
        assert part in str(info.value)

    def offline(url, timeout):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(hub_download, "urlopen", offline)
    with pytest.raises(DownloadProblem) as info:
        import_pretrained(ARCH, fetch=True)
    assert "name resolution" in str(info.value) and str(hub / "checkpoints") in str(info.value)
    assert list((hub / "checkpoints").iterdir()) == []


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def serve(monkeypatch, data: bytes) -> list[str]:
    opened: list[str] = []

    def opener(url, timeout):
        opened.append(url)
        return FakeResponse(data)

    monkeypatch.setattr(hub_download, "urlopen", opener)
    monkeypatch.setattr(hub_download, "CHUNK", 1000)
    return opened


def test_download_streams_checks_the_hash_and_renames(hub, monkeypatch):
    data = bytes(range(256)) * 20
    prefix = hashlib.sha256(data).hexdigest()[:8]
    url = f"https://download.invalid/models/tiny-{prefix}.pth"
    opened = serve(monkeypatch, data)
    calls: list[tuple[int, int]] = []
    path = download(url, progress=lambda done, total: calls.append((done, total)))
    assert path == hub / "checkpoints" / f"tiny-{prefix}.pth" and path.read_bytes() == data
    assert calls[0] == (0, 5120) and calls[-1] == (5120, 5120) and len(calls) == 7
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert download(url) == path and len(opened) == 1            # cached: not fetched again


def test_cancel_and_a_wrong_hash_leave_no_file(hub, monkeypatch):
    data = b"x" * 5000
    serve(monkeypatch, data)
    prefix = hashlib.sha256(data).hexdigest()[:8]
    seen: list[int] = []
    with pytest.raises(DownloadCancelled):
        download(f"https://download.invalid/m/tiny-{prefix}.pth", progress=lambda d, t: seen.append(d),
                 cancel=lambda: len(seen) > 2)
    assert list((hub / "checkpoints").iterdir()) == []
    with pytest.raises(DownloadProblem, match="damaged: its SHA-256 starts with"):
        download("https://download.invalid/m/tiny-00000000.pth")
    assert list((hub / "checkpoints").iterdir()) == []


def test_preprocessing_section_is_strict_kept_and_applied():
    pre = find_weights("resnet18").preprocessing
    good = pre.to_dict()
    assert Preprocessing.from_dict(good) == pre
    for change, path in (({"mean": [0.5, "x", 0.5]}, "mean"), ({"std": [0.2, 0.0, 0.2]}, "std"),
                         ({"std": [0.2]}, "std"), ({"crop": 10**6}, "crop"), ({"resize": True}, "resize"),
                         ({"interpolation": "lanczos"}, "interpolation"), ({"code": 1}, "code")):
        with pytest.raises(ConfigError) as info:
            Preprocessing.from_dict({**good, **change})
        assert info.value.path == f"dataset.preprocessing.{path}"
    config = DatasetConfig("shapes", {"channels": 3, "samples": 20, "val_samples": 10, "image_size": 8},
                           preprocessing=pre)
    doc = ProjectDocument()
    doc.set_dataset(config)
    SetDatasetSettings("shapes", {**config.params, "samples": 30}).do(doc)
    assert doc.dataset.preprocessing == pre and doc.dataset.params["samples"] == 30
    loaded = load_dataset(doc.dataset)
    assert (loaded.mean, loaded.std) == (pre.mean, pre.std)
    assert pre.describe() + "." in loaded.report
    grey = load_dataset(DatasetConfig("shapes", {"samples": 20, "val_samples": 10, "image_size": 8},
                                      preprocessing=pre))
    assert grey.mean != pre.mean and "expects 3-channel images" in grey.report[-1]
