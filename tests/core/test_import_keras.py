"""Keras import against files Keras 3 wrote itself (tests/fixtures/keras, made by the script
there) and the predictions Keras gave for them; hostile archives are refused whole."""

from __future__ import annotations

import itertools
import json
import random
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from visionstudio.core.build import build_model
from visionstudio.core.graph.editing import overlaps
from visionstudio.core.importers import ImportProblem, import_model, keras_files, save_import
from visionstudio.core.project import load_project
from visionstudio.core.training.checkpoint_fit import load_weights

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keras"
EXPECTED = np.load(FIXTURES / "expected.npz")


def predict(result, name: str) -> np.ndarray:
    model = build_model(result.document.graph)
    model.load_state_dict(result.weights)
    model.eval()
    x = torch.from_numpy(EXPECTED[f"{name}_x"]).permute(0, 3, 1, 2)   # NHWC -> NCHW
    with torch.no_grad():
        return model(x).numpy()


def kinds(result) -> list[str]:
    return [n.kind for n in result.document.graph.nodes.values()]


def test_mnist_cnn_matches_keras():
    result = import_model(str(FIXTURES / "mnist_cnn.keras"))
    assert kinds(result) == ["input", "conv2d", "maxpool2d", "conv2d", "maxpool2d", "flatten", "dense",
                             "dense"]
    params = sum(t.numel() for t in result.weights.values())
    assert params == 121_930     # Keras's count_params() and the figure
    np.testing.assert_allclose(predict(result, "mnist_cnn"), EXPECTED["mnist_cnn_y"], atol=1e-5, rtol=0)
    assert any("reordered" in note for note in result.notes)    # Flatten (H, W, C) -> (C, H, W)
    nodes = result.document.graph.nodes
    assert [n.params["activation"] for n in nodes.values() if n.kind in ("conv2d", "dense")] == \
        ["relu", "relu", "relu", "softmax"]


def test_functional_model_matches_keras():
    result = import_model(str(FIXTURES / "functional.keras"))
    np.testing.assert_allclose(predict(result, "functional"), EXPECTED["functional_y"], atol=1e-5, rtol=0)
    graph = result.document.graph
    by_name = {n.name: n for n in graph.nodes.values()}
    # "same" with stride 2 and an even kernel pads more at the bottom/right: a ZeroPad2d first
    assert by_name["stem_pad"].params == {"left": 1, "right": 2, "top": 1, "bottom": 2}
    assert by_name["dw"].params["groups"] == 8 and by_name["dw"].params["out_channels"] == 16
    assert by_name["sep_depthwise"].params["groups"] == 8
    assert by_name["sep_pointwise"].params["kernel_size"] == 1
    assert by_name["max_same"].params["ceil_mode"] is True
    assert abs(by_name["stem_bn"].params["momentum"] - 0.1) < 1e-9     # Keras 0.9 -> torch 0.1
    assert by_name["stem_bn"].params["eps"] == 1e-3
    expected = {"add", "concat", "average", "zeropad2d", "global_avgpool", "dropout", "softmax", "upsample",
                "adaptive_maxpool2d"}
    assert expected <= set(kinds(result))
    positions = list(graph.positions.values())
    assert len(positions) == len(graph.nodes)
    assert not any(overlaps(a, b) for a, b in itertools.combinations(positions, 2))


def test_legacy_h5_matches_keras():
    result = import_model(str(FIXTURES / "legacy_cnn.h5"))
    np.testing.assert_allclose(predict(result, "legacy_cnn"), EXPECTED["legacy_cnn_y"], atol=1e-5, rtol=0)
    dense = [n for n in result.document.graph.nodes.values() if n.kind == "dense"]
    assert [n.params["activation"] for n in dense] == ["elu", "none"]


