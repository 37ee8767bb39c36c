"""Transfer options follow layers: into a block grouping them (frozen when all were, the
shared multiplier), out of it on Ungroup, and onto pasted and duplicated copies; undo
restores them (core.graph.transfer_copy)."""

from __future__ import annotations

import json

import pytest

from tests.core.test_transfer import backbone_graph, doc_of, named
from visionstudio.core.blocks.commands import GroupIntoBlock, Ungroup
from visionstudio.core.graph.editing import fragment_of, paste_nodes
from visionstudio.core.graph.transfer_commands import SetLrMultiplier, SetTrainable


def _layout(graph):
    for i, nid in enumerate(graph.nodes):
        graph.positions[nid] = (0.0, 100.0 * i)
    return graph


@pytest.fixture
def setup():
    graph = _layout(backbone_graph())
    doc, history = doc_of(graph)
    convs = [named(graph, "conv1"), named(graph, "bn1"), named(graph, "conv2")]
    history.push(SetTrainable(convs, False))
    history.push(SetLrMultiplier(convs, 0.1))
    return doc, history, convs


def test_grouping_frozen_layers_gives_a_frozen_instance_and_undo_restores(setup):
    doc, history, convs = setup
    before = (set(doc.graph.transfer.frozen), dict(doc.graph.transfer.multipliers))
    group = history.push(GroupIntoBlock(convs, key="stem"))
    options = doc.graph.transfer
    assert not options.trainable(group.instance_id) and options.multiplier(group.instance_id) == 0.1
    history.undo()
    assert (set(options.frozen), dict(options.multipliers)) == before
    assert options.trainable(group.instance_id) and options.multiplier(group.instance_id) == 1.0
    history.redo()
    assert not options.trainable(group.instance_id)


def test_a_partly_frozen_group_trains_and_mixed_multipliers_are_not_guessed(setup):
    doc, history, convs = setup
    dense = named(doc.graph, "dense1")
    group = history.push(GroupIntoBlock([convs[2], named(doc.graph, "pool1"),
                                         named(doc.graph, "flatten1"), dense], key="mid"))
    options = doc.graph.transfer
    assert options.trainable(group.instance_id) and options.multiplier(group.instance_id) == 1.0


def test_ungroup_gives_the_layers_the_instance_options(setup):
    doc, history, convs = setup
    group = history.push(GroupIntoBlock(convs, key="stem"))
    history.push(SetTrainable([group.instance_id], True))   # unfrozen as a block
    ungroup = history.push(Ungroup(group.instance_id))
    inlined = list(ungroup._ids.values())
    options = doc.graph.transfer
    assert all(options.trainable(nid) and options.multiplier(nid) == 0.1 for nid in inlined)
    history.undo()
    assert options.trainable(group.instance_id)
    assert all(not options.trainable(nid) for nid in inlined)   # the stale entries, as before


def test_pasted_and_duplicated_copies_keep_frozen_and_multiplier(setup):
    doc, history, convs = setup
    dense = named(doc.graph, "dense1")
    history.push(SetLrMultiplier([dense], 10.0))
    clip = json.loads(json.dumps(fragment_of(doc.graph, [convs[0], dense])))   # through the clipboard's text
    paste = history.push(paste_nodes(doc.graph, clip))
    new_conv, new_dense = [c.node_id for c in paste.commands[:2]]
    options = doc.graph.transfer
    assert not options.trainable(new_conv) and options.multiplier(new_conv) == 0.1
    assert options.trainable(new_dense) and options.multiplier(new_dense) == 10.0
    assert paste.text == "Paste 2 layers"
    history.undo()
    assert new_conv not in options.frozen and new_conv not in options.multipliers
    assert not options.trainable(convs[0])   # the original keeps its own


def test_a_plain_fragment_pastes_as_before(setup):
    doc, history, _ = setup
    clip = fragment_of(doc.graph, [named(doc.graph, "dense1")])
    assert "transfer" not in clip
    paste = history.push(paste_nodes(doc.graph, clip))
    assert len(paste.commands) == 1


@pytest.mark.parametrize("transfer, message", [
    ([1], "not an object"), ({"frozen": "x"}, "not lists"),
    ({"lr_multipliers": {"a": "fast"}}, "must be a number"),
    ({"lr_multipliers": {"a": 1e300}}, "between"),
])
def test_a_hostile_clipboard_is_refused_with_a_sentence(setup, transfer, message):
    doc, _, convs = setup
    clip = {**fragment_of(doc.graph, [convs[0]]), "transfer": transfer}
    with pytest.raises(ValueError, match=message):
        paste_nodes(doc.graph, clip)
