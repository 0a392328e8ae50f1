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
fn the_binary_links_no_ffmpeg_library_nor_opencv_videoio_or_imgcodecs() {
    // FFmpeg is linked in statically (vendor/ffmpeg-min, scripts/setup-ffmpeg.sh):
    // Debian's shared libav* pulled ~120 libraries more (28 MiB resident).
    let out = Command::new("ldd").arg(common::bin()).output().unwrap();
    assert!(out.status.success());
    let libs = String::from_utf8_lossy(&out.stdout);
    assert!(
        libs.contains("libopencv_core"),
        "keeps OpenCV core:\n{libs}"
    );
    for heavy in [
        "libavcodec",
        "libavformat",
        "libavutil",
        "libavdevice",
        "libavfilter",
        "libswscale",
        "libswresample",
        "libpostproc",
        "libopencv_videoio",
        "libopencv_imgcodecs",
        "libgdal",
        "libgstreamer",
    ] {
        assert!(!libs.contains(heavy), "{heavy} is linked:\n{libs}");
    }
}

/// Every frame of `input` as BGR24, decoded by Debian's `ffmpeg` CLI.
fn ffmpeg_frames(input: &Path, frame_len: usize) -> Vec<Vec<u8>> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-i"])
        .arg(input)
        .args(["-f", "rawvideo", "-pix_fmt", "bgr24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg decodes {input:?}");
    assert_eq!(out.stdout.len() % frame_len, 0);
    out.stdout.chunks(frame_len).map(<[u8]>::to_vec).collect()
}

#[test]
fn common_camera_codecs_decode_to_the_frames_debians_ffmpeg_gives() {
    // Clips in codecs and containers cameras and phones write (vtest.avi is
    // MS-MPEG4 in AVI), encoded by Debian's ffmpeg with B-frames where the
    // codec has them: every frame, in order, equals what Debian's own FFmpeg
    // decodes, and the frame count and rate come out right.
    const FRAMES: usize = 24;
    let dir = common::TempDir::new("codecs");
    for (codec, file) in [
        (&["-c:v", "libx264"][..], "h264.mp4"),
        (
            &["-c:v", "libx265", "-x265-params", "log-level=error"],
            "hevc.mkv",
        ),
        (&["-c:v", "libvpx-vp9"], "vp9.webm"),
        (&["-c:v", "mpeg2video"], "mpeg2.ts"),
    ] {
        let clip = dir.path().join(file);
        let n = FRAMES.to_string();
        let mut args = vec!["-frames:v", &n, "-r", "10", "-pix_fmt", "yuv420p"];
        args.extend_from_slice(codec);
        ffmpeg(&common::clip(), &args, &clip);
        let want = ffmpeg_frames(&clip, 768 * 576 * 3);
        assert_eq!(want.len(), FRAMES, "{file}");
        let mut cap = Capture::open(clip.to_str().unwrap()).unwrap();
        assert_eq!((cap.width(), cap.height()), (768, 576), "{file}");
        assert!((cap.fps() - 10.0).abs() < 1e-6, "{file}: {} fps", cap.fps());
        if file.ends_with(".mp4") {
            assert_eq!(
                cap.frame_count(),
                Some(FRAMES as u64),
                "MP4 counts its frames"
            );
        }
        let mut got = Vec::new();
        while let Some(f) = cap.next_frame().unwrap() {
            got.push(f.mat.data_bytes().unwrap().to_vec());
        }
        assert_eq!(got.len(), FRAMES, "{file}: frames decoded");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(g == w, "{file}: frame {i} differs from Debian's ffmpeg");
        }
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
    // Past the end (vtest.avi has 795 frames): it starts at its first frame.
    let mut cap = Capture::open(clip.to_str().unwrap()).unwrap();
    assert!(!cap.seek_to(5000));
    for (i, want) in all.iter().take(3).enumerate() {
        let f = cap.next_frame().unwrap().unwrap();
        assert_eq!(f.index, i as u64);
        assert!(f.mat.data_bytes().unwrap() == want.as_slice(), "frame {i}");
    }
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

#[test]
fn a_protocol_or_codec_not_built_in_is_one_clear_error() {
    // The built-in FFmpeg has no TLS and no AV1 decoder
    // (scripts/setup-ffmpeg.sh): both say so instead of an empty message.
    let err = Capture::open("https://127.0.0.1:9/video.mp4")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("reads no such URL") && err.contains("rtsp"),
        "{err}"
    );
    let dir = common::TempDir::new("av1");
    let clip = dir.path().join("av1.mkv");
    let args = ["-frames:v", "2", "-s", "160x120", "-c:v", "libaom-av1"];
    ffmpeg(
        &common::clip(),
        &[&args[..], &["-cpu-used", "8"]].concat(),
        &clip,
    );
    let err = Capture::open(clip.to_str().unwrap())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("cannot decode its video (av1)"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}
