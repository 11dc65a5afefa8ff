//! The page's stable sorts, all through one instantiation of the standard library's sort.
//!
//! `slice::sort_by` is generic over the element and the comparator, so each call site with its
//! own closure compiles a copy of the whole stable sort (about 3.5 KB of wasm each). The page
//! sorts only short lists (runs, search rows, chart points), so it sorts indices through a
//! `dyn` comparator instead and moves the elements after: the same order as `sort_by`, ties
//! included (BENCHMARKS.md, "Page weight under 10^6 B").

use std::cmp::Ordering;

/// The indices `0..len` in the stable order `cmp` gives them (equal ones keep index order).
pub fn stable_order(len: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|a, b| cmp(*a, *b));
    order
}

/// Sorts `v` as `v.sort_by(cmp)` would (stable).
pub fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let mut order = stable_order(v.len(), &mut |a, b| cmp(&v[a], &v[b]));
    // Position i takes the element at order[i]: applied in place, one cycle at a time.
    for start in 0..order.len() {
        if order[start] == usize::MAX {
            continue;
        }
        let mut at = start;
        loop {
            let from = std::mem::replace(&mut order[at], usize::MAX);
            if from == start {
                break;
            }
            v.swap(at, from);
            at = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_the_standard_stable_sort_ties_included() {
        // Pseudo-random keys with many ties; the payload tells equal keys apart.
        let mut x: u64 = 12345;
        for len in [0, 1, 2, 3, 7, 20, 33, 100, 257] {
            let v: Vec<(u64, usize)> = (0..len)
                .map(|i| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((x >> 33) % 5, i)
                })
                .collect();
            for descending in [false, true] {
                let cmp = |a: &(u64, usize), b: &(u64, usize)| {
                    if descending { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) }
                };
                let mut expected = v.clone();
                expected.sort_by(cmp);
                let mut got = v.clone();
                sort_by(&mut got, cmp);
                assert_eq!(got, expected, "len {len}, descending {descending}");
            }
        }
    }

    #[test]
    fn the_order_of_indices_is_stable() {
        let keys = [3, 1, 3, 0, 1];
        assert_eq!(stable_order(keys.len(), &mut |a, b| keys[a].cmp(&keys[b])), vec![3, 1, 4, 0, 2]);
    }
}
