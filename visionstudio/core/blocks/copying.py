"""Checks and copies behind the library commands: an exposed list that can work, and
definitions copied into a project under a free key (with the keys of the blocks they
use renamed along)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from visionstudio.core.commands import CommandError
from visionstudio.core.graph.blocks import BlockDefinition, ExposedParam, instance_key, key_problem


def check_exposed(definition: BlockDefinition, exposed: list[ExposedParam]) -> None:
    kinds: dict[str, str] = {}  # exposed name -> the kind of parameter it sets
    targets: set[tuple[str, str]] = set()
    probe = BlockDefinition(definition.key, "", "", definition.graph)
    for e in exposed:
        problem = key_problem(e.name, "a parameter name")
        if problem:
            raise CommandError(problem)
        if e.name == "block":
            raise CommandError("the block already has a parameter named block (the definition it uses)")
        node = definition.graph.nodes.get(e.node_id)
        if node is None:
            raise CommandError(f"{e.name} names a layer that is not in block {definition.key}")
        probe.exposed = [e]
        specs = probe.param_specs()
        if not specs:
            raise CommandError(f"{node.name} has no parameter {e.param!r} to expose")
        if kinds.setdefault(e.name, specs[0].kind) != specs[0].kind:
            raise CommandError(f"the block already has a parameter named {e.name}, of another kind "
                               f"than {e.param} of {node.name}")
        if (e.node_id, e.param) in targets:
            raise CommandError(f"{e.param} of {node.name} is exposed twice")
        targets.add((e.node_id, e.param))


def free_key(library: Any, base: str, taken: set[str]) -> str:
    key = library.unique_key(base)
    i = 2
    while key in taken:
        key = library.unique_key(f"{base}_{i}")
        i += 1
    return key


def same_definition(a: BlockDefinition, b: BlockDefinition, renames: Mapping[str, str]) -> bool:
    if renames:
        return False
    da, db = a.to_dict(), b.to_dict()
    return da == db


def renamed_copy(d: BlockDefinition, key: str, renames: Mapping[str, str]) -> BlockDefinition:
    copied = d.copy(key)
    for node in copied.graph.nodes.values():
        inner = instance_key(node)
        if inner in renames:
            node.params["block"] = renames[inner]
    return copied
