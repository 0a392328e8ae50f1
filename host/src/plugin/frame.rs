//! The frame a chain's draw stages draw on: the pipeline's own frame, painted
//! in place when nothing else needs it undrawn; otherwise its pixels, read
//! only, until a stage draws, and from then on a drawn frame of the chain's
//! own (a pixel stage's returned buffer, or one copy that shapes are painted on).

pub struct Frame<'a> {
    source: Source<'a>,
    drawn: Option<Vec<u8>>,
}

enum Source<'a> {
    Shared(&'a [u8]),
    Own(&'a mut [u8]),
}

impl<'a> Frame<'a> {
    /// Pixels that must stay as they are: drawing makes a frame of its own.
    pub fn new(pixels: &'a [u8]) -> Frame<'a> {
        Frame {
            source: Source::Shared(pixels),
            drawn: None,
        }
    }

    /// Pixels drawing may change in place (no one else needs them undrawn).
    pub fn in_place(pixels: &'a mut [u8]) -> Frame<'a> {
        Frame {
            source: Source::Own(pixels),
            drawn: None,
        }
    }

    /// The frame as drawn so far.
    pub fn pixels(&self) -> &[u8] {
        match (&self.drawn, &self.source) {
            (Some(d), _) => d,
            (None, Source::Shared(p)) => p,
            (None, Source::Own(p)) => p,
        }
    }

    /// The frame to paint on in place (shared pixels are copied once, the
    /// first time).
    pub fn to_paint(&mut self) -> &mut [u8] {
        match (&mut self.drawn, &mut self.source) {
            (Some(d), _) => d,
            (None, Source::Own(p)) => p,
            (drawn @ None, Source::Shared(p)) => drawn.insert(p.to_vec()),
        }
    }

    /// A pixel stage's drawn frame, which replaces it.
    pub fn set(&mut self, drawn: Vec<u8>) {
        self.drawn = Some(drawn);
    }

    /// The drawn frame when it is not the pipeline's own: `None` if no
    /// stage drew, or if they drew on the pipeline's frame itself (in place)
    /// and no pixel stage replaced it.
    pub fn into_drawn(self) -> Option<Vec<u8>> {
        self.drawn
    }
}
