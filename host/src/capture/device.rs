//! Camera devices: FFmpeg's V4L2 input, linked in with the minimal static
//! FFmpeg (libavdevice built with the `v4l2` input only;
//! scripts/setup-ffmpeg.sh).

use std::sync::Once;

use ffmpeg_next::ffi;

/// FFmpeg's `v4l2` input format, registering libavdevice's inputs once.
pub fn v4l2() -> Result<*const ffi::AVInputFormat, String> {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(ffmpeg_next::device::register_all);
    // SAFETY: a lookup by a NUL-terminated name; the result is static data.
    let format = unsafe { ffi::av_find_input_format(c"v4l2".as_ptr()) };
    if format.is_null() {
        return Err("this FFmpeg has no V4L2 input".into());
    }
    Ok(format)
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
    fn the_v4l2_input_is_found_in_the_linked_libavdevice() {
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
