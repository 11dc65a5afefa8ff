//! The load a run was offered against what it achieved, and the queue and first-token latency
//! over simulated time: what shows whether the cluster keeps up.
//!
//! Both rates are taken over the arrival window W, from the first arrival t₁ to the last tₙ (or
//! to the end of a run a time limit cut short), so that neither the cluster's start-up nor the
//! drain after the last arrival dilutes them:
//! - offered = (arrivals in the window − 1) / W, the workload's arrival rate;
//! - achieved = (requests started in the window − 1) / W, where a request starts when it is
//!   first scheduled: the rate at which the cluster takes requests on.
//!
//! A cluster that keeps up starts requests as fast as they arrive, a short queueing delay
//! later, so the two rates agree; an overloaded one starts them at its capacity, below the
//! offered rate, while its queue grows. (In a steady state as many requests complete as start;
//! completions themselves are not counted, because they come a whole latency later: over a
//! window of a finite run, requests longer than the others would fall out of it, and the rate
//! would read low for a cluster that keeps up.)

use crate::report::LoadReport;

/// What the load report needs of one request.
#[derive(Clone, Copy, Debug)]
pub(super) struct RequestSpan {
    /// Arrival, ns.
    pub arrived_ns: u64,
    /// First schedule, ns; `None` if it never started (refused first, or the run ended).
    pub started_ns: Option<u64>,
    /// When it stopped waiting for its first schedule (started, or refused), ns; `None` if it
    /// was still waiting when the run ended.
    pub left_queue_ns: Option<u64>,
    /// Time to first token, ns, for completed requests.
    pub ttft_ns: Option<u64>,
}