def test_saved_project_opens_with_its_weights(tmp_path):
    result = import_model(str(FIXTURES / "mnist_cnn.keras"))
    project, weights = save_import(result, tmp_path / "mnist.vsproj")
    assert weights.name == "mnist.weights.safetensors"
    model = build_model(load_project(project).graph)
    load_weights(weights, model)    # the app's own loader: names, shapes and dtypes checked
    model.eval()
    x = torch.from_numpy(EXPECTED["mnist_cnn_x"]).permute(0, 3, 1, 2)
    np.testing.assert_allclose(model(x).detach().numpy(), EXPECTED["mnist_cnn_y"], atol=1e-5, rtol=0)


def rewrite(tmp_path: Path, source: str, edit) -> Path:
    """A copy of a fixture archive with its config.json edited."""
    target = tmp_path / source
    with zipfile.ZipFile(FIXTURES / source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "config.json":
                config = json.loads(data)
                edit(config)
                data = json.dumps(config).encode()
            zout.writestr(info.filename, data)
    return target


def test_keras2_style_config_imports_the_same(tmp_path):
    """Keras 2 (and tf.keras) configs list inbound nodes as [[name, node, tensor, kwargs]]."""
    def keras_tensor_to_list(item):
        return [*item["config"]["keras_history"], {}]

    def edit(config):
        body = config["config"]
        for layer in body["layers"]:
            calls = []
            for node in layer["inbound_nodes"]:
                args = node["args"][0]
                items = args if isinstance(args, list) else [args]
                calls.append([keras_tensor_to_list(item) for item in items])
            layer["inbound_nodes"] = calls
        body["input_layers"], body["output_layers"] = [body["input_layers"]], [body["output_layers"]]
    result = import_model(str(rewrite(tmp_path, "functional.keras", edit)))
    np.testing.assert_allclose(predict(result, "functional"), EXPECTED["functional_y"], atol=1e-5, rtol=0)


def test_unsupported_layers_are_all_listed(tmp_path):
    def edit(config):
        layers = config["config"]["layers"]
        layers[4]["class_name"] = "LSTM"
        layers[9]["class_name"] = "Rescaling"
    path = rewrite(tmp_path, "functional.keras", edit)
    with pytest.raises(ImportProblem) as caught:
        import_model(str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}: 2 layers cannot be imported: LSTM at ")
    assert "(layer 5)" in message and "Rescaling at" in message and "(layer 10)" in message
    assert "Nothing was imported" in message and len(caught.value.problems) == 2


def test_unsupported_setting_is_listed(tmp_path):
    def edit(config):
        config["config"]["layers"][2]["config"]["padding"] = "same"   # MaxPooling2D 2, stride 2, 26x26
        config["config"]["layers"][1]["config"]["data_format"] = "channels_first"
    with pytest.raises(ImportProblem, match=r"1 layer cannot be imported: Conv2D at conv2d \(layer 2\) "
                                            r"\(data_format channels_first\)"):
        import_model(str(rewrite(tmp_path, "mnist_cnn.keras", edit)))


def test_weights_of_the_wrong_shape_are_refused(tmp_path):
    def edit(config):
        config["config"]["layers"][1]["config"]["filters"] = 16
    with pytest.raises(ImportProblem, match=r"weight 0 of layer conv2d has shape \(3, 3, 1, 32\), "
                                            r"the layer needs \(3, 3, 1, 16\)"):
        import_model(str(rewrite(tmp_path, "mnist_cnn.keras", edit)))


def test_huge_config_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(keras_files, "MAX_CONFIG_BYTES", 1000)
    path = FIXTURES / "mnist_cnn.keras"
    with pytest.raises(ImportProblem, match=r"config\.json is [\d,]+ bytes unpacked; at most 1,000 are read"):
        import_model(str(path))


def hostile_zip(tmp_path: Path, entries: dict[str, bytes], compress=zipfile.ZIP_STORED) -> Path:
    path = tmp_path / "hostile.keras"
    with zipfile.ZipFile(path, "w", compression=compress) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def test_path_traversal_names_are_refused(tmp_path):
    config = zipfile.ZipFile(FIXTURES / "mnist_cnn.keras").read("config.json")
    path = hostile_zip(tmp_path, {"config.json": config, "../../etc/evil.h5": b"x", "model.weights.h5": b"x"})
    with pytest.raises(ImportProblem, match=r"hostile\.keras: the archive holds an entry named "
                                            r"'\.\./\.\./etc/evil\.h5', which points outside it"):
        import_model(str(path))


def test_zip_bomb_is_refused(tmp_path):
    config = zipfile.ZipFile(FIXTURES / "mnist_cnn.keras").read("config.json")
    path = hostile_zip(tmp_path, {"config.json": config, "model.weights.h5": bytes(4 * 1024 * 1024)},
                       zipfile.ZIP_DEFLATED)
    with pytest.raises(ImportProblem, match="refused as a zip bomb"):
        import_model(str(path))


def test_not_an_archive_and_not_a_model(tmp_path):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ImportProblem, match=r"junk\.keras: not a \.keras archive"):
        import_model(str(junk))
    path = hostile_zip(tmp_path, {"config.json": b"[" * 100_000, "model.weights.h5": b""})
    with pytest.raises(ImportProblem, match=r"hostile\.keras: config\.json is not valid JSON"):
        import_model(str(path))


