//! Scheduling one batch ahead: vLLM's async scheduling, SGLang's and TensorRT-LLM's overlap
//! schedulers. The engine forms batch k+1 on the CPU while batch k runs on the GPU, so k+1
//! can only admit the requests that had reached the engine when k was formed; a request that
//! arrives while k runs joins k+2. When the engine was idle, a new request is scheduled at
//! once. (The tokens of batch k still reach the client when k ends: its outputs are processed
//! as soon as k+1 is launched, which these models treat as instantaneous.)
//!
//! Sources: vLLM `EngineCore.step_with_batch_queue` (a batch queue of two: schedule and
//! launch the next batch before waiting for the previous one's output); TensorRT-LLM
//! `PyExecutor._executor_loop_overlap` (`_prepare_and_schedule_batch` for the next batch, then
//! `_process_previous_batch`); SGLang `Scheduler.event_loop_overlap`.

use crate::batch::BatchPlan;
use crate::time::SimTime;

/// When the batches a scheduler forms see new requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OneStepAhead {
    enabled: bool,
    /// When the batch running now was formed, if the engine has been busy since.
    previous: Option<SimTime>,
}

impl OneStepAhead {
    /// Scheduling one batch ahead (`enabled`), or at each batch's end as Vidur does.
    pub fn new(enabled: bool) -> OneStepAhead {
        OneStepAhead { enabled, previous: None }
    }

    /// The latest reception time of a waiting request the batch formed `now` may admit: the
    /// instant the previous batch was formed when the engine has run batches back to back,
    /// else `now`.
    pub fn cutoff(&self, now: SimTime) -> SimTime {
        match self.previous {
            Some(formed) if self.enabled => formed,
            _ => now,
        }
    }

    /// Records the outcome of forming a batch `now`: an empty one leaves the engine idle, and
    /// the next batch then sees every request that has arrived.
    pub fn formed(&mut self, now: SimTime, non_empty: bool) {
        self.previous = non_empty.then_some(now);
    }

    /// Forms the batch of `now` into `plan` with `form(cutoff, plan)`: first with the arrivals
    /// up to the cutoff; when that forms nothing and the cutoff is earlier, the engine is idle
    /// now and sees every arrival, so again with `now`. Returns the clock that records the
    /// outcome (`self` is a copy, so that `form` may borrow the scheduler that holds it:
    /// `self.ahead = self.ahead.form(now, plan, |cutoff, plan| self.form(cutoff, plan))`).
    #[must_use]
    pub fn form(
        mut self,
        now: SimTime,
        plan: &mut BatchPlan,
        mut form: impl FnMut(SimTime, &mut BatchPlan),
    ) -> OneStepAhead {
        let cutoff = self.cutoff(now);
        form(cutoff, plan);
        if plan.is_empty() && cutoff < now {
            form(now, plan);
        }
        self.formed(now, !plan.is_empty());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::RequestId;

    #[test]
    fn a_busy_engine_sees_what_had_arrived_when_the_running_batch_was_formed() {
        let mut clock = OneStepAhead::new(true);
        assert_eq!(clock.cutoff(SimTime(5)), SimTime(5), "idle at first");
        clock.formed(SimTime(5), true);
        assert_eq!(clock.cutoff(SimTime(9)), SimTime(5));
        clock.formed(SimTime(9), true);
        assert_eq!(clock.cutoff(SimTime(14)), SimTime(9));
        // Nothing to run at 14: idle, so a request arriving at 20 is scheduled at once.
        clock.formed(SimTime(14), false);
        assert_eq!(clock.cutoff(SimTime(20)), SimTime(20));
        let mut off = OneStepAhead::new(false);
        off.formed(SimTime(5), true);
        assert_eq!(off.cutoff(SimTime(9)), SimTime(9), "without it every arrival counts");
    }

    /// `form` offers the cutoff, then `now` only when the cutoff formed nothing, and records.
    #[test]
    fn forming_falls_back_to_now_only_when_nothing_was_formed_ahead() {
        let mut plan = BatchPlan::default();
        let mut offered = Vec::new();
        // A request received at 7 is the only one: it can be admitted from cutoff 7 on.
        let mut form = |cutoff: SimTime, plan: &mut BatchPlan| {
            offered.push(cutoff);
            if cutoff >= SimTime(7) && plan.is_empty() {
                plan.push(RequestId(0), 1);
            }
        };
        let clock = OneStepAhead::new(true).form(SimTime(5), &mut plan, &mut form);
        assert!(plan.is_empty(), "nothing had arrived at 5: the engine stays idle");
        let clock = clock.form(SimTime(8), &mut plan, &mut form);
        assert!(!plan.is_empty(), "idle at 5, so the batch of 8 sees the arrival at 7");
        plan.clear();
        // Busy since 8: the batch of 9 first looks at what had arrived by 8, forms the request
        // again (the closure forms it whenever it may), so `now` is not offered.
        let clock = clock.form(SimTime(9), &mut plan, &mut form);
        assert_eq!(offered, [SimTime(5), SimTime(8), SimTime(8)]);
        assert_eq!(clock.cutoff(SimTime(12)), SimTime(9));
        // A batch formed ahead with nothing in it falls back to `now`.
        plan.clear();
        let mut none_before_11 = |cutoff: SimTime, _: &mut BatchPlan| offered.push(cutoff);
        let clock = clock.form(SimTime(11), &mut plan, &mut none_before_11);
        assert_eq!(&offered[3..], [SimTime(9), SimTime(11)]);
        assert_eq!(clock.cutoff(SimTime(12)), SimTime(12), "an empty batch leaves the engine idle");
    }
}
