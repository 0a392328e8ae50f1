# Sourced by scripts/setup.sh: the Python and JavaScript plugin toolchains
# (pinned, into vendor/), and the Python/JavaScript example plugins and test
# guests, built with `edgepipe plugin build`. Idempotent: installs only what is
# missing, rebuilds only a plugin whose sources (or the SDKs, WIT, host) changed.

CPY_VERSION="0.25.1"
CJS_VERSION="0.23.0"
CPY_VENV="$VENDOR/componentize-py"
CJS_PREFIX="$VENDOR/componentize-js"
LANG_PLUGINS=(plugins/occupancy-alert plugins/hub-formatter)
LANG_GUESTS=(tests/guests/hostile-py tests/guests/hostile-js)

install_plugin_toolchains() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "node and npm (Node.js 20) are needed for JavaScript plugins; run: sudo apt-get install -y nodejs npm"
    say "installing nodejs and npm"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  if ! "$CPY_VENV/bin/componentize-py" --version 2>/dev/null | grep -qx "componentize-py $CPY_VERSION"; then
    say "installing componentize-py $CPY_VERSION into $CPY_VENV"
    python3 -m venv "$CPY_VENV" || die "python3 -m venv failed; on Debian: sudo apt-get install -y python3-venv"
    "$CPY_VENV/bin/pip" install --quiet "componentize-py==$CPY_VERSION" >&2
  fi
  local pkg="$CJS_PREFIX/node_modules/@bytecodealliance/componentize-js/package.json"
  if ! grep -q "\"version\": \"$CJS_VERSION\"" "$pkg" 2>/dev/null; then
    say "installing @bytecodealliance/componentize-js $CJS_VERSION into $CJS_PREFIX"
    npm install --silent --no-audit --no-fund --prefix "$CJS_PREFIX" "@bytecodealliance/componentize-js@$CJS_VERSION" >&2
  fi
}

# Build DIR with `edgepipe plugin build` unless DIR/<name>.wasm is newer than
# its sources, the SDKs and the WIT; copy it to $2/<name>.wasm.
build_lang_plugin() {
  local dir="$1" dest="$2" name wasm
  name="$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/plugin.toml")"
  wasm="$dir/$name.wasm"
  if [ ! -f "$wasm" ] || [ -n "$(find "$dir" plugins/sdk-python plugins/sdk-js wit \
        -newer "$wasm" -type f \( -name '*.py' -o -name '*.js' -o -name '*.toml' -o -name '*.wit' \) -print -quit)" ]; then
    say "building $dir"
    target/release/edgepipe plugin build "$dir"
  fi
  mkdir -p "$dest"
  cmp -s "$wasm" "$dest/$name.wasm" 2>/dev/null || cp "$wasm" "$dest/$name.wasm"
}

build_plugin_langs() {
  local d
  for d in "${LANG_PLUGINS[@]}"; do build_lang_plugin "$d" "$PLUGIN_DIR"; done
  for d in "${LANG_GUESTS[@]}"; do build_lang_plugin "$d" "$ROOT/target/test-guests"; done
}
