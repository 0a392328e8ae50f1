//! Links the static FFmpeg of vendor/ffmpeg-min (scripts/setup-ffmpeg.sh;
//! ffmpeg-sys-next finds it through FFMPEG_DIR, .cargo/config.toml): the
//! system library its archives need besides libc and libm, and a relink
//! whenever setup rebuilds it.

fn main() {
    println!("cargo:rerun-if-env-changed=FFMPEG_DIR");
    if let Ok(dir) = std::env::var("FFMPEG_DIR") {
        println!("cargo:rerun-if-changed={dir}/STAMP");
    }
    // libavformat's zlib (compressed MP4 headers and Matroska tracks). A link
    // argument comes after every archive on the linker's command line, so the
    // linker keeps libz for the references libavformat.a makes.
    println!("cargo:rustc-link-arg=-lz");
}
