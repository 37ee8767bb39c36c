"""Packaging end to end: a reproducible sdist + wheel, installed into a fresh venv.

The wheel (not the source tree) must provide ``visionstudio``: the venv gets the heavy
dependencies (torch, PySide6, ...) through a ``.pth`` line pointing at this interpreter's
site-packages (a clean install would download gigabytes), then ``pip install --no-deps``
of the built wheel. Commands run from a folder outside the repository with the checkout's
overrides removed from the environment, so templates and icons must come from
``<venv>/share/visionstudio``.

Needs ``build`` (dev extra). The desktop-entry / AppStream checks need
``desktop-file-validate`` and ``appstreamcli`` (Debian: desktop-file-utils appstream) and
skip where they are absent.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
LINUX = PACKAGING / "linux"
APP_ID = "io.github.visionstudio.VisionStudio"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
TEMPLATE_KEYS = sorted(p.stem for p in (REPO / "resources" / "templates").glob("*.vsproj"))
LAYER_ICONS = sorted(p.name for p in (REPO / "resources" / "icons" / "layers").glob("*.svg"))
# Variables through which a process could find the checkout instead of the wheel.
_LEAKY = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VISIONSTUDIO_TEMPLATES",
          "VISIONSTUDIO_RESOURCES", "VIRTUAL_ENV")


def _run(cmd, *, timeout=180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=timeout, **kw)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> dict[str, Path]:
    """sdist + wheel from packaging/build_dist.py, built twice and compared (--check)."""
    try:
        import build  # noqa: F401
    except ImportError:
        pytest.fail("the `build` package is missing: pip install -e '.[dev]' (or pip install build)")
    out = tmp_path_factory.mktemp("dist")
    result = _run([sys.executable, PACKAGING / "build_dist.py", "--check", "-o", out],
                  cwd=tmp_path_factory.getbasetemp(), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reproducible" in result.stdout, result.stdout
    (wheel,) = out.glob("visionstudio-*-py3-none-any.whl")
    (sdist,) = out.glob("visionstudio-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "log": result.stdout}


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; heavy deps borrowed through a .pth file."""
    root = tmp_path_factory.mktemp("venv") / "env"
    result = _run([sys.executable, "-m", "venv", "--without-pip", root])
    assert result.returncode == 0, result.stderr
    py = root / "bin" / "python"
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
                   .stdout.strip())
    # A plain path line: the borrowed site-packages' own .pth files (the checkout's editable
    # install among them) are not processed, so `visionstudio` can only come from the wheel.
    (purelib / "zz_visionstudio_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    result = _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps",
                   "--no-index", "--no-compile", "--disable-pip-version-check", dist["wheel"]],
                  timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


@pytest.fixture()
def clean_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    home = tmp_path / "home"
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        path = home / name.lower()
        path.mkdir(parents=True)
        env[name] = str(path)
    env.update(HOME=str(home), PYTHONIOENCODING="utf-8", PYTHONDONTWRITEBYTECODE="1",
               QT_QPA_PLATFORM="offscreen")
    return env


# -- the artefacts -----------------------------------------------------------------------

def test_wheel_ships_code_templates_icons_and_desktop_files(dist):
    with zipfile.ZipFile(dist["wheel"]) as zf:
        names = set(zf.namelist())
    data = next(n.split("/")[0] for n in names if ".data/" in n) + "/data/share/"
    assert "visionstudio/cli.py" in names and "visionstudio/core/resources.py" in names
    for key in TEMPLATE_KEYS:
        assert f"{data}visionstudio/templates/{key}.vsproj" in names
    assert len(TEMPLATE_KEYS) >= 5 and len(LAYER_ICONS) >= 9
    for icon in LAYER_ICONS:
        assert f"{data}visionstudio/icons/layers/{icon}" in names
    for prefix in (f"{data}visionstudio/icons/app/hicolor", f"{data}icons/hicolor"):
        assert f"{prefix}/scalable/apps/{APP_ID}.svg" in names
        for size in ICON_SIZES:
            assert f"{prefix}/{size}x{size}/apps/{APP_ID}.png" in names
    assert f"{data}applications/{APP_ID}.desktop" in names
    assert f"{data}metainfo/{APP_ID}.metainfo.xml" in names
    assert f"{data}mime/packages/{APP_ID}.xml" in names
    assert not any(n.startswith(("tests/", "resources/", "packaging/")) for n in names)


def test_sdist_has_everything_the_wheel_is_built_from(dist):
    import tarfile

    with tarfile.open(dist["sdist"]) as tf:
        members = tf.getmembers()
    names = {m.name.split("/", 1)[1] for m in members if "/" in m.name}
    assert {"pyproject.toml", "README.md", "visionstudio/__init__.py",
            "resources/templates/classic_cnn.vsproj", f"packaging/linux/{APP_ID}.desktop",
            f"resources/icons/app/hicolor/scalable/apps/{APP_ID}.svg"} <= names
    # Normalised for reproducibility: one timestamp, no owner names.
    assert len({m.mtime for m in members}) == 1
    assert {m.uname for m in members} == {""} and {m.uid for m in members} == {0}


# -- the installed wheel -----------------------------------------------------------------

