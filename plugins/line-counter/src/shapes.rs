//! Lines and zones from settings, and the geometry of crossing and inside.
//!
//! `lines = "door: 0.30,0.20 0.30,0.90; road: 0.1,0.5 0.9,0.5"`: a name, then
//! two points `x,y` in frame fractions. `zones = "bench: x,y x,y x,y ..."`: a
//! name and at least three points (a polygon).

/// A point in frame fractions.
pub type Pt = (f64, f64);

#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub name: String,
    pub points: Vec<Pt>,
}

fn point(s: &str, key: &str) -> Result<Pt, String> {
    let (x, y) = s
        .split_once(',')
        .ok_or_else(|| format!("setting `{key}`: point {s:?} is not x,y"))?;
    let p = |v: &str| -> Result<f64, String> {
        let f: f64 = v
            .trim()
            .parse()
            .map_err(|_| format!("setting `{key}`: {v:?} is not a number"))?;
        if !(-1.0..=2.0).contains(&f) {
            return Err(format!("setting `{key}`: {f} is not a frame fraction"));
        }
        Ok(f)
    };
    Ok((p(x)?, p(y)?))
}

/// Parse `name: x,y x,y ...; name: ...`; each shape needs `min_points`..=`max_points`.
pub fn parse(
    text: &str,
    key: &str,
    min_points: usize,
    max_points: usize,
) -> Result<Vec<Shape>, String> {
    let mut out: Vec<Shape> = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, pts) = part
            .split_once(':')
            .ok_or_else(|| format!("setting `{key}`: {part:?} is not `name: x,y x,y ...`"))?;
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(format!(
                "setting `{key}`: a name must have 1 to 64 characters, got {name:?}"
            ));
        }
        if out.iter().any(|s| s.name == name) {
            return Err(format!("setting `{key}`: {name:?} is given twice"));
        }
        let points = pts
            .split_whitespace()
            .map(|p| point(p, key))
            .collect::<Result<Vec<_>, _>>()?;
        if points.len() < min_points || points.len() > max_points {
            return Err(format!(
                "setting `{key}`: {name:?} has {} points, expected {min_points} to {max_points}",
                points.len()
            ));
        }
        out.push(Shape {
            name: name.to_string(),
            points,
        });
    }
    Ok(out)
}

/// Signed distance (pixels) of `p` from the line through a and b: > 0 on the
/// right-hand side of a -> b as seen on screen (image y points down).
pub fn side_distance(a: Pt, b: Pt, p: Pt) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = dx.hypot(dy);
    if len <= 0.0 {
        return 0.0;
    }
    (dx * (p.1 - a.1) - dy * (p.0 - a.0)) / len
}

/// Whether the foot of the perpendicular from `p` falls within segment a-b.
pub fn within_segment(a: Pt, b: Pt, p: Pt) -> bool {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let l2 = dx * dx + dy * dy;
    if l2 <= 0.0 {
        return false;
    }
    let t = ((p.0 - a.0) * dx + (p.1 - a.1) * dy) / l2;
    (0.0..=1.0).contains(&t)
}

/// Even-odd rule.
pub fn inside(poly: &[Pt], p: Pt) -> bool {
    let mut inside = false;
    let mut j = poly.len().wrapping_sub(1);
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[j]);
        if (a.1 > p.1) != (b.1 > p.1) && p.0 < (b.0 - a.0) * (p.1 - a.1) / (b.1 - a.1) + a.0 {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_zones_and_refuses_bad_ones() {
        let l = parse("door: 0.3,0.2 0.3,0.9; road:0.1,0.5 0.9,0.5", "lines", 2, 2).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].points, vec![(0.1, 0.5), (0.9, 0.5)]);
        assert!(parse("door: 0.3,0.2", "lines", 2, 2).is_err());
        assert!(parse("a: 0,0 1,1; a: 0,0 1,1", "lines", 2, 2).is_err());
        assert!(parse("z: 0,0 1,0 nan,1", "zones", 3, 64).is_err());
    }

    #[test]
    fn sides_and_polygons() {
        // a -> b points right; below it (y larger) is its right-hand side.
        assert!(side_distance((0.0, 0.0), (10.0, 0.0), (5.0, 3.0)) > 0.0);
        assert!(within_segment((0.0, 0.0), (10.0, 0.0), (5.0, 3.0)));
        assert!(!within_segment((0.0, 0.0), (10.0, 0.0), (12.0, 3.0)));
        let sq = [(0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)];
        assert!(inside(&sq, (5.0, 5.0)) && !inside(&sq, (15.0, 5.0)));
    }
}
