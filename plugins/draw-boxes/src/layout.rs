//! Where tags go: each tag takes the first of its candidate places that does
//! not overlap a tag already placed (and fits in the frame), so tags of people
//! walking side by side stay readable.

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x0: i64,
    pub y0: i64,
    pub x1: i64,
    pub y1: i64,
}

impl Rect {
    fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }
}

#[derive(Default)]
pub struct Layout {
    placed: Vec<Rect>,
}

impl Layout {
    pub fn clear(&mut self) {
        self.placed.clear();
    }

    /// Reserve an area nothing else may cover (e.g. the count panel).
    pub fn reserve(&mut self, r: Rect) {
        self.placed.push(r);
    }

    /// Place a `w` x `h` tag for the box `b` in a `fw` x `fh` frame: above the
    /// box, inside its top, below it, then further up or down in steps of
    /// one tag; the first free place wins (else the first that fits).
    pub fn place(&mut self, b: Rect, w: i64, h: i64, fw: i64, fh: i64) -> Rect {
        let x = b.x0.min(fw - w).max(0);
        let mut ys = [
            b.y0 - h,
            b.y0,
            b.y1,
            b.y0 - 2 * h,
            b.y1 + h,
            b.y0 - 3 * h,
            b.y1 + 2 * h,
        ]
        .into_iter();
        let fits = |y: i64| y >= 0 && y + h <= fh;
        let first = ys
            .clone()
            .find(|&y| fits(y))
            .unwrap_or(b.y0.clamp(0, (fh - h).max(0)));
        let r = ys
            .find(|&y| {
                fits(y)
                    && !self.placed.iter().any(|p| {
                        p.overlaps(&Rect {
                            x0: x,
                            y0: y,
                            x1: x + w,
                            y1: y + h,
                        })
                    })
            })
            .map(|y| Rect {
                x0: x,
                y0: y,
                x1: x + w,
                y1: y + h,
            })
            .unwrap_or(Rect {
                x0: x,
                y0: first,
                x1: x + w,
                y1: first + h,
            });
        self.placed.push(r);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_by_side_tags_do_not_overlap() {
        let mut l = Layout::default();
        let a = l.place(
            Rect {
                x0: 100,
                y0: 100,
                x1: 140,
                y1: 200,
            },
            80,
            10,
            768,
            576,
        );
        let b = l.place(
            Rect {
                x0: 110,
                y0: 102,
                x1: 150,
                y1: 200,
            },
            80,
            10,
            768,
            576,
        );
        assert_eq!(a.y0, 90);
        assert!(!a.overlaps(&b), "{a:?} {b:?}");
    }
}
