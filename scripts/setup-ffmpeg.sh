# Sourced by scripts/setup.sh: a minimal static FFmpeg in vendor/ffmpeg-min/,
# built from Debian's own source package of the FFmpeg Debian 12 ships (the
# version of the installed `ffmpeg` package), with only the demuxers,
# decoders, parsers, protocols and the V4L2 input an edge video host needs.
# The host links it statically (.cargo/config.toml: FFMPEG_DIR), so no
# Debian libav*/libsw* library (and none of the ~120 they pull in) is loaded.
# Rebuilt only when the source version or the configure flags change: both
# are recorded in vendor/ffmpeg-min/STAMP.

FFMIN_DIR="$VENDOR/ffmpeg-min"
FFMIN_DECODERS=(h264 hevc mpeg4 h263 flv msmpeg4v1 msmpeg4v2 msmpeg4v3 mjpeg mpeg1video mpeg2video vp8 vp9 rawvideo ffv1)
FFMIN_PARSERS=(h264 hevc mpeg4video h263 mjpeg mpegvideo vp8 vp9)
FFMIN_DEMUXERS=(avi mov matroska mpegts mpegps mpegvideo flv rtsp rtp sdp h264 hevc m4v mjpeg mpjpeg ivf yuv4mpegpipe hls)
FFMIN_PROTOCOLS=(file pipe tcp udp rtp http httpproxy)
# LGPL build (no --enable-gpl); no https (TLS would load libssl + libcrypto,
# ~2 MiB resident more; README, "Video decoding"); zlib is loaded anyway by
# OpenCV's core (compressed MP4 headers, zlib-compressed Matroska tracks).
FFMIN_FLAGS=(
  --enable-static --disable-shared --enable-pic
  --disable-programs --disable-doc --disable-debug
  --disable-everything --disable-autodetect --enable-pthreads --enable-zlib
  --disable-avfilter --disable-swresample --disable-postproc
  --enable-avdevice --enable-avformat --enable-avcodec --enable-swscale
  --enable-indev=v4l2
  "--enable-decoder=$(IFS=,; echo "${FFMIN_DECODERS[*]}")"
  "--enable-parser=$(IFS=,; echo "${FFMIN_PARSERS[*]}")"
  "--enable-demuxer=$(IFS=,; echo "${FFMIN_DEMUXERS[*]}")"
  "--enable-protocol=$(IFS=,; echo "${FFMIN_PROTOCOLS[*]}")"
)

# The source version to build: the installed `ffmpeg` package's (Debian 12's).
ffmin_version() {
  dpkg-query -W -f='${Version}' ffmpeg 2>/dev/null || die "the ffmpeg package is not installed"
}

ffmin_stamp() {
  printf 'debian-source ffmpeg %s\nconfigure %s\n' "$1" "${FFMIN_FLAGS[*]}"
}

# Debian's source package through a private apt configuration (its own
# deb-src list and index under the build folder): the system's apt sources
# stay as they are, and the archive's signatures are checked as usual.
ffmin_fetch_source() {
  local version="$1" work="$2" apt="$2/apt" list
  mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
  list="$apt/sources.list"
  : > "$list"
  local archive suite
  while read -r archive suite; do
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/$archive $suite main" >> "$list"
  done <<'EOF'
debian bookworm
debian bookworm-updates
debian-security bookworm-security
EOF
  local opts=(-o "Dir::Etc::SourceList=$list" -o "Dir::Etc::SourceParts=$apt/none"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "APT::Sandbox::User=$(id -un)")
  apt-get "${opts[@]}" -qq update >&2 || die "apt-get update of Debian's source index failed"
  (cd "$work" && apt-get "${opts[@]}" -qq source --download-only "ffmpeg=$version" >&2) \
    || die "Debian's source package ffmpeg=$version could not be downloaded"
  # apt checked the files against the archive's signed index (the .dsc's
  # own signature needs the Debian developers' keyring, not installed).
  dpkg-source --no-check -x "$work"/ffmpeg_*.dsc "$work/src" >/dev/null
}

setup_ffmpeg_min() {
  local version stamp work start
  version="$(ffmin_version)"
  stamp="$(ffmin_stamp "$version")"
  if [ -f "$FFMIN_DIR/STAMP" ] && [ "$(cat "$FFMIN_DIR/STAMP")" = "$stamp" ] \
     && [ -f "$FFMIN_DIR/lib/libavformat.a" ]; then
    return 0
  fi
  say "building a minimal static FFmpeg from Debian's source package ffmpeg $version into vendor/ffmpeg-min"
  start=$SECONDS
  work="$VENDOR/ffmpeg-min.build"
  rm -rf "$work"
  mkdir -p "$work"
  ffmin_fetch_source "$version" "$work"
  (cd "$work/src" && ./configure --prefix="$FFMIN_DIR" "${FFMIN_FLAGS[@]}" >"$work/configure.log" 2>&1) \
    || die "FFmpeg's configure failed (see $work/configure.log)"
  # Installed into a staging folder first: a failed build leaves the old one.
  (cd "$work/src" && make -j"${FFMIN_JOBS:-2}" >"$work/make.log" 2>&1 \
     && make install DESTDIR="$work/dest" >>"$work/make.log" 2>&1) \
    || die "building FFmpeg failed (see $work/make.log)"
  echo "$stamp" > "$work/dest$FFMIN_DIR/STAMP"
  rm -rf "$FFMIN_DIR"
  mv "$work/dest$FFMIN_DIR" "$FFMIN_DIR"
  rm -rf "$work"
  say "minimal FFmpeg built in $((SECONDS - start)) s"
}