/// The load report of a run that ended at `end_ns`, with time-series buckets `width_ns` wide
/// (`buckets` of them), from its requests' spans. The spans are read several times and never
/// held: for a million requests they were 56 MB beside the metrics' own records, the run's
/// peak of memory; one sorted column of times at a time is 8 MB.
pub(super) fn load_report(
    spans: impl Iterator<Item = RequestSpan> + Clone,
    end_ns: u64,
    buckets: usize,
    width_ns: u64,
) -> LoadReport {
    let sorted = |times: Vec<u64>| {
        let mut times = times;
        radsort::sort(&mut times);
        times
    };
    let arrivals = sorted(spans.clone().map(|s| s.arrived_ns).collect());

    let secs = |ns: u64| ns as f64 / 1e9;
    // Events at or after `from` and at or before `until`, among sorted `times`.
    let within = |times: &[u64], from: u64, until: u64| {
        times.partition_point(|&t| t <= until) - times.partition_point(|&t| t < from)
    };
    let (first, last) = (arrivals.first().copied().unwrap_or(0), arrivals.last().copied().unwrap_or(0));
    let until = last.min(end_ns.max(first));
    let window_ns = until - first;
    let rate = |n: usize| (n >= 2 && window_ns > 0).then(|| (n - 1) as f64 / secs(window_ns));
    let achieved_rps = {
        let starts = sorted(spans.clone().filter_map(|s| s.started_ns).collect());
        rate(within(&starts, first, until))
    };
    let left = sorted(spans.clone().filter_map(|s| s.left_queue_ns).collect());

    let buckets = buckets.max(1);
    let width_ns = width_ns.max(1);
    // Requests waiting at each bucket's end: arrived by then, minus those that left the queue.
    let waiting = (0..buckets)
        .map(|b| {
            let end = (b as u64 + 1).saturating_mul(width_ns);
            (arrivals.partition_point(|&t| t < end) - left.partition_point(|&t| t < end)) as f64
        })
        .collect();
    let mut ttft_sum = vec![0.0; buckets];
    let mut ttft_count = vec![0u64; buckets];
    for s in spans {
        if let Some(ttft) = s.ttft_ns {
            let b = ((s.arrived_ns / width_ns) as usize).min(buckets - 1);
            ttft_sum[b] += secs(ttft);
            ttft_count[b] += 1;
        }
    }
    let ttft_by_arrival_s =
        ttft_sum.iter().zip(&ttft_count).map(|(sum, n)| (*n > 0).then(|| sum / *n as f64)).collect();
    LoadReport {
        arrivals: arrivals.len() as u64,
        arrival_window_s: secs(window_ns),
        offered_rps: rate(within(&arrivals, first, until)),
        achieved_rps,
        waiting,
        ttft_by_arrival_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn ns(s: f64) -> u64 {
        (s * S as f64).round() as u64
    }

    /// A request arriving at `a` s that starts `queue` s later, its first token at its start.
    fn span(a: f64, queue: f64) -> RequestSpan {
        RequestSpan {
            arrived_ns: ns(a),
            started_ns: Some(ns(a + queue)),
            left_queue_ns: Some(ns(a + queue)),
            ttft_ns: Some(ns(queue)),
        }
    }

    #[test]
    fn a_cluster_that_keeps_up_achieves_the_offered_rate_whatever_its_requests_last() {
        // 101 requests, one every 0.1 s (10 req/s), each waiting 20 ms: however long they then
        // run (and the drain after the last arrival), they were taken on as they came.
        let spans: Vec<RequestSpan> = (0..101).map(|i| span(f64::from(i) * 0.1, 0.02)).collect();
        let load = load_report(spans.iter().copied(), 30 * S, 300, S / 10);
        assert_eq!(load.arrivals, 101);
        assert!((load.arrival_window_s - 10.0).abs() < 1e-9);
        let (offered, achieved) = (load.offered_rps.unwrap(), load.achieved_rps.unwrap());
        assert!((offered - 10.0).abs() < 1e-6, "{offered}");
        // Only the last arrival, starting 20 ms after the window, is not counted.
        assert!((achieved - 9.9).abs() < 1e-6, "{achieved}");
    }

    #[test]
    fn an_overloaded_cluster_achieves_its_capacity_and_its_queue_grows() {
        // 10 req/s offered for 10 s; the cluster starts one request every 0.25 s (4 req/s).
        let spans: Vec<RequestSpan> =
            (0..101).map(|i| span(f64::from(i) * 0.1, 0.25 * f64::from(i) - 0.1 * f64::from(i))).collect();
        let load = load_report(spans.iter().copied(), 26 * S, 26, S);
        assert!((load.offered_rps.unwrap() - 10.0).abs() < 1e-6);
        let achieved = load.achieved_rps.unwrap();
        assert!((achieved - 4.0).abs() < 1e-6, "{achieved}");
        assert!(load.waiting[9] > load.waiting[2], "the queue grows: {:?}", load.waiting);
        let ttft: Vec<f64> = load.ttft_by_arrival_s.iter().take(10).map(|t| t.unwrap()).collect();
        assert!(ttft.windows(2).all(|w| w[1] > w[0]), "later arrivals wait longer: {ttft:?}");
        assert_eq!(load.ttft_by_arrival_s[20], None, "no arrival in bucket 20");
    }

    #[test]
    fn too_few_requests_have_no_rates_and_a_time_limit_shortens_the_window() {
        let load = load_report([span(0.0, 0.0)].into_iter(), S, 1, S);
        assert_eq!((load.offered_rps, load.achieved_rps), (None, None));
        let load = load_report(std::iter::empty(), 0, 1, S);
        assert_eq!((load.arrivals, load.waiting.clone()), (0, vec![0.0]));
        // The run ends at 2 s, inside the 10 s of arrivals: 21 arrivals and starts over 2 s.
        let spans: Vec<RequestSpan> = (0..101).map(|i| span(f64::from(i) * 0.1, 0.0)).collect();
        let load = load_report(spans.iter().copied(), 2 * S, 30, S / 10);
        assert!((load.arrival_window_s - 2.0).abs() < 1e-9);
        assert!((load.achieved_rps.unwrap() - 10.0).abs() < 1e-6);
        // A request still waiting at the end counts as waiting; a refused one never started.
        let waiting = RequestSpan { arrived_ns: 0, started_ns: None, left_queue_ns: None, ttft_ns: None };
        assert_eq!(load_report([waiting].into_iter(), S, 2, S).waiting, vec![1.0, 1.0]);
        let refused = RequestSpan { left_queue_ns: Some(ns(0.5)), ..waiting };
        let spans = [refused, RequestSpan { arrived_ns: S, left_queue_ns: Some(ns(1.5)), ..waiting }];
        assert_eq!(load_report(spans.iter().copied(), 2 * S, 2, S).achieved_rps, None, "nothing started");
    }
}
