//! Shapes paint what the canvas paints; hostile lists are bounded.

use super::*;
use crate::plugin::bindings::latest::{Blend, Fill, Line, Outline, Text};

const W: u32 = 64;
const H: u32 = 48;
const C: Bgr = Bgr { b: 1, g: 2, r: 3 };

fn frame() -> Vec<u8> {
    (0..W * H * 3).map(|i| (i * 7919 % 251) as u8).collect()
}

fn area(x0: i32, y0: i32, x1: i32, y1: i32) -> Area {
    Area { x0, y0, x1, y1 }
}

fn fill(a: Area) -> Shape {
    Shape::Fill(Fill { area: a, colour: C })
}

fn text(x: i32, y: i32, s: &str, scale: u32) -> Shape {
    Shape::Text(Text {
        x,
        y,
        text: s.into(),
        scale,
        colour: C,
    })
}

#[test]
fn each_shape_paints_what_the_canvas_paints() {
    let shapes = [
        fill(area(-3, 2, 20, 9)),
        Shape::Blend(Blend {
            area: area(5, 5, 70, 30),
            colour: C,
            alpha: 200,
        }),
        Shape::Outline(Outline {
            area: area(10, 10, 40, 40),
            thickness: 3,
            colour: C,
        }),
        Shape::Line(Line {
            x0: -5,
            y0: 40,
            x1: 60,
            y1: 3,
            thickness: 2,
            colour: C,
        }),
        text(2, 30, "person #3 87%", 2),
    ];
    let mut got = frame();
    let done = paint(&mut got, W, H, &shapes);
    assert_eq!(
        done,
        Painted {
            painted: 5,
            refused: 0,
            reason: None
        }
    );
    let mut want = frame();
    let mut cv = Canvas {
        px: &mut want,
        w: W.into(),
        h: H.into(),
    };
    cv.fill(-3, 2, 20, 9, [1, 2, 3]);
    cv.blend(5, 5, 70, 30, [1, 2, 3], 200);
    cv.rect(10, 10, 40, 40, 3, [1, 2, 3]);
    cv.line(-5, 40, 60, 3, 2, [1, 2, 3]);
    cv.text(2, 30, "person #3 87%", 2, [1, 2, 3]);
    assert!(got == want);
    assert_ne!(got, frame(), "something was painted");
}

#[test]
fn more_shapes_than_the_cap_are_refused_and_counted() {
    let shapes = vec![fill(area(0, 0, 1, 1)); MAX_SHAPES + 1000];
    let mut px = frame();
    let done = paint(&mut px, W, H, &shapes);
    assert_eq!((done.painted, done.refused), (MAX_SHAPES, 1000));
    assert_eq!(done.reason, Some("more than 4096 shapes in a frame"));
}

#[test]
fn text_beyond_64_kib_a_frame_is_refused() {
    let big = "x".repeat(40 << 10);
    let shapes = [
        text(0, 0, &big, 1),
        text(0, 10, &big, 1),
        text(0, 20, "ok", 1),
    ];
    let mut px = frame();
    let done = paint(&mut px, W, H, &shapes);
    assert_eq!((done.painted, done.refused), (2, 1));
    assert_eq!(done.reason, Some("more than 64 KiB of text in a frame"));
}

#[test]
fn paint_beyond_16_frames_is_refused_small_shapes_still_fit() {
    let shapes = vec![fill(area(-100, -100, 1000, 1000)); 20];
    let mut px = frame();
    let done = paint(&mut px, W, H, &shapes);
    assert_eq!((done.painted, done.refused), (16, 4));
    assert!(done.reason.is_some_and(|r| r.contains("16 times")));
    // 15.5 frames' worth, then a whole frame (too much), then a quarter (fits).
    let mut shapes = vec![fill(area(0, 0, 64, 24)); 31];
    shapes.push(fill(area(0, 0, 64, 48)));
    shapes.push(fill(area(0, 0, 32, 24)));
    let done = paint(&mut px, W, H, &shapes);
    assert_eq!((done.painted, done.refused), (32, 1));
}

#[test]
fn wild_coordinates_thicknesses_and_scales_are_clipped() {
    let (lo, hi) = (i32::MIN, i32::MAX);
    let shapes = [
        fill(area(lo, lo, hi, hi)),
        Shape::Blend(Blend {
            area: area(hi, lo, lo, hi),
            colour: C,
            alpha: u16::MAX,
        }),
        Shape::Outline(Outline {
            area: area(lo, lo, hi, hi),
            thickness: u32::MAX,
            colour: C,
        }),
        Shape::Line(Line {
            x0: lo,
            y0: hi,
            x1: hi,
            y1: lo,
            thickness: u32::MAX,
            colour: C,
        }),
        text(lo, hi, "far away", u32::MAX),
        text(hi, lo, "far away", 0),
        text(-8, -8, &"é".repeat(1000), u32::MAX),
    ];
    let mut px = frame();
    let done = paint(&mut px, W, H, &shapes);
    assert_eq!(done.painted + done.refused, shapes.len());
    assert!(done.painted >= 1, "{done:?}");
    assert_eq!(px.len(), (W * H * 3) as usize);
    // The whole-frame fill came first: every pixel is the colour or a mix.
    assert!(px.chunks_exact(3).all(|p| p == [1, 2, 3]));
}

#[test]
fn a_frame_whose_size_is_wrong_is_left_alone() {
    let mut px = vec![7u8; 10];
    let done = paint(&mut px, W, H, &[fill(area(0, 0, 5, 5))]);
    assert_eq!((done.painted, done.refused), (0, 1));
    assert_eq!(px, vec![7u8; 10]);
    let done = paint(&mut [], u32::MAX, u32::MAX, &[fill(area(0, 0, 5, 5))]);
    assert_eq!(done.refused, 1);
}
