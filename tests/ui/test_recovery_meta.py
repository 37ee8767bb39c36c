"""A recovery folder's meta files are hints: a hostile one must not stop the app starting.

Attack of issue #11: ``pending_recoveries`` ran ``json.loads`` on the whole meta file and
called ``.get`` on the result, so a meta that was a JSON list (or very large, or nested
too deeply) raised at start-up.
"""

from __future__ import annotations

import pytest

from visionstudio.ui.shell import recovery
from visionstudio.ui.shell.recovery import pending_recoveries


@pytest.mark.parametrize("meta", [
    b"[1, 2, 3]", b'"text"', b"null", b"{not json", b"[" * 100_000 + b"]" * 100_000,
    b'{"original": "' + b"x" * (1024 * 1024) + b'"}', b"\xff\xfe",
])
def test_hostile_meta_is_ignored_and_the_recovery_still_offered(tmp_path, monkeypatch, meta):
    monkeypatch.setattr(recovery, "_pid_alive", lambda pid: False)
    (tmp_path / "abc.vsproj").write_text("{}", encoding="utf-8")
    (tmp_path / "abc.json").write_bytes(meta)
    found = pending_recoveries(tmp_path)
    assert [e.file.name for e in found] == ["abc.vsproj"]
    assert found[0].original == "" and found[0].title == "an unsaved project"


def test_a_normal_meta_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(recovery, "_pid_alive", lambda pid: False)
    (tmp_path / "abc.vsproj").write_text("{}", encoding="utf-8")
    (tmp_path / "abc.json").write_text('{"original": "/p/net.vsproj", "saved_at": "noon", "pid": 7}')
    (entry,) = pending_recoveries(tmp_path)
    assert entry.original == "/p/net.vsproj" and entry.saved_at == "noon" and entry.title == "net.vsproj"