def test_h5_external_link_is_refused(tmp_path):
    path = tmp_path / "linked.h5"
    shutil.copy(FIXTURES / "legacy_cnn.h5", path)
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["x"] = np.zeros((3, 3, 2, 4), np.float32)
    with h5py.File(path, "a") as f:
        group = f["model_weights/conv2d_2/legacy_cnn/conv2d_2"]
        del group["kernel"]
        group["kernel"] = h5py.ExternalLink(str(secret), "/x")
    with pytest.raises(ImportProblem, match=r"linked\.h5: .*kernel links to another file; refused"):
        import_model(str(path))


def test_h5_without_a_model_config(tmp_path):
    path = tmp_path / "weights_only.h5"
    with h5py.File(path, "w") as f:
        f["w"] = np.zeros(3)
    with pytest.raises(ImportProblem, match=r"weights_only\.h5: the file holds weights only"):
        import_model(str(path))


def test_garbled_configs_give_a_problem_or_an_import(tmp_path):
    """Values swapped for junk anywhere in the config (seeded): never a traceback."""
    config = json.loads(zipfile.ZipFile(FIXTURES / "functional.keras").read("config.json"))

    def places(value, path=()):
        if path:
            yield path
        items = value.items() if isinstance(value, dict) else enumerate(value) \
            if isinstance(value, list) else ()
        for key, child in items:
            yield from places(child, (*path, key))

    spots = [p for p in places(config) if "initializer" not in str(p) and "dtype" not in str(p)]
    junk = [None, -1, 0, 10**12, "x", [], {}, [1], [None], 1.5, True, [[1, 2], [3]], "same", [-3, 2]]
    rng = random.Random(0)
    outcomes = set()
    for _ in range(25):
        chosen = [rng.choice(spots) for _step in range(rng.randint(1, 3))]

        def edit(c, chosen=chosen):
            for path in chosen:
                target = c
                try:
                    for key in path[:-1]:
                        target = target[key]
                    target[path[-1]] = rng.choice(junk)
                except (KeyError, IndexError, TypeError):
                    pass
        path = rewrite(tmp_path, "functional.keras", edit)
        try:
            import_model(str(path))
            outcomes.add("imported")
        except ImportProblem as exc:
            assert str(exc).startswith(str(path))
            outcomes.add("refused")
    assert "refused" in outcomes


def test_transposed_convolutions_and_bilinear_upsampling_match_keras():
    result = import_model(str(FIXTURES / "decoder.keras"))
    assert kinds(result).count("conv_transpose2d") == 6 and "upsample" in kinds(result)
    nodes = {n.name: n for n in result.document.graph.nodes.values()}
    assert nodes["bilinear"].params["mode"] == "bilinear"
    assert nodes["same_odd_pad"].kind == "zeropad2d"   # "same" crops one more on the right
    got = predict(result, "decoder")
    np.testing.assert_allclose(got, EXPECTED["decoder_y"].transpose(0, 3, 1, 2), atol=1e-5, rtol=0)
