//! Small-cell suppression with complementary suppression over tables with linear
//! relations (margins, attrition steps).
//!
//! A table is cells (published counts and implied counts that are not published, such as
//! the patients an attrition step excluded) and equations between them (Σ cells = 0 with
//! ±1 coefficients: a total and its parts, a step, the next step and its exclusions).
//! A cell is *sensitive* when its count is 1 … threshold−1 (zero is published: it says no
//! patient, not which one). The rule: no sensitive cell may be published or be *determined*
//! by the published ones. Determination is exact linear algebra: with the published values
//! known, an unknown is determined when the reduced row-echelon form of the equations over
//! the unknowns has a row whose only non-zero entry is that unknown. While some sensitive
//! cell is determined, one more published cell of an equation that determines it is
//! suppressed (the smallest count, parts before totals), and the check runs again.
//!
//! Not covered (stated in the README): bounds from non-negativity (an interval for a
//! suppressed cell), and linkage across separately published tables.

#[derive(Debug, Clone)]
pub struct Cell {
    pub value: u64,
    /// Published (else implied: known to be there, never printed).
    pub published: bool,
    /// A total or margin: suppressed only when no part can be.
    pub total: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub cells: Vec<Cell>,
    /// Each equation: (cell, coefficient) with Σ coefficient × value = 0.
    pub equations: Vec<Vec<(usize, i64)>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Published,
    /// Below the threshold.
    Primary,
    /// Suppressed so that a primary cell cannot be recovered.
    Complementary,
    /// Never published (implied cell).
    Implied,
}

impl Table {
    pub fn add(&mut self, value: u64, published: bool, total: bool) -> usize {
        self.cells.push(Cell {
            value,
            published,
            total,
        });
        self.cells.len() - 1
    }

    pub fn equation(&mut self, terms: Vec<(usize, i64)>) {
        self.equations.push(terms);
    }
}

fn sensitive(v: u64, threshold: u64) -> bool {
    v > 0 && v < threshold
}

/// Sensitive cells the published ones determine.
fn leaks(t: &Table, status: &[Status], threshold: u64) -> Vec<usize> {
    let unknown: Vec<bool> = status.iter().map(|s| *s != Status::Published).collect();
    let d = determined(t, &unknown);
    (0..t.cells.len())
        .filter(|&i| unknown[i] && d[i] && sensitive(t.cells[i].value, threshold))
        .collect()
}

