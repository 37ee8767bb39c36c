"""PyTorch import: torchvision architectures (weights=None, nothing downloaded), the user's
own module (only when trusted), the app's own model.py round trip, and refusals that
list every operation at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from visionstudio.cli import main as cli_main
from visionstudio.core.build import build_model
from visionstudio.core.graph import analyze
from visionstudio.core.importers import ImportProblem, import_model
from visionstudio.core.importers.torch_fx import import_module
from visionstudio.core.importers.torch_sources import TESTED, import_python

from .export_graphs import every_kind_project

SIZE = {"alexnet": 64, "googlenet": 64, "squeezenet1_1": 64}


@pytest.fixture(autouse=True)
def one_thread():
    """One thread per forward (faster on a busy machine), put back afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def built(result) -> nn.Module:
    graph = result.document.graph
    with torch.device("meta"):
        model = build_model(graph, analyze(graph))
    model.load_state_dict(result.weights, assign=True)    # strict: every key, nothing more
    return model.eval()


def scores(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def flat_count(graph) -> int:
    """Layers as the network computes them: instances counted by what is inside."""
    total = 0
    for node in graph.nodes.values():
        if node.kind == "block":
            inner = graph.blocks.get(node.params["block"]).graph
            total += flat_count(inner) - 2      # its block_input and block_output
        else:
            total += 1
    return total


SLOW = {"vgg11_bn", "vgg16", "resnet50", "googlenet"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in TESTED])
def test_torchvision_architecture_imports_with_equal_outputs(name):
    torch.manual_seed(0)
    kwargs = {"init_weights": False} if name == "googlenet" else {}
    original = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    size = SIZE.get(name, 32)
    result = import_module(original, (3, size, size), f"torchvision:{name}", name)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        expected = original(x)
    got = scores(built(result), x)
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() <= 1e-6
    if name == "resnet50":
        resnet_blocks(result)


def resnet_blocks(result) -> None:
    """Bottlenecks are definitions; instances expose what differs (channels, stride)."""
    graph = result.document.graph
    assert sorted(graph.blocks.keys()) == ["bottleneck", "bottleneck_2"]   # plain, with a projection
    instances = [n for n in graph.nodes.values() if n.kind == "block"]
    assert len(instances) == 16
    assert flat_count(graph) == 176       # input, 53 convs, 53 BNs, 49 ReLUs, 16 adds, 2 pools, flatten, fc
    plain = graph.blocks.get("bottleneck")
    assert {e.param for e in plain.exposed} >= {"out_channels"}
    layer4 = next(n for n in instances if n.name == "layer4_1")
    assert {k for k in layer4.params if k != "block"} <= {s.name for s in plain.param_specs()}
    assert "layer4_1.conv3.weight" in result.weights


def test_cli_imports_by_name_and_the_project_opens_with_its_weights(tmp_path):
    from safetensors.torch import load_file

    from visionstudio.core.project import load_project

    project = tmp_path / "squeeze.vsproj"
    assert cli_main(["import", "torchvision:squeezenet1_1", "-o", str(project)]) == 0
    doc = load_project(project)
    assert doc.graph.nodes[next(iter(doc.graph.nodes))].params["height"] == 224
    assert list(doc.graph.blocks.keys()) == ["fire"]
    model = build_model(doc.graph, analyze(doc.graph))
    model.load_state_dict(load_file(tmp_path / "squeeze.weights.safetensors"))    # strict
    with pytest.raises(ImportProblem, match="no classification model named 'resnet19'.*resnet18"):
        import_model("torchvision:resnet19")


def test_convnext_is_refused_with_every_operation_and_where():
    with torch.device("meta"):            # a refusal needs the structure, not the values
        model = torchvision.models.convnext_tiny(weights=None)
    with pytest.raises(ImportProblem) as caught:
        import_module(model, (3, 32, 32), "torchvision:convnext_tiny", "convnext")
    problems = caught.value.problems
    text = str(caught.value)
    assert text.startswith("torchvision:convnext_tiny: ") and "Nothing was imported." in text
    assert any(p.startswith("torch.permute at features.1.0.block.1") for p in problems)
    assert any("layer_scale at features.1.0" in p for p in problems)
    assert any(p.startswith("LayerNorm at features.3.2.block.2") for p in problems)
    assert model.training       # its mode is given back


