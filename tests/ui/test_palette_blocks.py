"""The palette's Blocks section: built-ins and the user's library folder, adding by
double-click and by drag, saving to the library, broken files, .vsblock drops."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.core.block_helpers import conv_block
from visionstudio.core.blocks.builtin import BUILTIN_BLOCKS
from visionstudio.core.blocks.commands import AddDefinition
from visionstudio.core.blocks.files import write_block_file
from visionstudio.core.graph import Edge, GraphModel
from visionstudio.ui.canvas import block_palette, block_save
from visionstudio.ui.canvas.block_drop import BLOCK_MIME, block_ref, file_mime
from visionstudio.ui.canvas.block_library import blocks_dir
from visionstudio.ui.canvas.palette import LayerPalette
from visionstudio.ui.shell.controller import DocumentController

from .canvas_helpers import add, drop, open_view, vpos


@pytest.fixture
def controller():
    return DocumentController()


def make_palette(qtbot, controller) -> LayerPalette:
    p = LayerPalette(controller)
    qtbot.addWidget(p)
    p.resize(280, 900)
    p.show()
    qtbot.waitExposed(p)
    return p


@pytest.fixture
def palette(qtbot, controller):
    return make_palette(qtbot, controller)


def double_click(palette, ref: str) -> None:
    item = palette.blocks.items[ref]
    palette.tree.scrollToItem(item)
    rect = palette.tree.visualItemRect(item)
    vp = palette.tree.viewport()
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    QTest.mouseDClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())


def instances(controller) -> list:
    return [n for n in controller.graph.nodes.values() if n.kind == "block"]


def file_of(tmp_path, definition, name="shared.vsblock"):
    graph = GraphModel()
    graph.blocks.add(definition)
    path = tmp_path / name
    write_block_file(path, graph.blocks, definition.key)
    return path


def test_section_lists_the_builtins_with_their_descriptions(palette):
    tree = palette.tree
    groups = [tree.topLevelItem(i).text(0) for i in range(tree.topLevelItemCount())]
    assert groups[-1] == "Blocks"
    for key in BUILTIN_BLOCKS:
        item = palette.blocks.items[f"builtin:{key}"]
        definition = BUILTIN_BLOCKS[key]()
        assert item.text(0) == definition.title and definition.description in item.toolTip(0)
        assert not item.icon(0).isNull()
    assert palette.blocks.library_group.text(0) == "My blocks (none yet)"
    palette.set_filter("squeeze")
    assert palette.visible_blocks() == ["builtin:squeeze_excitation"]
    palette.set_filter("log softmax")
    assert palette.visible_blocks() == [] and palette.visible_keys() == ["log_softmax"]
    assert palette.blocks.group.isHidden()
    palette.set_filter("")
    assert len(palette.visible_blocks()) == len(BUILTIN_BLOCKS)


def test_double_click_adds_instance_and_definition_in_one_undo_step(palette, controller):
    a = add(controller, "input", (0, 0), channels=64, height=16, width=16)
    controller.set_selection([a])
    steps = controller.undo_stack.count()
    double_click(palette, "builtin:basic_block")
    (node,) = instances(controller)
    assert node.params["block"] == "basic_block" and "basic_block" in controller.graph.blocks
    assert controller.graph.edges == [Edge(a, node.id, 0)]           # wired after the selection
    assert controller.graph.positions[node.id][1] > 0 and controller.selection == [node.id]
    assert controller.undo_stack.count() == steps + 1
    assert controller.analysis.nodes[node.id].output_shape == (64, 16, 16)
    controller.undo()
    assert not instances(controller) and "basic_block" not in controller.graph.blocks
    controller.redo()
    assert instances(controller) and "basic_block" in controller.graph.blocks
    # a second one reuses the definition the project has now
    controller.set_selection([])
    palette.tree.setCurrentItem(palette.blocks.items["builtin:basic_block"])
    palette.tree.setFocus()
    QTest.keyClick(palette.tree, Qt.Key.Key_Return)
    assert len(instances(controller)) == 2 and controller.graph.blocks.keys() == ["basic_block"]


def test_drag_onto_the_canvas_places_the_block_there(qtbot, palette, controller):
    view = open_view(qtbot, controller)
    mime = palette.tree.mimeData([palette.blocks.items["builtin:inception"]])
    assert BLOCK_MIME in palette.tree.mimeTypes() and block_ref(mime) == "builtin:inception"
    point = vpos(view, QPointF(120, 80))
    assert drop(view, mime, point)
    (node,) = instances(controller)
    assert node.params["block"] == "inception" and "inception" in controller.graph.blocks
    at = view.mapToScene(point)
    assert controller.graph.positions[node.id] == pytest.approx((at.x(), at.y()), abs=0.6)
    controller.undo()
    assert not controller.graph.nodes and not controller.graph.blocks.keys()


def test_save_to_library_lists_it_and_a_name_clash_asks(palette, controller, monkeypatch):
    double_click(palette, "builtin:squeeze_excitation")
    path = block_save.save_block_to_library(palette, controller, "squeeze_excitation")
    assert path == blocks_dir() / "squeeze_excitation.vsblock" and path.is_file()
    assert "library:squeeze_excitation.vsblock" in palette.blocks.items
    assert palette.blocks.library_group.text(0) == "My blocks"
    asked = []
    monkeypatch.setattr(block_save, "ask_clash",
                        lambda parent, name: asked.append(name) or block_save.KEEP_BOTH)
    second = block_save.save_block_to_library(palette, controller, "squeeze_excitation")
    assert asked == ["squeeze_excitation"] and second.name == "squeeze_excitation_2.vsblock"
    monkeypatch.setattr(block_save, "ask_clash", lambda parent, name: None)          # cancel
    assert block_save.save_block_to_library(palette, controller, "squeeze_excitation") is None
    assert sorted(p.name for p in blocks_dir().iterdir()) == ["squeeze_excitation.vsblock",
                                                             "squeeze_excitation_2.vsblock"]
    # a library block adds like a built-in; Delete asks first
    controller.undo()
    controller.undo()
    double_click(palette, "library:squeeze_excitation.vsblock")
    assert [n.params["block"] for n in instances(controller)] == ["squeeze_excitation"]
    monkeypatch.setattr(block_palette, "confirm_delete", lambda parent, title, path: False)
    assert not palette.blocks.delete("library:squeeze_excitation_2.vsblock")
    monkeypatch.setattr(block_palette, "confirm_delete", lambda parent, title, path: True)
    assert palette.blocks.delete("library:squeeze_excitation_2.vsblock")
    assert "library:squeeze_excitation_2.vsblock" not in palette.blocks.items
    assert not (blocks_dir() / "squeeze_excitation_2.vsblock").exists()


def test_a_broken_library_file_is_listed_with_its_problem(qtbot, controller):
    folder = blocks_dir()
    folder.mkdir(parents=True)
    (folder / "broken.vsblock").write_bytes(b"{not json")
    (folder / "wrong.vsblock").write_text('{"format": "visionstudio.block", "version": 1, "block": 3}')
    os.mkfifo(folder / "pipe.vsblock")                # opening it would block: never opened
    palette = make_palette(qtbot, controller)
    broken = palette.blocks.items["library:broken.vsblock"]
    assert "broken.vsblock" in broken.toolTip(0) and "cannot be used" in broken.toolTip(0)
    assert not broken.flags() & Qt.ItemFlag.ItemIsDragEnabled
    assert "wrong.vsblock" in palette.blocks.items["library:wrong.vsblock"].toolTip(0)
    assert "not a regular file" in palette.blocks.items["library:pipe.vsblock"].toolTip(0)
    messages = []
    palette.status_message.connect(messages.append)
    double_click(palette, "library:broken.vsblock")
    assert not controller.graph.nodes and messages and "broken.vsblock" in messages[-1]
    menu = palette.blocks.menu_for("library:broken.vsblock")
    assert not menu.actions()[0].isEnabled()          # Add; Help, the folder and Delete stay


def test_dropping_a_vsblock_file_on_the_palette_imports_it(qtbot, palette, tmp_path):
    path = file_of(tmp_path, conv_block())
    mime = file_mime([path])
    assert drop(palette.tree, mime, palette.tree.viewport().rect().center())
    assert (blocks_dir() / "shared.vsblock").is_file()
    assert palette.blocks.sources["library:shared.vsblock"].key == "conv_block"
    # the same name again is kept beside it; a broken file is refused with its problem
    assert drop(palette.tree, mime, palette.tree.viewport().rect().center())
    assert (blocks_dir() / "shared_2.vsblock").is_file()
    bad = tmp_path / "bad.vsblock"
    bad.write_text("[]")
    messages = []
    palette.status_message.connect(messages.append)
    assert drop(palette.tree, file_mime([bad]), palette.tree.viewport().rect().center())
    assert not (blocks_dir() / "bad.vsblock").exists() and "bad.vsblock" in messages[-1]


def test_dropping_a_vsblock_file_on_the_canvas_adds_it_and_a_key_clash_renames(qtbot, controller, tmp_path):
    view = open_view(qtbot, controller)
    other = conv_block(channels=5)
    other.title = "Someone else's conv block"
    assert controller.push(AddDefinition(conv_block(channels=3)))   # the project's own conv_block
    path = file_of(tmp_path, other)
    assert drop(view, file_mime([path]), vpos(view, QPointF(0, 300)))
    (node,) = instances(controller)
    assert node.params["block"] == "conv_block2"
    assert controller.graph.blocks.get("conv_block2").title == "Someone else's conv block"
    assert controller.graph.blocks.get("conv_block").title == "Conv block"
    controller.undo()
    assert controller.graph.blocks.keys() == ["conv_block"] and not instances(controller)
    plain = tmp_path / "notes.txt"
    plain.write_text("hello")
    assert not drop(view, file_mime([plain]), vpos(view, QPointF(0, 300)))
    QApplication.processEvents()


def test_inside_an_opened_block_the_palette_adds_there_and_refuses_a_cycle(palette, controller, tmp_path):
    assert controller.push(AddDefinition(conv_block()))
    assert controller.open_definition("conv_block")
    inner = controller.graph
    before = set(inner.nodes)
    double_click(palette, "builtin:squeeze_excitation")
    (new,) = set(inner.nodes) - before
    assert inner.nodes[new].params["block"] == "squeeze_excitation"
    assert not instances_of_network(controller) and "squeeze_excitation" in controller.graph.blocks
    controller.undo()
    assert set(inner.nodes) == before and "squeeze_excitation" not in controller.graph.blocks
    # the block being edited, from a file, would contain itself: refused with the reason
    library_file = blocks_dir() / "conv_block.vsblock"
    block_save.save_block_to_library(palette, controller, "conv_block")
    assert library_file.is_file()
    messages = []
    palette.status_message.connect(messages.append)
    double_click(palette, "library:conv_block.vsblock")
    assert set(inner.nodes) == before and "cannot contain itself" in messages[-1]


def instances_of_network(controller) -> list:
    return [n for n in controller.document.graph.nodes.values() if n.kind == "block"]


def test_a_forged_block_drag_is_refused(qtbot, controller, tmp_path):
    """Another program can put anything under the block mime: only a built-in key or a bare
    file name of the library folder is followed, never a path."""
    view = open_view(qtbot, controller)
    outside = tmp_path / "outside.vsblock"
    outside.write_bytes(file_of(tmp_path, conv_block()).read_bytes())
    blocks_dir().mkdir(parents=True)
    messages = []
    view.status_message.connect(messages.append)
    for ref in (f"library:../{outside.name}", f"library:{outside}", "builtin:no_such_block",
                "library:.hidden.vsblock", "something else"):
        mime = QMimeData()
        mime.setData(BLOCK_MIME, ref.encode())
        assert drop(view, mime, vpos(view, QPointF(0, 200)))
        assert not controller.graph.nodes and not controller.graph.blocks.keys(), ref
    assert messages and all("no longer in your library" in m for m in messages)


def test_block_menu_and_help(qtbot, palette):
    menu = palette.blocks.menu_for("builtin:basic_block")
    names = [a.objectName() for a in menu.actions() if a.objectName()]
    assert names == ["context_add_block", "context_block_help", "context_open_block_folder"]  # no Delete
    dialog = palette.blocks.show_help("builtin:basic_block")
    qtbot.addWidget(dialog)
    text = dialog.text.toPlainText()
    assert "Basic block" in text and "Channels" in text and "Stride" in text and "Inputs: 1" in text
    assert "2 × Conv2d" in text and "2 × BatchNorm2d" in text
    dialog.close()