/// Cells sharing an equation with any of `from`.
fn neighbours(t: &Table, from: &[usize]) -> Vec<usize> {
    let mut out: Vec<usize> = t
        .equations
        .iter()
        .filter(|e| e.iter().any(|(c, _)| from.contains(c)))
        .flat_map(|e| e.iter().map(|(c, _)| *c))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Decides what is published. Deterministic: ties break by cell index.
///
/// Complementary cells are chosen greedily: the single published cell, else the pair of
/// cells (a 2×2 rectangle is the usual answer in a two-way table), near the first leak that
/// removes the most leaks at the least cost (parts before totals, small counts first).
pub fn protect(t: &Table, threshold: u64) -> Vec<Status> {
    let mut status: Vec<Status> = t
        .cells
        .iter()
        .map(|c| {
            if !c.published {
                Status::Implied
            } else if sensitive(c.value, threshold) {
                Status::Primary
            } else {
                Status::Published
            }
        })
        .collect();
    loop {
        let now = leaks(t, &status, threshold);
        let Some(&leak) = now.first() else {
            return status;
        };
        let open = |i: &usize| status[*i] == Status::Published;
        let near: Vec<usize> = neighbours(t, &[leak]).into_iter().filter(open).collect();
        let ring1 = neighbours(t, &[leak]);
        let far: Vec<usize> = neighbours(t, &ring1).into_iter().filter(open).collect();
        let cost = |cells: &[usize]| {
            (
                cells.iter().filter(|&&c| t.cells[c].total).count(),
                cells.iter().map(|&c| t.cells[c].value).sum::<u64>(),
                cells.to_vec(),
            )
        };
        let try_set = |cells: &[usize]| {
            let mut s = status.clone();
            for &c in cells {
                s[c] = Status::Complementary;
            }
            leaks(t, &s, threshold).len()
        };
        // (leaks left, (totals, counts, cells)) of the best choice so far.
        type Choice = (usize, (usize, u64, Vec<usize>));
        let mut best: Option<Choice> = None;
        let consider = |cells: Vec<usize>, best: &mut Option<Choice>| {
            let n = try_set(&cells);
            if n < now.len() {
                let c = cost(&cells);
                if best.as_ref().is_none_or(|(bn, bc)| (n, &c) < (*bn, bc)) {
                    *best = Some((n, c));
                }
            }
        };
        for &a in &near {
            consider(vec![a], &mut best);
        }
        if best.is_none() {
            for &a in &near {
                for &b in &far {
                    if a != b {
                        let mut v = vec![a, b];
                        v.sort_unstable();
                        consider(v, &mut best);
                    }
                }
            }
        }
        let chosen: Vec<usize> = match best {
            Some((_, (_, _, cells))) => cells,
            // No single cell or pair helps: the smallest published cell near the leak, else
            // anywhere (each round suppresses one more cell, so this ends).
            None => near
                .iter()
                .chain(far.iter())
                .copied()
                .chain((0..t.cells.len()).filter(|i| open(i)))
                .min_by_key(|&i| (t.cells[i].total, t.cells[i].value, i))
                .into_iter()
                .collect(),
        };
        if chosen.is_empty() {
            return status;
        }
        for c in chosen {
            status[c] = Status::Complementary;
        }
    }
}

/// Which unknowns the equations pin down, given every other cell is known.
pub fn determined(t: &Table, unknown: &[bool]) -> Vec<bool> {
    let vars: Vec<usize> = (0..t.cells.len()).filter(|&i| unknown[i]).collect();
    let col: std::collections::HashMap<usize, usize> =
        vars.iter().enumerate().map(|(j, &i)| (i, j)).collect();
    let mut m: Vec<Vec<f64>> = t
        .equations
        .iter()
        .map(|e| {
            let mut row = vec![0.0; vars.len()];
            for (c, k) in e {
                if let Some(&j) = col.get(c) {
                    row[j] += *k as f64;
                }
            }
            row
        })
        .filter(|r| r.iter().any(|x| *x != 0.0))
        .collect();
    // Reduced row-echelon form (coefficients are small integers; 1e-9 is exact enough).
    let mut pivot_row = 0;
    let mut pivots = Vec::new();
    for j in 0..vars.len() {
        let Some(p) = (pivot_row..m.len()).find(|&r| m[r][j].abs() > 1e-9) else {
            continue;
        };
        m.swap(pivot_row, p);
        let d = m[pivot_row][j];
        for x in &mut m[pivot_row] {
            *x /= d;
        }
        for r in 0..m.len() {
            if r != pivot_row && m[r][j].abs() > 1e-9 {
                let f = m[r][j];
                let (a, b) = if r < pivot_row {
                    let (lo, hi) = m.split_at_mut(pivot_row);
                    (&mut lo[r], &hi[0])
                } else {
                    let (lo, hi) = m.split_at_mut(r);
                    (&mut hi[0], &lo[pivot_row])
                };
                for (x, y) in a.iter_mut().zip(b.iter()) {
                    *x -= f * y;
                }
            }
        }
        pivots.push((pivot_row, j));
        pivot_row += 1;
        if pivot_row == m.len() {
            break;
        }
    }
    let mut out = vec![false; t.cells.len()];
    for (r, j) in pivots {
        if m[r]
            .iter()
            .enumerate()
            .all(|(k, x)| k == j || x.abs() <= 1e-9)
        {
            out[vars[j]] = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2×2 table with row, column and grand totals.
    fn two_by_two(v: [u64; 4]) -> Table {
        let mut t = Table::default();
        let c: Vec<usize> = v.iter().map(|x| t.add(*x, true, false)).collect();
        let r0 = t.add(v[0] + v[1], true, true);
        let r1 = t.add(v[2] + v[3], true, true);
        let k0 = t.add(v[0] + v[2], true, true);
        let k1 = t.add(v[1] + v[3], true, true);
        let g = t.add(v.iter().sum(), true, true);
        t.equation(vec![(r0, 1), (c[0], -1), (c[1], -1)]);
        t.equation(vec![(r1, 1), (c[2], -1), (c[3], -1)]);
        t.equation(vec![(k0, 1), (c[0], -1), (c[2], -1)]);
        t.equation(vec![(k1, 1), (c[1], -1), (c[3], -1)]);
        t.equation(vec![(g, 1), (r0, -1), (r1, -1)]);
        t.equation(vec![(g, 1), (k0, -1), (k1, -1)]);
        t
    }

    #[test]
    fn one_small_cell_takes_three_more_with_it() {
        let t = two_by_two([3, 40, 50, 60]);
        let s = protect(&t, 10);
        assert_eq!(s[0], Status::Primary);
        // In a 2×2 table the whole interior must go (each row and column needs two).
        assert!(s[..4].iter().all(|x| *x != Status::Published), "{s:?}");
        // … and nothing more: the margins stay.
        assert!(s[4..].iter().all(|x| *x == Status::Published), "{s:?}");
        let unknown: Vec<bool> = s.iter().map(|x| *x != Status::Published).collect();
        assert!(!determined(&t, &unknown)[0]);
    }

    #[test]
    fn nothing_small_nothing_suppressed() {
        let t = two_by_two([30, 40, 50, 60]);
        assert!(protect(&t, 10).iter().all(|x| *x == Status::Published));
    }

    #[test]
    fn an_implied_difference_is_protected() {
        // Step 1: 50 patients, step 2: 47 → 3 excluded (implied, sensitive).
        let mut t = Table::default();
        let a = t.add(50, true, false);
        let b = t.add(47, true, false);
        let e = t.add(3, false, false);
        t.equation(vec![(a, 1), (b, -1), (e, -1)]);
        let s = protect(&t, 10);
        assert_eq!(s[b], Status::Complementary, "{s:?}");
        assert_eq!(s[a], Status::Published);
    }
}
