//! Minimum-cost assignment (Hungarian algorithm with potentials), used by the
//! tracker to match tracks to detections and by `edgepipe eval` to match
//! hypotheses to ground truth.

/// Pairs (row, column) of a minimum-cost assignment of `cost` (`rows` x
/// `cols`, row-major), keeping only pairs whose cost is at most `max_cost`.
/// Pairs above `max_cost` are treated as forbidden while solving, so a cheap
/// pair is never given up for a forbidden one.
pub fn assign(cost: &[f64], rows: usize, cols: usize, max_cost: f64) -> Vec<(usize, usize)> {
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    debug_assert_eq!(cost.len(), rows * cols);
    // Forbidden pairs cost more than any assignment of allowed ones.
    let allowed = |c: f64| c.is_finite() && c <= max_cost;
    let finite_max = cost
        .iter()
        .copied()
        .filter(|c| allowed(*c))
        .fold(0.0f64, |a, c| a.max(c.abs()));
    let big = (finite_max + 1.0) * (rows.max(cols) as f64 + 1.0);
    let transpose = rows > cols;
    let (n, m) = if transpose {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let at = |i: usize, j: usize| {
        let c = if transpose {
            cost[j * cols + i]
        } else {
            cost[i * cols + j]
        };
        if allowed(c) {
            c
        } else {
            big
        }
    };
    let matched = hungarian(n, m, at);
    let mut out: Vec<(usize, usize)> = matched
        .into_iter()
        .enumerate()
        .filter_map(|(i, j)| j.map(|j| if transpose { (j, i) } else { (i, j) }))
        .filter(|&(r, c)| allowed(cost[r * cols + c]))
        .collect();
    out.sort_unstable();
    out
}

/// Hungarian algorithm for `n <= m`: for each row, its column.
fn hungarian(n: usize, m: usize, cost: impl Fn(usize, usize) -> f64) -> Vec<Option<usize>> {
    // 1-based potentials and matching, as in the classic O(n^2 m) formulation.
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    let mut p = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0usize;
        let mut minv = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0usize;
            for j in 1..=m {
                if !used[j] {
                    let cur = cost(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut row_of = vec![None; n];
    for j in 1..=m {
        if p[j] != 0 {
            row_of[p[j] - 1] = Some(j - 1);
        }
    }
    row_of
}

#[cfg(test)]
mod tests {
    use super::assign;

    #[test]
    fn finds_the_optimum_not_the_greedy_choice() {
        // Greedy takes (0,0)=1 then (1,1)=10: 11. The optimum is 2+3 = 5.
        let cost = [1.0, 2.0, 3.0, 10.0];
        assert_eq!(assign(&cost, 2, 2, 100.0), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn rectangular_both_ways_and_thresholded() {
        let cost = [0.1, 0.9, 0.5, 0.2, 0.3, 0.95];
        assert_eq!(assign(&cost, 2, 3, 1.0), vec![(0, 0), (1, 1)]);
        // 3 rows x 2 columns.
        let t = [0.1, 0.2, 0.9, 0.3, 0.5, 0.95];
        assert_eq!(assign(&t, 3, 2, 1.0), vec![(0, 0), (1, 1)]);
        // Above the limit: unmatched.
        assert_eq!(assign(&[0.6], 1, 1, 0.5), vec![]);
        assert_eq!(assign(&[], 0, 3, 0.5), vec![]);
    }

    #[test]
    fn a_forbidden_pair_never_displaces_an_allowed_one() {
        // Row 0 can only take column 0; row 1 prefers column 0 but can take 1.
        let cost = [0.4, f64::INFINITY, 0.1, 0.3];
        assert_eq!(assign(&cost, 2, 2, 0.5), vec![(0, 0), (1, 1)]);
    }
}
