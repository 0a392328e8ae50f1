//! Link-time settings of the host's binaries (issue 22, peak memory and start).
//!
//! `-z pack-relative-relocs` stores the ~61k relative relocations of a
//! position-independent executable as a compact bitmap (DT_RELR, glibc >=
//! 2.36: Debian 12) instead of 24-byte RELA entries: 1.4 MB less that the
//! dynamic loader reads (and keeps resident) at every start.
//!
//! The static FFmpeg of vendor/ffmpeg-min (scripts/setup-ffmpeg.sh;
//! ffmpeg-sys-next finds it through FFMPEG_DIR, .cargo/config.toml): the
//! system library its archives need besides libc and libm, and a relink
//! whenever setup rebuilds it.

fn main() {
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let gnu = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "gnu");
    if linux && gnu {
        println!("cargo:rustc-link-arg=-Wl,-z,pack-relative-relocs");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FFMPEG_DIR");
    if let Ok(dir) = std::env::var("FFMPEG_DIR") {
        println!("cargo:rerun-if-changed={dir}/STAMP");
    }
    // libavformat's zlib (compressed MP4 headers and Matroska tracks). A link
    // argument comes after every archive on the linker's command line, so the
    // linker keeps libz for the references libavformat.a makes.
    println!("cargo:rustc-link-arg=-lz");
}