class Gate(nn.Module):
    """SE-style: a broadcasting multiply with the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc(F.adaptive_avg_pool2d(x, 1)))


class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(3, 8, 5, padding=2, bias=False)
        self.gate1, self.gate2 = Gate(16), Gate(16)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(16 * 4 * 4, 5)

    def forward(self, x):
        y = torch.cat([F.relu(self.a(x)), F.hardswish(self.b(x))], 1)
        y = self.gate2(self.gate1(y)) + y
        y = F.max_pool2d(y, 2)
        y = F.silu(y.mean((2, 3), keepdim=True)) * y
        y = y.view(y.size(0), -1)
        return self.fc(self.drop(y))


def test_functional_operations_and_a_shared_gate_block():
    torch.manual_seed(1)
    model = Functional().eval()
    result = import_module(model, (3, 8, 8), "net.py:Functional", "f")
    graph = result.document.graph
    assert list(graph.blocks.keys()) == ["gate"]
    kinds = sorted(n.kind for n in graph.nodes.values())
    assert {"concat", "hardswish", "multiply", "add", "maxpool2d", "adaptive_avgpool2d", "flatten",
            "dropout", "dense", "block"} <= set(kinds)
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        expected = model(x)
    assert torch.equal(scores(built(result), x), expected)


class Unsupported(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.rnn = nn.LSTM(4, 4)

    def forward(self, x):
        y = self.conv(x) ** 2
        y = torch.sort(y, dim=1).values
        return y.permute(0, 2, 3, 1)


def test_every_unsupported_operation_is_listed():
    with pytest.raises(ImportProblem) as caught:
        import_module(Unsupported(), (3, 8, 8), "odd.py:Unsupported", "odd")
    problems = caught.value.problems
    assert problems[0].startswith("pow at Unsupported (pow")
    assert any(p.startswith("torch.sort at") for p in problems)
    assert any(p.startswith("Tensor.permute at") for p in problems)


MARKER_MODULE = """
from pathlib import Path
Path({marker!r}).write_text("ran")
import torch
from torch import nn

INPUT_SHAPE = (1, 8, 8)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.fc = nn.Linear(72, 3)

    def forward(self, x):
        return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))
"""


def test_a_python_file_runs_only_when_trusted(tmp_path):
    marker = tmp_path / "ran.txt"
    module = tmp_path / "net.py"
    module.write_text(MARKER_MODULE.format(marker=str(marker)))
    with pytest.raises(ImportProblem, match=r"net\.py: importing a Python file runs its code; it was not"):
        import_model(f"{module}:Net")
    assert not marker.exists()
    assert cli_main(["import", f"{module}:Net", "-o", str(tmp_path / "p.vsproj")]) == 2
    assert not marker.exists() and not (tmp_path / "p.vsproj").exists()
    assert cli_main(["import", f"{module}:Net", "--trust-code", "-o", str(tmp_path / "p.vsproj")]) == 0
    assert marker.exists()
    data = json.loads((tmp_path / "p.vsproj").read_text())
    assert [n["kind"] for n in data["graph"]["nodes"]] == ["input", "conv2d", "relu", "flatten", "dense"]
    assert (tmp_path / "p.weights.safetensors").is_file()


def export_and_import(doc, tmp_path: Path, class_hint: bool = True):
    from visionstudio.core.export.pytorch_code import model_source

    generated = model_source(doc)
    path = tmp_path / "model.py"
    path.write_text(generated.source)
    source = f"{path}:{generated.class_name}" if class_hint else str(path)
    return generated, import_python(source, trust_code=True)


@pytest.mark.parametrize("template", ["mobilenet_se", "small_resnet", "classic_cnn"])
def test_the_apps_own_model_py_round_trips(template, tmp_path):
    from visionstudio.core.templates import load_template

    doc = load_template(template)
    original = build_model(doc.graph, analyze(doc.graph)).eval()
    generated, result = export_and_import(doc, tmp_path, class_hint=template != "classic_cnn")
    assert result.document.name == doc.name
    # a layer's fused activation comes back as a layer of its own (model.py calls F.relu)
    fused = [n.params["activation"] for n in doc.graph.nodes.values()
             if n.params.get("activation", "none") != "none"]
    assert sorted(n.kind for n in result.document.graph.nodes.values()) == \
        sorted([n.kind for n in doc.graph.nodes.values()] + fused)
    assert sorted(result.document.graph.blocks.keys()) == sorted(doc.graph.blocks.keys())
    imported = built(result)
    imported.load_state_dict(original.state_dict())     # the same keys, the same shapes
    x = torch.randn(2, *generated.input_shape)
    assert torch.equal(scores(imported, x), scores(original, x))


def test_every_kind_comes_back_from_the_apps_model_py(tmp_path):
    """Each kind's emitted code (F.elu, nn.Upsample, the WeightedSum and LayerNorm2d helpers,
    ``(a + b) / 2`` for Average, ...) maps back onto that kind."""
    doc = every_kind_project()
    original = build_model(doc.graph, analyze(doc.graph)).eval()
    generated, result = export_and_import(doc, tmp_path)
    kinds = {n.kind for n in result.document.graph.nodes.values()}
    assert {n.kind for n in doc.graph.nodes.values()} <= kinds | {"identity"}
    imported = built(result)
    imported.load_state_dict(original.state_dict())
    x = torch.randn(2, *generated.input_shape)
    assert torch.equal(scores(imported, x), scores(original, x))
