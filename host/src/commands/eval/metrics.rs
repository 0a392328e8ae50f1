//! CLEAR MOT (MOTA, ID switches) and identity (IDF1) metrics, computed the way
//! py-motmetrics computes them: per frame, ground truth and hypotheses match
//! when their IoU is at least the threshold; correspondences of earlier frames
//! are kept while still valid, the rest is a minimum-cost assignment on 1 - IoU;
//! a ground-truth object matched to another hypothesis than last time is a
//! switch. IDF1 comes from the one-to-one identity mapping that maximises the
//! number of frames where the mapped pair matches.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use edgepipe_track::{assign, BBox};

/// One box with an identity, in one frame.
#[derive(Clone, Copy, Debug)]
pub struct Obj {
    pub id: u64,
    pub bbox: BBox,
}

/// One frame: ground truth and hypotheses.
#[derive(Clone, Debug, Default)]
pub struct FramePair {
    pub gt: Vec<Obj>,
    pub hyp: Vec<Obj>,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Metrics {
    pub frames: u64,
    pub num_gt: u64,
    pub num_hyp: u64,
    pub matches: u64,
    pub false_positives: u64,
    pub misses: u64,
    pub id_switches: u64,
    pub mota: f64,
    pub idtp: u64,
    pub idfp: u64,
    pub idfn: u64,
    pub idf1: f64,
    pub gt_identities: u64,
    pub hyp_identities: u64,
    /// Mean over frames of |hypotheses - ground truth|, and of the signed difference.
    pub count_mae: f64,
    pub count_bias: f64,
}

/// Distances 1 - IoU, `None` where IoU is below `min_iou`.
fn distances(f: &FramePair, min_iou: f64) -> Vec<Option<f64>> {
    let mut d = Vec::with_capacity(f.gt.len() * f.hyp.len());
    for g in &f.gt {
        for h in &f.hyp {
            let iou = g.bbox.iou(&h.bbox);
            d.push((iou >= min_iou).then_some(1.0 - iou));
        }
    }
    d
}

/// The matched (gt index, hyp index) pairs of one frame; `last` maps a
/// ground-truth id to the hypothesis it was last matched with.
fn match_frame(
    f: &FramePair,
    dist: &[Option<f64>],
    last: &HashMap<u64, u64>,
) -> Vec<(usize, usize)> {
    let (ng, nh) = (f.gt.len(), f.hyp.len());
    let mut gt_used = vec![false; ng];
    let mut hyp_used = vec![false; nh];
    let mut pairs = Vec::new();
    // 1. Correspondences still valid are kept.
    for (i, g) in f.gt.iter().enumerate() {
        let Some(&h) = last.get(&g.id) else { continue };
        if let Some(j) = (0..nh).find(|&j| !hyp_used[j] && f.hyp[j].id == h) {
            if dist[i * nh + j].is_some() {
                gt_used[i] = true;
                hyp_used[j] = true;
                pairs.push((i, j));
            }
        }
    }
    // 2. The rest: minimum total distance.
    let cost: Vec<f64> = (0..ng * nh)
        .map(|k| {
            if gt_used[k / nh] || hyp_used[k % nh] {
                f64::INFINITY
            } else {
                dist[k].unwrap_or(f64::INFINITY)
            }
        })
        .collect();
    pairs.extend(assign(&cost, ng, nh, 1.0));
    pairs
}

/// Every metric over `frames`; `min_iou` is the match threshold (0.5 in MOTChallenge).
pub fn evaluate(frames: &[FramePair], min_iou: f64) -> Metrics {
    let mut m = Metrics {
        frames: frames.len() as u64,
        ..Metrics::default()
    };
    let mut last: HashMap<u64, u64> = HashMap::new();
    // Frames where a (gt id, hyp id) pair matches by IoU, for IDF1.
    let mut overlap: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let (mut gt_frames, mut hyp_frames): (BTreeMap<u64, u64>, BTreeMap<u64, u64>) =
        Default::default();
    let (mut abs_err, mut signed_err) = (0.0, 0.0);
    for f in frames {
        let dist = distances(f, min_iou);
        let nh = f.hyp.len();
        for (k, d) in dist.iter().enumerate() {
            if d.is_some() {
                *overlap
                    .entry((f.gt[k / nh].id, f.hyp[k % nh].id))
                    .or_default() += 1;
            }
        }
        let pairs = match_frame(f, &dist, &last);
        for &(i, j) in &pairs {
            let (g, h) = (f.gt[i].id, f.hyp[j].id);
            if last.get(&g).is_some_and(|&p| p != h) {
                m.id_switches += 1;
            }
            last.insert(g, h);
        }
        m.matches += pairs.len() as u64;
        m.misses += (f.gt.len() - pairs.len()) as u64;
        m.false_positives += (nh - pairs.len()) as u64;
        m.num_gt += f.gt.len() as u64;
        m.num_hyp += nh as u64;
        f.gt.iter()
            .for_each(|g| *gt_frames.entry(g.id).or_default() += 1);
        f.hyp
            .iter()
            .for_each(|h| *hyp_frames.entry(h.id).or_default() += 1);
        let e = nh as f64 - f.gt.len() as f64;
        abs_err += e.abs();
        signed_err += e;
    }
    m.mota = if m.num_gt > 0 {
        1.0 - (m.misses + m.false_positives + m.id_switches) as f64 / m.num_gt as f64
    } else {
        f64::NAN
    };
    m.idtp = identity_true_positives(&overlap, &gt_frames, &hyp_frames);
    m.idfn = m.num_gt - m.idtp;
    m.idfp = m.num_hyp - m.idtp;
    let denom = (m.num_gt + m.num_hyp) as f64;
    m.idf1 = if denom > 0.0 {
        2.0 * m.idtp as f64 / denom
    } else {
        f64::NAN
    };
    m.gt_identities = gt_frames.len() as u64;
    m.hyp_identities = hyp_frames.len() as u64;
    if !frames.is_empty() {
        m.count_mae = abs_err / frames.len() as f64;
        m.count_bias = signed_err / frames.len() as f64;
    }
    m
}

/// The largest total overlap of a one-to-one mapping of gt ids to hyp ids.
fn identity_true_positives(
    overlap: &BTreeMap<(u64, u64), u64>,
    gt: &BTreeMap<u64, u64>,
    hyp: &BTreeMap<u64, u64>,
) -> u64 {
    let gi: BTreeMap<u64, usize> = gt.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let hi: BTreeMap<u64, usize> = hyp.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let (ng, nh) = (gi.len(), hi.len());
    let mut cost = vec![0.0; ng * nh];
    for (&(g, h), &n) in overlap {
        cost[gi[&g] * nh + hi[&h]] = -(n as f64);
    }
    let pairs: BTreeSet<(usize, usize)> = assign(&cost, ng, nh, 0.0).into_iter().collect();
    pairs.iter().map(|&(i, j)| (-cost[i * nh + j]) as u64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(id: u64, x: f64) -> Obj {
        Obj {
            id,
            bbox: BBox {
                x,
                y: 0.0,
                w: 10.0,
                h: 10.0,
            },
        }
    }

    #[test]
    fn perfect_tracking_scores_one() {
        let frames: Vec<FramePair> = (0..5)
            .map(|i| FramePair {
                gt: vec![o(1, i as f64), o(2, 50.0)],
                hyp: vec![o(7, i as f64), o(8, 50.0)],
            })
            .collect();
        let m = evaluate(&frames, 0.5);
        assert_eq!(
            (m.mota, m.idf1, m.id_switches, m.misses, m.false_positives),
            (1.0, 1.0, 0, 0, 0)
        );
        assert_eq!((m.gt_identities, m.hyp_identities), (2, 2));
    }

    #[test]
    fn a_switch_a_miss_and_a_false_positive_are_counted() {
        let frames = vec![
            FramePair {
                gt: vec![o(1, 0.0)],
                hyp: vec![o(7, 0.0)],
            },
            FramePair {
                gt: vec![o(1, 0.0)],
                hyp: vec![o(8, 1.0)],
            },
            FramePair {
                gt: vec![o(1, 0.0)],
                hyp: vec![o(8, 40.0)],
            },
        ];
        let m = evaluate(&frames, 0.5);
        assert_eq!(
            (m.matches, m.id_switches, m.misses, m.false_positives),
            (2, 1, 1, 1)
        );
        assert!((m.mota - (1.0 - 3.0 / 3.0)).abs() < 1e-12);
        // Best mapping 1->7 or 1->8 gives one frame: IDF1 = 2*1/(3+3).
        assert!((m.idf1 - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.count_mae - 0.0).abs() < 1e-12);
    }
}