def test_installed_wheel_provides_the_package_and_its_resources(venv, clean_env, tmp_path):
    code = ("import visionstudio, visionstudio.core.templates as t, visionstudio.core.resources as r;"
            "print(visionstudio.__file__); print(t.templates_dir());"
            "print(r.resource_path('icons', 'layers', 'conv.svg')); print(r.app_icon_path(48));"
            "print(len(r.app_icon_paths()))")
    result = _run([venv / "bin" / "python", "-c", code], cwd=tmp_path, env=clean_env)
    assert result.returncode == 0, result.stderr
    module, templates, layer_icon, app_icon, count = result.stdout.split("\n")[:5]
    venv_root = str(venv.resolve())
    assert module.startswith(venv_root) and "site-packages" in module
    assert templates == f"{venv_root}/share/visionstudio/templates"
    assert layer_icon == f"{venv_root}/share/visionstudio/icons/layers/conv.svg"
    assert app_icon.startswith(f"{venv_root}/share/visionstudio/icons/app/hicolor/48x48/")
    assert count == str(1 + len(ICON_SIZES))


def test_installed_cli_version_and_summary(venv, clean_env, tmp_path):
    from visionstudio import __version__

    result = _run([venv / "bin" / "visionstudio", "--version"], cwd=tmp_path, env=clean_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"VisionStudio {__version__}"
    result = _run([venv / "bin" / "visionstudio", "summary", "classic_cnn"], cwd=tmp_path,
                  env=clean_env)
    assert result.returncode == 0, result.stderr
    assert "Total params: 121,930" in result.stdout


def test_installed_gui_starts_offscreen(venv, clean_env, tmp_path):
    """``visionstudio-gui`` opens its window with the default template and quits after the
    first paint (the startup benchmark hook). If that hook goes away the process keeps
    running: being alive at the timeout without a traceback also counts as a start."""
    env = dict(clean_env, VISIONSTUDIO_STARTUP_T0=repr(time.time()),
               VISIONSTUDIO_STARTUP_EXIT="1")
    try:
        result = _run([venv / "bin" / "visionstudio-gui"], cwd=tmp_path, env=env, timeout=90)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        assert "Traceback" not in err and "Fatal Python error" not in err, err
        return
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Traceback" not in output and "Fatal Python error" not in output, output
    assert "first-paint-ms" in result.stdout, output
    assert "is missing" not in output  # templates found in the installed share folder


# -- desktop integration -----------------------------------------------------------------

def test_desktop_entry_validates():
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate not installed (Debian/Ubuntu: apt-get install desktop-file-utils)")
    result = _run([tool, DESKTOP])
    assert result.returncode == 0 and "error" not in result.stdout, result.stdout + result.stderr


def test_metainfo_validates():
    tool = shutil.which("appstreamcli")
    if tool is None:
        pytest.skip("appstreamcli not installed (Debian/Ubuntu: apt-get install appstream)")
    result = _run([tool, "validate", "--no-net", METAINFO])
    assert result.returncode == 0, result.stdout + result.stderr


def test_desktop_entry_and_metainfo_agree():
    entry = dict(line.split("=", 1) for line in DESKTOP.read_text().splitlines() if "=" in line)
    assert entry["Icon"] == APP_ID and entry["Exec"].split()[0] == "visionstudio-gui"
    text = METAINFO.read_text()
    assert f"<id>{APP_ID}</id>" in text
    assert f'<launchable type="desktop-id">{APP_ID}.desktop</launchable>' in text
    from visionstudio import __version__

    assert f'<release version="{__version__}"' in text, "add a <release> for the new version"


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_icon_pngs_render_from_the_svg(tmp_path):
    theme = REPO / "resources" / "icons" / "app" / "hicolor"
    for size in ICON_SIZES:
        assert _png_size(theme / f"{size}x{size}" / "apps" / f"{APP_ID}.png") == (size, size)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = _run([sys.executable, PACKAGING / "render_icons.py", "--theme", tmp_path], env=env)
    assert result.returncode == 0, result.stderr
    for size in ICON_SIZES:
        assert _png_size(tmp_path / f"{size}x{size}" / "apps" / f"{APP_ID}.png") == (size, size)


def test_pyinstaller_spec_and_script_are_well_formed():
    spec = PACKAGING / "visionstudio.spec"
    compile(spec.read_text(), str(spec), "exec")
    script = PACKAGING / "build_bundle.sh"
    assert os.access(script, os.X_OK)
    assert _run(["bash", "-n", script]).returncode == 0


def test_resource_resolver_in_the_checkout(monkeypatch, tmp_path):
    from visionstudio.core import resources

    monkeypatch.delenv(resources.ENV_VAR, raising=False)
    assert resources.resource_path("icons", "layers", "conv.svg") == \
        REPO / "resources" / "icons" / "layers" / "conv.svg"
    assert resources.resource_dir("templates") == REPO / "resources" / "templates"
    assert resources.app_icon_paths()[0].suffix == ".svg"
    assert len(resources.app_icon_paths()) == 1 + len(ICON_SIZES)
    assert resources.resource_path("icons", "no-such-file.svg") is None
    # The override wins over the checkout.
    (tmp_path / "icons" / "layers").mkdir(parents=True)
    (tmp_path / "icons" / "layers" / "conv.svg").write_text("<svg/>")
    monkeypatch.setenv(resources.ENV_VAR, str(tmp_path))
    expected = tmp_path / "icons" / "layers" / "conv.svg"
    assert resources.resource_path("icons", "layers", "conv.svg") == expected
    assert resources.resource_path("icons", "layers", "pool.svg") == \
        REPO / "resources" / "icons" / "layers" / "pool.svg"
