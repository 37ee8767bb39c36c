"""ONNX import: outputs equal onnxruntime's, the app's own export round-trips, every
unsupported operation is listed, and hostile files are refused before anything is read."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from visionstudio.core.build import build_model
from visionstudio.core.export import onnx_export
from visionstudio.core.export.onnx_export import export_onnx
from visionstudio.core.importers import ImportProblem, import_model
from visionstudio.core.templates import load_template

RNG = np.random.default_rng(0)


def const(name: str, *shape: int, scale: float = 0.3) -> TensorProto:
    return numpy_helper.from_array((RNG.normal(0, scale, shape)).astype(np.float32), name)


def ints(name: str, values) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def save(tmp_path, nodes, inits, shape=(1, 3, 9, 10), out_shape=None, opset=17, name="model.onnx"):
    graph = helper.make_graph(
        nodes, "handmade", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape[1:]])],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(model, path)
    return path


def compare(path, shape) -> float:
    result = import_model(str(path))
    model = build_model(result.document.graph)
    model.load_state_dict(result.weights)
    model.eval()
    x = RNG.normal(0, 1, (2, *shape[1:])).astype(np.float32)
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    assert got.shape == expected.shape
    return float(np.abs(got - expected).max())


def test_handmade_graph_equals_onnxruntime(tmp_path):
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 0, 2, 1], strides=[2, 1], name="conv_asym"),
        n("BatchNormalization", ["c1", "g", "be", "mu", "var"], ["bn"], epsilon=1e-3),
        n("Clip", ["bn", "lo", "hi"], ["r6"]),
        n("Conv", ["r6", "wdw"], ["dw"], group=4, kernel_shape=[3, 3], auto_pad="SAME_UPPER", strides=[2, 2]),
        n("LeakyRelu", ["dw"], ["lr"], alpha=0.1),
        n("MaxPool", ["r6"], ["mp"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        n("Pad", ["mp", "pads"], ["mpp"]),
        n("Concat", ["lr", "mpp"], ["cat"], axis=1),
        n("Resize", ["cat", "", "scales"], ["up"], mode="nearest",
          coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        n("ConvTranspose", ["up", "wt", "bt"], ["ct"], strides=[2, 2], pads=[1, 1, 1, 1]),
        n("Sigmoid", ["ct"], ["sg"]),
        n("Mul", ["ct", "sg"], ["silu"]),
        n("AveragePool", ["silu"], ["ap"], kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1],
          count_include_pad=1),
        n("GlobalAveragePool", ["ap"], ["gap"]),
        n("Flatten", ["gap"], ["flat"]),
        n("Gemm", ["flat", "wg", "bg"], ["g1"], alpha=0.5, beta=2.0),
        n("Relu", ["g1"], ["g1r"]),
        n("MatMul", ["g1r", "wm"], ["mm"]),
        n("Add", ["mm", "bm"], ["logits"]),
        n("Dropout", ["logits"], ["dr"]),
        n("Softmax", ["dr"], ["probs"], axis=-1),
    ]
    inits = [const("w1", 4, 3, 3, 2), const("b1", 4), const("g", 4), const("be", 4), const("mu", 4),
             numpy_helper.from_array(RNG.uniform(0.5, 2, 4).astype(np.float32), "var"),
             numpy_helper.from_array(np.float32(0.0), "lo"), numpy_helper.from_array(np.float32(6.0), "hi"),
             const("wdw", 4, 1, 3, 3), ints("pads", [0, 0, 0, 0, 0, 0, 1, 0]),
             numpy_helper.from_array(np.asarray([1, 1, 2, 2], np.float32), "scales"),
             const("wt", 8, 5, 3, 3), const("bt", 5), const("wg", 5, 6), const("bg", 6), const("wm", 6, 3),
             const("bm", 3)]
    path = save(tmp_path, nodes, inits)
    assert compare(path, (1, 3, 9, 10)) <= 1e-4
    result = import_model(str(path))
    node_kinds = [node.kind for node in result.document.graph.nodes.values()]
    assert node_kinds.count("dense") == 2 and "zeropad2d" in node_kinds and "conv_transpose2d" in node_kinds
    by_kind = {node.kind: node for node in result.document.graph.nodes.values()}
    assert by_kind["relu6"] and by_kind["upsample"].params["scale_factor"] == 2.0


def round_trip(tmp_path, key: str):
    doc = load_template(key)
    original = build_model(doc.graph, seed=0)
    path = export_onnx(doc, tmp_path / f"{key}.onnx", weights=original.state_dict())
    result = import_model(str(path))
    model = build_model(result.document.graph)
    model.load_state_dict(result.weights)
    model.eval()
    original.eval()
    source = next(n for n in doc.graph.nodes.values() if n.kind == "input").params
    shape = (source["channels"], source["height"], source["width"])
    x = torch.randn(3, *shape)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        assert np.abs(model(x).numpy() - expected).max() <= 1e-4
        assert torch.allclose(model(x), original(x), atol=1e-6)
    return doc, original, result, model


def test_the_apps_own_export_round_trips(tmp_path, monkeypatch):
    """Through the TorchScript exporter (the fallback; 0.7 s): the same layers come back."""
    def refuse(*args, **kwargs):
        raise RuntimeError("dynamo exporter off for this test")
    monkeypatch.setattr(onnx_export, "_export_dynamo", refuse)
    doc, original, result, model = round_trip(tmp_path, "classic_cnn")
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in original.parameters())
    kinds = sorted(n.kind for n in result.document.graph.nodes.values())
    assert kinds == sorted(n.kind for n in doc.graph.nodes.values())   # activations fused back


@pytest.mark.slow
def test_the_apps_dynamo_export_round_trips(tmp_path):
    """torch.export's ONNX (the first choice; ~15 s) folds BatchNorm into the convolutions:
    the outputs agree, with fewer parameters."""
    _, original, result, model = round_trip(tmp_path, "small_resnet")
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in original.parameters())
    assert "add" in {n.kind for n in result.document.graph.nodes.values()}


def test_every_unsupported_operation_is_listed(tmp_path):
    n = helper.make_node
    nodes = [n("Sub", ["x", "m"], ["s"], name="/model/normalize"),
             n("Conv", ["s", "w"], ["c"]),
             n("Resize", ["c", "", "sc"], ["r"], mode="cubic", name="/model/up1"),
             n("Erf", ["r"], ["e"], name="erf")]
    path = save(tmp_path, nodes, [const("m", 1), const("w", 2, 3, 1, 1),
                                  numpy_helper.from_array(np.asarray([1, 1, 2, 2], np.float32), "sc")])
    with pytest.raises(ImportProblem) as caught:
        import_model(str(path))
    assert str(caught.value) == (f"{path}: 2 operations cannot be imported: Sub at /model/normalize "
                                 "(node 1), Erf at erf (node 4). Nothing was imported.")
    nodes[0] = n("Relu", ["x"], ["s"])
    nodes[3] = n("Relu", ["r"], ["e"])
    path = save(tmp_path, nodes, [const("w", 2, 3, 1, 1),
                                  numpy_helper.from_array(np.asarray([1, 1, 2, 2], np.float32), "sc")])
    with pytest.raises(ImportProblem, match=r"1 operation cannot be imported: Resize at /model/up1 "
                                            r"\(node 3\) \(cubic resizing"):
        import_model(str(path))


def test_huge_declared_initializer_is_refused(tmp_path):
    big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 20, 1 << 20], raw_data=b"\x00" * 16)
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], [big])
    with pytest.raises(ImportProblem, match=r"initializer 'w' declares 1,099,511,627,776 values"):
        import_model(str(path))
    short = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 3, 1, 1],
                        raw_data=b"\x00" * 8)
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], [short])
    with pytest.raises(ImportProblem, match=r"initializer 'w' holds 8 bytes; its shape "
                                            r"\[2, 3, 1, 1\] needs 24"):
        import_model(str(path))


def external(name: str, location: str, length: int = 24) -> TensorProto:
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[2, 3, 1, 1])
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def test_external_data_outside_the_folder_is_refused(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "secret.bin").write_bytes(bytes(24))
    for location in ("../secret.bin", str(tmp_path / "secret.bin")):
        path = save(folder, [helper.make_node("Conv", ["x", "w"], ["y"])], [external("w", location)])
        with pytest.raises(ImportProblem, match="outside the model's folder; refused"):
            import_model(str(path))


def test_external_data_next_to_the_model_is_read(tmp_path):
    weights = RNG.normal(0, 1, (2, 3, 1, 1)).astype(np.float32)
    (tmp_path / "w.bin").write_bytes(weights.tobytes())
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], [external("w", "w.bin")])
    result = import_model(str(path))
    assert np.array_equal(next(v for k, v in result.weights.items() if k.endswith("weight")).numpy(), weights)
    path = save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"])], [external("w", "w.bin", 4000)])
    with pytest.raises(ImportProblem, match=r"claims 4,000 bytes at offset 0 of 'w\.bin' \(24 bytes\)"):
        import_model(str(path))


def test_old_opsets_and_junk_are_refused(tmp_path):
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [], opset=9)
    with pytest.raises(ImportProblem, match="written with opset 9; opsets 11 and later are imported"):
        import_model(str(path))
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\xff\xfe not protobuf" * 20)
    with pytest.raises(ImportProblem, match=r"junk\.onnx: not an ONNX model"):
        import_model(str(junk))
    with pytest.raises(ImportProblem, match="cannot tell what to import"):
        import_model(str(tmp_path / "model.tflite"))


class ViewNet(torch.nn.Module):
    """A user's model that flattens with x.view(x.size(0), -1)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3)
        self.fc = torch.nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(x.view(x.size(0), -1))


def test_shape_arithmetic_of_a_view_becomes_a_flatten(tmp_path):
    """The TorchScript exporter writes Shape → Gather → Unsqueeze → Concat → Reshape."""
    path = tmp_path / "view.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(ViewNet().eval(), torch.zeros(1, 1, 8, 8), str(path), dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "N"}}, opset_version=17)
    assert {"Shape", "Gather", "Unsqueeze"} <= {n.op_type for n in onnx.load(path).graph.node}
    assert compare(path, (1, 1, 8, 8)) <= 1e-4
    assert [n.kind for n in import_model(str(path)).document.graph.nodes.values()] == \
        ["input", "conv2d", "flatten", "dense"]
