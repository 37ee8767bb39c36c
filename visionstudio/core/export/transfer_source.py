"""The transfer-learning settings an exported model.py carries as literals.

``FROZEN`` (the modules whose parameters do not train) and ``LR_MULTIPLIERS`` (module
-> factor on the learning rate) are written with repr() from the run's own
TransferPlan, so the exported train.py (and a user's own loop) freezes and groups the
parameters exactly as the app does. Absent when nothing is frozen or scaled: a plain
network's model.py stays as it was.
"""

from __future__ import annotations

from visionstudio.core.graph import GraphModel
from visionstudio.core.training.transfer_plan import transfer_plan


def transfer_lines(graph: GraphModel) -> list[str]:
    plan = transfer_plan(graph)
    if not plan.active:
        return []
    frozen = tuple(str(name) for name in plan.frozen)
    scaled = {str(name): float(value) for name, value in plan.lr_multipliers.items()}
    return ["# Transfer learning: parameters of these modules do not train; the learning rate",
            "# of a module's parameters is multiplied by its factor (train.py applies both).",
            f"FROZEN = {frozen!r}",
            f"LR_MULTIPLIERS = {scaled!r}"]


def param_groups_module_source() -> str:
    """The bundle's param_groups.py: the app's own (core/training/param_groups.py),
    unchanged, so train.py freezes and groups as a run in the app does."""
    import inspect

    from visionstudio.core.export.augment_source import foreign_imports
    from visionstudio.core.export.weights import ExportError
    from visionstudio.core.training import param_groups

    source = inspect.getsource(param_groups)
    bad = foreign_imports(source)
    if bad:
        raise ExportError("the app's parameter-group module imports "
                          f"{', '.join(bad)}; it cannot be copied into a standalone training script")
    return source
