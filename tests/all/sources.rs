//! Frame sources read with FFmpeg and the `image` crate (host/src/capture/):
//! what the binary links, pixel formats that become BGR, frame-exact seeking,
//! and the clear errors of a camera that is not there and a URL that stalls.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use edgepipe::capture::Capture;
use opencv::prelude::*;

use crate::common;

/// `ffmpeg -i IN ARGS OUT` (frames in another form).
fn ffmpeg(input: &Path, args: &[&str], out: &Path) {
    let ok = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(input)
        .args(args)
        .arg(out)
        .status()
        .unwrap();
    assert!(ok.success(), "ffmpeg {args:?}");
}

fn frames(input: &Path, n: usize) -> Vec<Vec<u8>> {
    let mut cap = Capture::open(input.to_str().unwrap()).unwrap();
    (0..n)
        .map(|_| {
            let f = cap.next_frame().unwrap().unwrap();
            assert_eq!(f.mat.channels(), 3);
            f.mat.data_bytes().unwrap().to_vec()
        })
        .collect()
}

#[test]
fn the_binary_links_neither_opencv_videoio_nor_imgcodecs() {
    let out = Command::new("ldd").arg(common::bin()).output().unwrap();
    assert!(out.status.success());
    let libs = String::from_utf8_lossy(&out.stdout);
    assert!(
        libs.contains("libavcodec") && libs.contains("libopencv_core"),
        "decodes with FFmpeg, keeps OpenCV core:\n{libs}"
    );
    for heavy in [
        "libopencv_videoio",
        "libopencv_imgcodecs",
        "libgdal",
        "libgstreamer",
        "libavdevice",
    ] {
        assert!(!libs.contains(heavy), "{heavy} is linked:\n{libs}");
    }
}

#[test]
fn grey_and_alpha_sources_come_as_bgr_of_the_same_pixels() {
    let dir = common::TempDir::new("pixfmt");
    let p = |n: &str| dir.path().join(n);
    // Everything from one RGB frame: conversions from RGB are exact.
    ffmpeg(
        &common::clip(),
        &["-frames:v", "1", "-pix_fmt", "rgb24"],
        &p("rgb.png"),
    );
    let rgb_png = p("rgb.png");
    ffmpeg(
        &rgb_png,
        &["-c:v", "ffv1", "-pix_fmt", "bgr0"],
        &p("bgr.mkv"),
    );
    ffmpeg(
        &rgb_png,
        &["-c:v", "ffv1", "-pix_fmt", "gray"],
        &p("grey.mkv"),
    );
    ffmpeg(&rgb_png, &["-pix_fmt", "rgba"], &p("rgba.png"));
    ffmpeg(&rgb_png, &["-pix_fmt", "gray"], &p("grey.png"));
    let bgr = frames(&p("bgr.mkv"), 1);
    let rgb = frames(&p("rgb.png"), 1);
    assert_eq!(
        bgr[0], rgb[0],
        "a lossless video and a PNG of frame 0 agree"
    );
    assert_eq!(
        frames(&p("rgba.png"), 1),
        rgb,
        "alpha dropped, colours kept"
    );
    let greys = [frames(&p("grey.mkv"), 1), frames(&p("grey.png"), 1)];
    assert_eq!(greys[0], greys[1], "grey video and grey PNG agree");
    for grey in greys {
        let px = &grey[0];
        assert_eq!(px.len(), 768 * 576 * 3);
        assert!(px.chunks_exact(3).all(|c| c[0] == c[1] && c[1] == c[2]));
        assert!(px.iter().any(|&v| v > 64), "not a black frame");
    }
}

#[test]
fn seeking_and_rewinding_land_on_the_exact_frame() {
    let clip = common::clip();
    let all = frames(&clip, 131);
    let mut cap = Capture::open(clip.to_str().unwrap()).unwrap();
    assert!(cap.seek_to(130));
    let f = cap.next_frame().unwrap().unwrap();
    assert_eq!(f.index, 130);
    assert!(
        f.mat.data_bytes().unwrap() == all[130].as_slice(),
        "frame 130"
    );
    assert!(cap.seek_to(7));
    let f = cap.next_frame().unwrap().unwrap();
    assert!(
        f.mat.data_bytes().unwrap() == all[7].as_slice(),
        "frame 7, backwards"
    );
    assert!(cap.rewind());
    let f = cap.next_frame().unwrap().unwrap();
    assert!(f.mat.data_bytes().unwrap() == all[0].as_slice(), "frame 0");
}

#[test]
fn a_camera_that_is_not_there_is_one_clear_error() {
    let (code, stdout, stderr) = common::run_edgepipe(&["run", "--input", "63", "--no-mqtt"]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stdout.is_empty());
    common::one_error_line(&stderr, "cannot open input 63");
}

#[test]
fn a_url_that_never_answers_fails_after_the_url_timeout() {
    // Accepts and holds every connection, never sends a byte.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let t = Instant::now();
    let err = Capture::open(&format!("http://127.0.0.1:{port}/video.mjpg"))
        .err()
        .map(|e| e.to_string());
    let took = t.elapsed();
    let err = err.unwrap_or_default();
    assert!(err.contains("did not answer in time"), "{err}");
    assert!(
        took >= edgepipe::capture::URL_TIMEOUT && took < edgepipe::capture::URL_TIMEOUT * 3,
        "{took:?}"
    );
}
