"""The devices a run can use: every CUDA GPU by name and memory, Apple MPS, the CPU."""

from __future__ import annotations


def available_devices() -> list[tuple[str, str]]:
    """[(value, label)], "auto" first."""
    out = [("auto", "Auto (best available)")]
    try:
        import torch
    except ImportError:  # pragma: no cover
        return out + [("cpu", "CPU")]
    try:
        if torch.cuda.is_available():
            for i in range(torch.cuda.device_count()):
                p = torch.cuda.get_device_properties(i)
                out.append((f"cuda:{i}", f"cuda:{i} — {p.name} ({p.total_memory / 2**30:.0f} GiB)"))
    except Exception:  # noqa: BLE001 - a broken driver must not break the panel
        pass
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append(("mps", "Apple MPS"))
    out.append(("cpu", "CPU"))
    return out
