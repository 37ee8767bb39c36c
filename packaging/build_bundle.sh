#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle (packaging/visionstudio.spec) in a throw-away venv.
#
#   packaging/build_bundle.sh                 # CPU torch from https://download.pytorch.org/whl/cpu
#   TORCH=cuda packaging/build_bundle.sh      # torch from PyPI (CUDA on Linux: ~3-4 GB more)
#   TORCH=reuse DEPS_SITE=/path/to/.venv/lib/python3.11/site-packages packaging/build_bundle.sh
#                                             # offline: borrow torch/PySide6/... from a venv
#
# Environment: PYTHON (interpreter for the venv, default python3), TORCH (cpu|cuda|reuse),
# TORCH_INDEX (default https://download.pytorch.org/whl/cpu), OUT (default dist/bundle),
# KEEP_VENV=1 to keep the build venv, VISIONSTUDIO_BUNDLE_ONNX=1 to bundle ONNX export.
# Output: $OUT/visionstudio/{visionstudio,visionstudio-gui,_internal/} and its size.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TORCH="${TORCH:-cpu}"
TORCH_INDEX="${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
OUT="${OUT:-$ROOT/dist/bundle}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/visionstudio-bundle.XXXXXX")"
cleanup() { if [[ "${KEEP_VENV:-0}" != 1 ]]; then rm -rf "$WORK"; else echo "kept $WORK"; fi; }
trap cleanup EXIT

echo "== venv in $WORK/venv ($("$PYTHON" --version))"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
[[ -x "$VPY" ]] || VPY="$WORK/venv/Scripts/python.exe"   # Git Bash on Windows
PIP=("$VPY" -m pip install --disable-pip-version-check)

case "$TORCH" in
  cpu)   "${PIP[@]}" torch torchvision --index-url "$TORCH_INDEX" ;;
  cuda)  "${PIP[@]}" torch torchvision ;;
  reuse)
    : "${DEPS_SITE:?TORCH=reuse needs DEPS_SITE=<site-packages with torch, PySide6, ...>}"
    SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
    echo "$DEPS_SITE" > "$SITE/zz_visionstudio_deps.pth" ;;
  *) echo "TORCH must be cpu, cuda or reuse (got $TORCH)" >&2; exit 2 ;;
esac

echo "== pyinstaller + VisionStudio"
"${PIP[@]}" "pyinstaller>=6.10"
# Build the wheel (reproducible, from a copy of the tree) and install it with its deps;
# torch/torchvision are already satisfied, so pip does not swap in another flavour.
"$VPY" -m pip install --disable-pip-version-check "build>=1.2" "setuptools>=70.1"
"$VPY" "$ROOT/packaging/build_dist.py" --wheel -o "$WORK/wheel"
if [[ "$TORCH" == reuse ]]; then
  "${PIP[@]}" --no-deps "$WORK"/wheel/visionstudio-*.whl
else
  "${PIP[@]}" "$WORK"/wheel/visionstudio-*.whl
fi
if [[ "${VISIONSTUDIO_BUNDLE_ONNX:-0}" == 1 && "$TORCH" != reuse ]]; then
  "${PIP[@]}" onnx onnxruntime onnxscript
fi

echo "== pyinstaller"
# Run from the work folder so that `import visionstudio` resolves to the installed wheel.
(cd "$WORK" && "$VPY" -m PyInstaller --noconfirm --clean --log-level WARN \
   --distpath "$OUT" --workpath "$WORK/pyi" "$ROOT/packaging/visionstudio.spec")

echo "== smoke test"
"$OUT/visionstudio/visionstudio" --version
(cd "$WORK" && "$OUT/visionstudio/visionstudio" summary classic_cnn | grep "Total params")

echo "== size"
du -sh "$OUT/visionstudio"
du -sh "$OUT/visionstudio/_internal/"{torch,nvidia,PySide6} 2>/dev/null || true
