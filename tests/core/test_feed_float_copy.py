"""The trainer's in-memory feed makes its float copy only when it fits (decided from the
size before allocating); otherwise it indexes the uint8 set as given and converts each
batch, so peak memory does not grow by 4 bytes a value with the dataset."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from visionstudio.core.training import feed as feed_module  # noqa: E402
from visionstudio.core.training.feed import MemoryFeed, Normalizer, float_copy_fits  # noqa: E402

CPU = torch.device("cpu")


def _set(n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return (torch.randint(0, 256, (n, 3, 8, 8), generator=gen, dtype=torch.uint8),
            torch.arange(n) % 4)


def _batches(feed: MemoryFeed) -> list[torch.Tensor]:
    order = torch.randperm(feed.n, generator=torch.Generator().manual_seed(1))
    return [xb for xb, _ in feed.batches(order, 16)]


def test_big_set_keeps_the_uint8_tensor_and_converts_per_batch(monkeypatch):
    images, labels = _set()
    norm = Normalizer((0.5,) * 3, (0.25,) * 3, CPU, channels_last=False)
    cached = MemoryFeed(images, labels, norm, CPU)
    assert cached.stage == "ready" and cached.x.dtype == torch.float32

    converted: list[int] = []
    call = Normalizer.__call__

    def watched(self, x, augment=None):
        converted.append(int(x.shape[0]))
        return call(self, x, augment)

    monkeypatch.setattr(feed_module, "FLOAT_CACHE_LIMIT", images.numel() * 4 - 1)
    monkeypatch.setattr(Normalizer, "__call__", watched)
    big = MemoryFeed(images, labels, norm, CPU)
    assert big.stage == "raw" and big.x.dtype == torch.uint8
    assert big.x.data_ptr() == images.data_ptr()       # no copy of the set at all
    assert converted == []                             # nothing converted before training
    got = _batches(big)
    assert converted and max(converted) <= 16          # a batch at a time, never the set
    for a, b in zip(got, _batches(cached), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    reference = (images[:4].float() / 255 - 0.5) / 0.25           # what "standardised" means
    assert torch.allclose(norm(images[:4]), reference, atol=1e-5)


def test_the_free_memory_decides_before_anything_is_allocated(monkeypatch):
    images, _ = _set()
    need = images.numel() * 4
    monkeypatch.setattr(feed_module, "free_memory", lambda device: need * feed_module.FLOAT_CACHE_SHARE - 1)
    assert not float_copy_fits(images, CPU)
    monkeypatch.setattr(feed_module, "free_memory", lambda device: need * feed_module.FLOAT_CACHE_SHARE)
    assert float_copy_fits(images, CPU)
    monkeypatch.setattr(feed_module, "free_memory", lambda device: None)   # unknown: the limit alone
    assert float_copy_fits(images, CPU)
    # a set whose copy would not fit: the sizes are read, the copy never made
    huge = torch.zeros((1,), dtype=torch.uint8).expand(1 << 40)   # 1 TiB of views, 1 byte held
    assert not float_copy_fits(huge, CPU)


def test_free_memory_reads_this_machine():
    free = feed_module.free_memory(CPU)
    assert free is None or free > 0
