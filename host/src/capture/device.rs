//! Camera devices: FFmpeg's V4L2 input lives in libavdevice, which links 80
//! libraries more than decoding needs (SDL, PulseAudio, JACK, libavfilter,
//! ...); it is loaded when a camera is opened, not at every start.

use std::sync::OnceLock;

use ffmpeg_next::ffi;

/// FFmpeg's `v4l2` input format, registering libavdevice's inputs once.
pub fn v4l2() -> Result<*const ffi::AVInputFormat, String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED.get_or_init(register).clone()?;
    // SAFETY: a lookup by a NUL-terminated name; the result is static data.
    let format = unsafe { ffi::av_find_input_format(c"v4l2".as_ptr()) };
    if format.is_null() {
        return Err("this FFmpeg has no V4L2 input".into());
    }
    Ok(format)
}

/// The libavdevice of the libavformat this binary runs with: both carry the
/// same major version in every FFmpeg release.
fn library_name() -> String {
    format!("libavdevice.so.{}", ffmpeg_next::format::version() >> 16)
}

fn register() -> Result<(), String> {
    let name = library_name();
    // SAFETY: libavdevice's initialisers only register its devices with the
    // libavformat already loaded; the library stays loaded for the process.
    unsafe {
        let lib = libloading::Library::new(&name)
            .map_err(|e| format!("cameras need FFmpeg's {name} (Debian: libavdevice59): {e}"))?;
        let register_all: libloading::Symbol<unsafe extern "C" fn()> = lib
            .get(b"avdevice_register_all\0")
            .map_err(|e| format!("{name}: {e}"))?;
        register_all();
        std::mem::forget(lib);
    }
    Ok(())
}

/// The name a camera index opens.
pub fn path(index: i32) -> String {
    format!("/dev/video{index}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn the_v4l2_input_is_found_through_the_loaded_libavdevice() {
        assert!(library_name().starts_with("libavdevice.so."));
        let f = v4l2().map(|p| {
            // SAFETY: a non-null format from FFmpeg's registry.
            unsafe { CStr::from_ptr((*p).name) }
                .to_string_lossy()
                .into_owned()
        });
        assert_eq!(f.as_deref(), Ok("video4linux2,v4l2"));
        assert_eq!(path(2), "/dev/video2");
    }
}
