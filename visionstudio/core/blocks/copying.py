"""Checks and copies behind the library commands: an exposed list that can work, and
definitions copied into a project under a free key (with the keys of the blocks they
use renamed along)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from visionstudio.core.commands import CommandError
from visionstudio.core.graph.blocks import BlockDefinition, ExposedParam, instance_key, key_problem


def check_exposed(definition: BlockDefinition, exposed: list[ExposedParam]) -> None:
    names: set[str] = set()
    targets: set[tuple[str, str]] = set()
    probe = BlockDefinition(definition.key, "", "", definition.graph)
    for e in exposed:
        problem = key_problem(e.name, "a parameter name")
        if problem:
            raise CommandError(problem)
        if e.name == "block" or e.name in names:
            raise CommandError(f"the block already has a parameter named {e.name}")
        node = definition.graph.nodes.get(e.node_id)
        if node is None:
            raise CommandError(f"{e.name} names a layer that is not in block {definition.key}")
        probe.exposed = [e]
        if not probe.param_specs():
            raise CommandError(f"{node.name} has no parameter {e.param!r} to expose")
        if (e.node_id, e.param) in targets:
            raise CommandError(f"{e.param} of {node.name} is exposed twice")
        names.add(e.name)
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
