"""Samples from files, batch preparation, the time-lapse store and the model source."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from visionstudio.core.inspect import (
    SampleError,
    TimeLapse,
    capture_activations,
    inspection_model,
    load_image_file,
    prepare_batch,
    prepare_sample,
    read_run_weights,
)
from visionstudio.core.templates import load_template


def test_prepare_matches_trainer_normalizer():
    from visionstudio.core.training.feed import Normalizer

    imgs = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    mean, std = (0.2, 0.4, 0.6), (0.3, 0.2, 0.1)
    ref = Normalizer(mean, std, torch.device("cpu"), channels_last=False)(imgs.clone())
    assert torch.allclose(prepare_batch(imgs, mean, std), ref, atol=1e-6)
    one = prepare_sample(imgs[1].numpy(), mean, std)
    assert one.shape == (1, 3, 8, 8) and torch.allclose(one[0], ref[1], atol=1e-6)


@pytest.mark.parametrize("fmt,suffix", [("PNG", "png"), ("JPEG", "jpg"), ("BMP", "bmp"),
                                         ("TIFF", "tif"), ("WEBP", "webp")])
def test_load_formats(tmp_path, fmt, suffix):
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8))
    path = tmp_path / f"x.{suffix}"
    img.save(path, fmt)
    s = load_image_file(path, (1, 28, 28))
    assert s.image.shape == (1, 28, 28) and s.image.dtype == np.uint8
    assert s.display().shape == (28, 28)
    s3 = load_image_file(path, (3, 32, 32))
    assert s3.image.shape == (3, 32, 32) and s3.display().shape == (32, 32, 3)


def test_load_rgba_16bit_cmyk_palette(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 255
    rgba[:20, :, 3] = 0          # transparent half -> white, as the image-folder dataset does
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    s = load_image_file(tmp_path / "a.png", (3, 40, 40))
    assert tuple(s.image[:, 30, 5]) == (255, 0, 0) and tuple(s.image[:, 5, 5]) == (255, 255, 255)
    assert "RGBA" in s.note

    g16 = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "g.tif")
    s = load_image_file(tmp_path / "g.tif", (1, 32, 32))
    assert s.image.shape == (1, 32, 32) and s.image.min() < 10 and s.image.max() > 245

    Image.new("CMYK", (10, 10), (0, 0, 0, 0)).save(tmp_path / "c.jpg")
    assert load_image_file(tmp_path / "c.jpg", (1, 8, 8)).image.shape == (1, 8, 8)
    Image.new("P", (10, 10)).save(tmp_path / "p.png")
    assert load_image_file(tmp_path / "p.png", (3, 8, 8)).image.shape == (3, 8, 8)


def test_same_pixels_as_the_image_folder_dataset(tmp_path):
    from visionstudio.core.data.image_folder import decode

    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (33, 47, 4), dtype=np.uint8), "RGBA").save(tmp_path / "q.png")
    assert np.array_equal(load_image_file(tmp_path / "q.png", (1, 28, 28)).image,
                          decode(tmp_path / "q.png", (1, 28, 28)))


def test_load_errors_speak(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(SampleError, match="not an image"):
        load_image_file(tmp_path / "bad.png", (1, 28, 28))
    with pytest.raises(SampleError, match="does not exist"):
        load_image_file(tmp_path / "none.png", (1, 28, 28))
    with pytest.raises(SampleError, match="not an image"):
        load_image_file(tmp_path / "bad.png", (10,))


def _acts():
    doc = load_template("classic_cnn")
    src = inspection_model(doc.graph, seed=0)
    x = prepare_sample(np.zeros((1, 28, 28), np.uint8), (0.3,), (0.3,))
    return src, capture_activations(src.model, x)[0]


def test_timelapse_float16_and_bounded():
    src, acts = _acts()
    assert not src.trained and "initial weights (seed 0)" in src.description
    per_frame = sum(a.array.size for a in acts.values()) * 2
    tl = TimeLapse("val:0", max_bytes=per_frame * 5)
    for epoch in range(12):
        tl.add(epoch, acts)
        assert tl.nbytes <= per_frame * 5
    assert tl.thinned and tl.epochs()[0] == 0 and tl.epochs()[-1] == 11
    frame = tl.frame(11)
    assert frame["conv1"].array.dtype == np.float32
    assert np.allclose(frame["conv1"].array, acts["conv1"].array, atol=1e-2, rtol=1e-2)
    assert frame["conv1"].stats == acts["conv1"].stats
    with pytest.raises(KeyError):
        tl.frame(99)


def _epoch_record(epoch: int) -> dict:
    """An epoch record as the trainer writes it (read_meta checks every field)."""
    from visionstudio.core.training.records import EpochRecord

    return EpochRecord(epoch=epoch, step=10 * epoch, train_loss=1.0, train_accuracy=0.5, val_loss=1.0,
                       val_accuracy=0.5, val_top5=None, lr=1e-3, images_per_s=100.0, epoch_s=1.0,
                       elapsed_s=float(epoch), eta_s=0.0, monitored=1.0, best=False).as_dict()


def test_model_source_reads_run_checkpoint(tmp_path):
    from visionstudio.core.build import build_model
    from visionstudio.core.training.checkpoint import save_checkpoint

    doc = load_template("classic_cnn")
    trained = build_model(doc.graph, seed=5)
    save_checkpoint(tmp_path / "checkpoints" / "last", model_state=trained.state_dict(), tensors={},
                    meta={"epoch": 4, "history": [_epoch_record(e) for e in (1, 2, 3)]})
    src = inspection_model(doc.graph, seed=0, run_folder=tmp_path, run_name="Run 1")
    assert src.trained and src.epoch == 3 and "Run 1" in src.description
    assert torch.equal(src.model.state_dict()["conv1.weight"], trained.state_dict()["conv1.weight"])
    other = build_model(doc.graph, seed=0)
    assert read_run_weights(tmp_path, other) == 3
    assert torch.equal(other.state_dict()["conv1.weight"], trained.state_dict()["conv1.weight"])
    # weights of another network: say so, fall back to the seeded start
    resnet = load_template("small_resnet")
    src = inspection_model(resnet.graph, seed=0, run_folder=tmp_path, run_name="Run 1")
    assert not src.trained and "do not fit" in src.description
