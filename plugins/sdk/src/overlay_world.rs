//! World `overlay` (contract 0.4.0): a draw stage that returns shapes for
//! the host to paint on the frame, the [`Overlay`] trait, its export macro,
//! and [`Shapes`], the list a stage builds, with the host font's metrics.

/// Bindings of world `overlay`.
pub mod overlay {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.4.0",
        world: "overlay",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "edgepipe_sdk::overlay",
        with: {
            "edgepipe:plugin/types@0.4.0": crate::stats::edgepipe::plugin::types,
            "edgepipe:plugin/host@0.4.0": crate::stats::edgepipe::plugin::host,
        },
    });
}

pub use crate::stats::edgepipe::plugin::types::{
    Area, Bgr, Blend, Fill, Line, Outline, Shape, Text,
};
use crate::{Detection, FrameInfo, Settings, Stat};

/// The host draws at most this many characters of a `text` shape.
pub const MAX_TEXT_CHARS: usize = 48;

/// Width in pixels of `text` drawn at `scale` (the host's font is 8x8).
pub fn text_width(text: &str, scale: i64) -> i64 {
    text.chars().take(MAX_TEXT_CHARS).count() as i64 * 8 * scale
}

/// A frame coordinate as the contract carries it (saturated to 32 bits;
/// the host clips it to the frame anyway).
fn c32(v: i64) -> i32 {
    v.clamp(i32::MIN.into(), i32::MAX.into()) as i32
}

fn colour(c: [u8; 3]) -> Bgr {
    Bgr {
        b: c[0],
        g: c[1],
        r: c[2],
    }
}

fn area(x0: i64, y0: i64, x1: i64, y1: i64) -> Area {
    Area {
        x0: c32(x0),
        y0: c32(y0),
        x1: c32(x1),
        y1: c32(y1),
    }
}

/// The shapes of one frame, in the order the host paints them. Colours are
/// `[blue, green, red]`; rectangles are `[x0, x1) x [y0, y1)`.
#[derive(Default, Debug, Clone)]
pub struct Shapes(pub Vec<Shape>);

impl Shapes {
    /// Fill a rectangle.
    pub fn fill(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3]) {
        self.0.push(Shape::Fill(Fill {
            area: area(x0, y0, x1, y1),
            colour: colour(c),
        }));
    }
    /// Mix `c` into a rectangle with weight `alpha`/256.
    pub fn blend(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: [u8; 3], alpha: u16) {
        self.0.push(Shape::Blend(Blend {
            area: area(x0, y0, x1, y1),
            colour: colour(c),
            alpha,
        }));
    }
    /// The outline of a rectangle, `t` pixels thick, inside its bounds.
    pub fn rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, t: i64, c: [u8; 3]) {
        if t <= 0 {
            return;
        }
        self.0.push(Shape::Outline(Outline {
            area: area(x0, y0, x1, y1),
            thickness: t.min(u32::MAX.into()) as u32,
            colour: colour(c),
        }));
    }
    /// A line, `t` pixels thick (square brush).
    pub fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, t: i64, c: [u8; 3]) {
        self.0.push(Shape::Line(Line {
            x0: c32(x0),
            y0: c32(y0),
            x1: c32(x1),
            y1: c32(y1),
            thickness: t.clamp(1, 64) as u32,
            colour: colour(c),
        }));
    }
    /// `text` with its top-left corner at (x, y); a font pixel is `scale` x `scale`.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: i64, c: [u8; 3]) {
        self.0.push(Shape::Text(Text {
            x: c32(x),
            y: c32(y),
            text: text.chars().take(MAX_TEXT_CHARS).collect(),
            scale: scale.clamp(1, 32) as u32,
            colour: colour(c),
        }));
    }
}

/// A draw stage that returns shapes; the host paints them on the frame
/// (the frame's pixels never travel into the stage).
pub trait Overlay: Default + 'static {
    fn configure(&mut self, _settings: Settings) -> Result<(), String> {
        Ok(())
    }
    /// The shapes to paint on the frame `info` describes.
    fn overlay(&mut self, info: FrameInfo, detections: Vec<Detection>, stats: Vec<Stat>) -> Shapes;
    fn save(&self) -> Vec<u8> {
        Vec::new()
    }
    fn restore(&mut self, _state: Vec<u8>) -> Result<(), String> {
        Ok(())
    }
}

/// Export an [`Overlay`] implementation as the component's `overlay` world.
#[macro_export]
macro_rules! export_overlay {
    ($t:ty) => {
        const _: () = {
            ::std::thread_local! {
                static STAGE: ::core::cell::RefCell<$t> = ::core::cell::RefCell::new(<$t as ::core::default::Default>::default());
            }
            struct __EdgepipeOverlay;
            impl $crate::overlay::Guest for __EdgepipeOverlay {
                fn configure(settings: ::std::vec::Vec<(::std::string::String, ::std::string::String)>) -> ::core::result::Result<(), ::std::string::String> {
                    STAGE.with(|s| <$t as $crate::Overlay>::configure(&mut *s.borrow_mut(), settings))
                }
                fn overlay(info: $crate::FrameInfo, detections: ::std::vec::Vec<$crate::Detection>, stats: ::std::vec::Vec<$crate::Stat>) -> ::std::vec::Vec<$crate::Shape> {
                    STAGE.with(|s| <$t as $crate::Overlay>::overlay(&mut *s.borrow_mut(), info, detections, stats)).0
                }
                fn save() -> ::std::vec::Vec<u8> {
                    STAGE.with(|s| <$t as $crate::Overlay>::save(&*s.borrow()))
                }
                fn restore(state: ::std::vec::Vec<u8>) -> ::core::result::Result<(), ::std::string::String> {
                    STAGE.with(|s| <$t as $crate::Overlay>::restore(&mut *s.borrow_mut(), state))
                }
            }
            $crate::__export_overlay_impl!(__EdgepipeOverlay with_types_in $crate::overlay);
        };
    };
}
