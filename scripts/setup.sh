#!/usr/bin/env bash
# Idempotent set-up for edgepipe on Debian 12: system packages, the wasm target,
# the ONNX Runtime library, the default model, the named models converted to
# ONNX (scripts/setup-models.sh), the sample clip, and the build.
# Everything fetched goes under vendor/ (git-ignored); a second run only checks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"

VENDOR="$ROOT/vendor"
# onnxruntime-openvino: one libonnxruntime serves both execution providers
# (cpu built in, openvino loaded from the libraries beside it; README, "Execution providers").
ORT_VERSION="1.24.1"
ORT_WHEEL="onnxruntime-openvino"
ORT_DIR="$VENDOR/onnxruntime"
ORT_LIB="$ORT_DIR/libonnxruntime.so.$ORT_VERSION"
ORT_OPENVINO="$ORT_DIR/libonnxruntime_providers_openvino.so"
MODEL="$ROOT/models/yolov12n.onnx"
MODEL_SHA256="e548ab3a406227202334bf5a6623c9814ac6286ff04e68aeb4dc2357732d1a4f"
EASY_YOLO_VERSION="0.1.3"
CLIP="$VENDOR/data/vtest.avi"
PLUGIN_DIR="$ROOT/target/plugins"
PLUGINS=(people-counter course-topics draw-boxes class-names speedometer line-counter)
# docker-registry, skopeo and apache2-utils (htpasswd): the fleet tests' real OCI registry (README, "Fleets").
# curl: the fleet tests PUT a hand-made manifest straight to the registry.
# libopencv-dev for OpenCV core + imgproc only; nasm and dpkg-dev: the minimal static
# FFmpeg built from Debian's source package (scripts/setup-ffmpeg.sh; ffmpeg: its
# version, and the tests' encoder);
# libturbojpeg0-dev: the live view encodes JPEG with libjpeg-turbo (turbojpeg).
APT_PACKAGES=(libopencv-dev nasm dpkg-dev libturbojpeg0-dev clang libclang-dev ffmpeg mosquitto mosquitto-clients pkg-config openssl chromium docker-registry skopeo apache2-utils curl libssl-dev)
# The live view's browser test: Debian's chromium driven by playwright-core (no browser download).
PLAYWRIGHT_VERSION="1.65.1"
NODE_DIR="$VENDOR/node"

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# 1. Debian packages ---------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]}; run: sudo apt-get update && sudo apt-get install -y ${missing[*]}"
  fi
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Node.js for the browser test (any recent one already installed will do).
if ! command -v npm >/dev/null; then
  [ "$(id -u)" -eq 0 ] || die "npm is missing; run: sudo apt-get install -y nodejs npm"
  say "installing nodejs and npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -f "$NODE_DIR/node_modules/playwright-core/package.json" ] \
   || ! grep -q "\"version\": \"$PLAYWRIGHT_VERSION\"" "$NODE_DIR/node_modules/playwright-core/package.json"; then
  say "installing playwright-core $PLAYWRIGHT_VERSION into vendor/node"
  mkdir -p "$NODE_DIR"
  [ -f "$NODE_DIR/package.json" ] || echo '{"private": true}' > "$NODE_DIR/package.json"
  (cd "$NODE_DIR" && npm install --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_VERSION" >&2)
fi

# 2. The wasm target ---------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  say "adding rust target wasm32-wasip2"
  rustup target add wasm32-wasip2
fi
# rustfmt and clippy: scripts/test.sh checks the tree with both.
for c in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$c"; then
    say "adding rust component $c"
    rustup component add "$c"
  fi
done

# 3. ONNX Runtime shared library and the OpenVINO provider, from the PyPI wheel
if [ ! -f "$ORT_LIB" ] || [ ! -f "$ORT_OPENVINO" ]; then
  say "fetching libonnxruntime $ORT_VERSION and the OpenVINO libraries from the $ORT_WHEEL wheel"
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    "$ORT_WHEEL==$ORT_VERSION" -d "$tmp" >&2
  mkdir -p "$ORT_DIR"
  # Every shared library of onnxruntime/capi/ (not the Python module); the
  # wheel stores some three times under their link names: those become
  # symbolic links. They find each other through their RPATH/RUNPATH $ORIGIN.
  python3 - "$tmp" "$ORT_DIR" <<'PY'
import glob, hashlib, os, sys, zipfile
tmp, out = sys.argv[1:3]
wheel = glob.glob(os.path.join(tmp, "onnxruntime_openvino-*.whl"))[0]
written = {}
with zipfile.ZipFile(wheel) as z:
    names = sorted((n for n in z.namelist() if n.startswith("onnxruntime/capi/lib") and ".so" in n), key=len, reverse=True)
    for n in names:
        data, base = z.read(n), os.path.basename(n)
        dst = os.path.join(out, base)
        if os.path.lexists(dst):
            os.remove(dst)
        digest = hashlib.sha256(data).hexdigest()
        if digest in written:
            os.symlink(written[digest], dst)
            continue
        with open(dst + ".part", "wb") as f:
            f.write(data)
        os.rename(dst + ".part", dst)
        written[digest] = base
PY
  rm -rf "$tmp"
fi
ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_DIR/libonnxruntime.so"

# 4. The default model: yolov12n.onnx from the easy-yolo crate --------------
model_ok() { [ -f "$MODEL" ] && echo "$MODEL_SHA256  $MODEL" | sha256sum -c --status; }
if ! model_ok; then
  say "fetching yolov12n.onnx from crate easy-yolo $EASY_YOLO_VERSION (the crate is downloaded, never built)"
  scratch="$(mktemp -d)"
  mkdir -p "$scratch/home" "$scratch/proj/src"
  cat > "$scratch/proj/Cargo.toml" <<TOML
[package]
name = "fetch-model"
version = "0.0.0"
edition = "2021"
[dependencies]
easy-yolo = { version = "=$EASY_YOLO_VERSION", default-features = false }
TOML
  : > "$scratch/proj/src/lib.rs"
  (cd "$scratch/proj" && CARGO_HOME="$scratch/home" cargo fetch --quiet)
  crate="$(find "$scratch/home/registry/cache" -name "easy-yolo-$EASY_YOLO_VERSION.crate" | head -n1)"
  [ -n "$crate" ] || die "cargo fetch did not produce easy-yolo-$EASY_YOLO_VERSION.crate"
  tar -xzf "$crate" -C "$scratch"
  zip="$(find "$scratch/easy-yolo-$EASY_YOLO_VERSION" -name 'yolov12n.onnx.zip' | head -n1)"
  [ -n "$zip" ] || die "yolov12n.onnx.zip not found in easy-yolo-$EASY_YOLO_VERSION"
  python3 - "$zip" "$MODEL" <<'PY'
import sys, zipfile
src, dst = sys.argv[1:3]
with zipfile.ZipFile(src) as z:
    name = next(n for n in z.namelist() if n.endswith("yolov12n.onnx"))
    data = z.read(name)
with open(dst, "wb") as f:
    f.write(data)
PY
  rm -rf "$scratch"
  model_ok || die "sha256 of $MODEL does not match $MODEL_SHA256"
fi

# 5. The sample clip, from Debian's opencv-doc -------------------------------
if [ ! -f "$CLIP" ]; then
  say "fetching vtest.avi from Debian's opencv-doc"
  scratch="$(mktemp -d)"
  chmod 777 "$scratch"   # apt-get download runs as _apt when root
  (cd "$scratch" && apt-get download -qq opencv-doc >/dev/null 2>&1) || {
    [ "$(id -u)" -eq 0 ] && apt-get update -qq && (cd "$scratch" && apt-get download -qq opencv-doc >/dev/null)
  }
  deb="$(ls "$scratch"/opencv-doc_*.deb 2>/dev/null | head -n1)"
  [ -n "$deb" ] || die "could not download opencv-doc (apt-get download opencv-doc)"
  dpkg -x "$deb" "$scratch/x"
  mkdir -p "$(dirname "$CLIP")"
  cp "$scratch/x/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$CLIP"
  rm -rf "$scratch"
fi

# 5b. py-motmetrics, only for the test that cross-checks `edgepipe eval` ----
MM_VENV="$VENDOR/motmetrics-venv"
MM_PINS=(motmetrics==1.4.0 numpy==1.26.4 pandas==2.2.3 scipy==1.13.1)   # motmetrics 1.4 needs numpy < 2
if ! "$MM_VENV/bin/python" -c "import motmetrics" 2>/dev/null; then
  say "installing py-motmetrics into $MM_VENV (for the eval cross-check test)"
  python3 -m venv "$MM_VENV"
  "$MM_VENV/bin/pip" install --quiet "${MM_PINS[@]}" >&2
fi

# 5c. The named models besides yolov12n, and the layout test models --------
# shellcheck source=scripts/setup-models.sh
source "$ROOT/scripts/setup-models.sh"
setup_models

# 5d. The minimal static FFmpeg the host links (vendor/ffmpeg-min) ------------
# shellcheck source=scripts/setup-ffmpeg.sh
source "$ROOT/scripts/setup-ffmpeg.sh"
setup_ffmpeg_min

# 6. Python and JavaScript plugin toolchains (plugins/sdk-python, sdk-js) ------
# shellcheck source=scripts/setup-plugin-langs.sh
source "$ROOT/scripts/setup-plugin-langs.sh"
install_plugin_toolchains

# 7. Build the host and the plugins ------------------------------------------
if [ "${EDGEPIPE_SETUP_NO_BUILD:-0}" = 1 ]; then say "assets ready (build skipped)"; exit 0; fi
say "building host (release)"
cargo build --release -p edgepipe --quiet
say "building plugins (wasm32-wasip2)"
pkgs=(); for p in "${PLUGINS[@]}"; do pkgs+=(-p "$p"); done
cargo build --quiet --profile plugin --target wasm32-wasip2 "${pkgs[@]}"
mkdir -p "$PLUGIN_DIR"
for p in "${PLUGINS[@]}"; do
  src="target/wasm32-wasip2/plugin/${p//-/_}.wasm"
  cmp -s "$src" "$PLUGIN_DIR/$p.wasm" 2>/dev/null || cp "$src" "$PLUGIN_DIR/$p.wasm"
done
# Guests for the tests only (tests/guests). legacy-topics, legacy-v2-topics and
# legacy-draw with camera-topics turn on the SDK's v0_1_0, v0_2_0 and v0_3_0 features, so each is
# built on its own (features of one build unify).
GUEST_DIR="$ROOT/target/test-guests"
say "building test guests (wasm32-wasip2)"
cargo build --quiet --profile plugin --target wasm32-wasip2 -p hostile -p hostile-topics -p future-version -p noisy-topics -p hostile-overlay
cargo build --quiet --profile plugin --target wasm32-wasip2 -p legacy-topics
cargo build --quiet --profile plugin --target wasm32-wasip2 -p legacy-draw -p camera-topics
cargo build --quiet --profile plugin --target wasm32-wasip2 -p legacy-v2-topics
mkdir -p "$GUEST_DIR"
for p in hostile hostile-topics future-version legacy-topics legacy-v2-topics noisy-topics camera-topics legacy-draw hostile-overlay; do
  src="target/wasm32-wasip2/plugin/${p//-/_}.wasm"
  cmp -s "$src" "$GUEST_DIR/$p.wasm" 2>/dev/null || cp "$src" "$GUEST_DIR/$p.wasm"
done
build_plugin_langs
say "ready: ORT $ORT_LIB, model $MODEL, clip $CLIP, plugins $PLUGIN_DIR"
