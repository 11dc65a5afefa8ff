//! Live validation of the form, as the user types: what the page parses itself (each field's
//! text: an unknown choice, not a number) shows at once; the rest (cross-field rules, the
//! memory plan, the engine's warnings) is asked of the worker, which links the engine's
//! validator so that the page need not.
//!
//! [`LiveCheck`] decides what to send and what to show. Each form gets a larger id; one check
//! is in flight at a time, and a form typed meanwhile waits and replaces any older one still
//! waiting, so a burst of keystrokes costs one check per answer, not one per keystroke (the
//! debounce follows the worker's speed, with no timer). An answer is shown only if it is the
//! newest form's: an older one, arriving late, never overwrites it.

use llmsim_protocol::FieldError;
use llmsim_protocol::check::{CheckAnswer, CheckRequest, MemoryBreakdown};

use crate::form::FormState;
use crate::memory::typical_request_tokens;
use crate::page::Uploads;

/// What live validation shows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checked {
    /// The errors, each at its flag: the page's own parse errors, or the engine's.
    pub errors: Vec<FieldError>,
    /// The engine's warnings about the configuration (a valid one).
    pub warnings: Vec<String>,
    /// One GPU's memory (a valid configuration); a disaggregated cluster's prefill pool's.
    pub memory: Option<MemoryBreakdown>,
    /// One GPU's memory of a disaggregated cluster's decode pool.
    pub decode_memory: Option<MemoryBreakdown>,
}

/// The form's parse errors, or the check to ask of the worker (its id still unset). Whatever
/// fields the flag table has are sent: a new flag needs nothing here.
pub fn draft(form: &FormState, uploads: &Uploads) -> Result<CheckRequest, Vec<FieldError>> {
    let (config, errors) = form.parse();
    if !errors.is_empty() {
        return Err(errors);
    }
    let available = form
        .required_files()
        .into_iter()
        .map(|(_, path)| path)
        .filter(|path| uploads.is_provided(path))
        .collect();
    Ok(CheckRequest {
        id: 0,
        pairs: config.to_pairs(),
        available,
        typical_tokens: typical_request_tokens(form, uploads),
    })
}

/// The page's side of live validation: which form is the newest, which check is in flight, and
/// what is shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveCheck {
    /// The last id given.
    last_id: u32,
    /// The newest form's check, unless it has parse errors; and whether it was sent.
    newest: Option<(CheckRequest, bool)>,
    /// The check the worker is answering.
    in_flight: Option<u32>,
    /// The check sent again after a worker crash that lost it: lost again, it is not resent.
    resent_after_crash: Option<u32>,
    /// What the fields and the memory panel show.
    shown: Checked,
}

impl LiveCheck {
    /// Nothing checked yet.
    pub fn new() -> LiveCheck {
        LiveCheck::default()
    }

    /// What the fields and the memory panel show.
    pub fn shown(&self) -> &Checked {
        &self.shown
    }

    /// The form (or the files it can read) changed to `draft`'s ([`draft`]): its parse errors
    /// show at once; otherwise the check to send now, if none is in flight.
    pub fn form_changed(&mut self, draft: Result<CheckRequest, Vec<FieldError>>) -> Option<CheckRequest> {
        self.last_id += 1;
        match draft {
            Err(errors) => {
                self.newest = None;
                self.shown = Checked { errors, ..Checked::default() };
                None
            }
            Ok(mut request) => {
                if self.newest.is_none() {
                    // The parse errors shown are gone; the worker's verdict follows.
                    self.shown = Checked::default();
                }
                request.id = self.last_id;
                self.newest = Some((request, false));
                self.next_to_send()
            }
        }
    }

    /// The worker's answer: shown if it is the newest form's, dropped if older. Returns the
    /// check to send next (a form typed while this one was in flight).
    pub fn on_answer(&mut self, answer: CheckAnswer) -> Option<CheckRequest> {
        if self.in_flight == Some(answer.id) {
            self.in_flight = None;
        }
        if self.newest.as_ref().is_some_and(|(newest, _)| newest.id == answer.id) {
            self.newest = None;
            self.shown = Checked {
                errors: answer.errors,
                warnings: answer.warnings,
                memory: answer.memory,
                decode_memory: answer.decode_memory,
            };
        }
        self.next_to_send()
    }

    /// The worker died (and is restarted): the answer in flight will never come, so the newest
    /// form's check, if unanswered, is sent again — once: a check lost to two crashes in a row
    /// may be what kills the worker, and sending it again would crash the worker in a loop
    /// (and each crash ends a run in progress). The next edit is checked as usual.
    pub fn worker_restarted(&mut self) -> Option<CheckRequest> {
        let lost = self.in_flight.take();
        if let Some((request, sent)) = &mut self.newest
            && lost == Some(request.id)
        {
            if self.resent_after_crash == Some(request.id) {
                return None;
            }
            self.resent_after_crash = Some(request.id);
            *sent = false;
        }
        // An older check lost leaves the newest form unsent: it goes now.
        self.next_to_send()
    }

    fn next_to_send(&mut self) -> Option<CheckRequest> {
        if self.in_flight.is_some() {
            return None;
        }
        let (request, sent) = self.newest.as_mut().filter(|(_, sent)| !sent)?;
        *sent = true;
        self.in_flight = Some(request.id);
        Some(request.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> FormState {
        FormState::from_pairs(pairs.iter().copied()).0
    }

    /// The worker's answer to `request`, computed as the worker does.
    fn answer(request: &CheckRequest) -> CheckAnswer {
        llmsim_worker::check::check(request)
    }

    fn pp(n: &str) -> Result<CheckRequest, Vec<FieldError>> {
        draft(&form(&[("replica_config_num_pipeline_stages", n)]), &Uploads::default())
    }

    #[test]
    fn parse_errors_show_at_once_and_ask_nothing() {
        let mut live = LiveCheck::new();
        assert_eq!(live.form_changed(pp("two")), None);
        assert_eq!(live.shown().errors[0].flag, "replica_config_num_pipeline_stages");
        assert!(live.shown().errors[0].message.contains("'two' is not a whole number"));
        // Fixed: the parse error goes, and the worker is asked.
        let sent = live.form_changed(pp("2")).expect("a parsed form is checked by the worker");
        assert_eq!(live.shown(), &Checked::default());
        live.on_answer(answer(&sent));
        assert!(live.shown().errors.is_empty() && live.shown().memory.is_some());
    }

    #[test]
    fn a_cross_field_error_comes_from_the_worker() {
        let mut live = LiveCheck::new();
        let sent = live.form_changed(pp("3")).unwrap();
        assert_eq!(live.shown(), &Checked::default(), "nothing the page can tell by itself");
        assert_eq!(live.on_answer(answer(&sent)), None);
        let errors = &live.shown().errors;
        assert_eq!(errors[0].flag, "replica_config_num_pipeline_stages");
        assert!(errors[0].message.contains("does not divide"), "{errors:?}");
    }

    #[test]
    fn one_check_in_flight_and_the_newest_form_waits() {
        let mut live = LiveCheck::new();
        let first = live.form_changed(pp("3")).unwrap();
        // Typed while the first is in flight: nothing sent; the last of them replaces the others.
        assert_eq!(live.form_changed(pp("4")), None);
        assert_eq!(live.form_changed(pp("2")), None);
        // The first answer is stale: dropped, and the newest form goes.
        let newest = live.on_answer(answer(&first)).expect("the waiting form is sent");
        assert_eq!(live.shown(), &Checked::default(), "the stale error is not shown");
        assert_eq!(newest.pairs, vec![("replica_config_num_pipeline_stages".to_string(), "2".to_string())]);
        assert!(newest.id > first.id);
        assert_eq!(live.on_answer(answer(&newest)), None);
        assert!(live.shown().errors.is_empty() && live.shown().memory.is_some());
    }

    #[test]
    fn a_stale_answer_never_overwrites_a_newer_one() {
        let mut live = LiveCheck::new();
        let old = live.form_changed(pp("3")).unwrap();
        let newer = live.worker_restarted().expect("restarted: the newest form is sent again");
        assert_eq!(newer.id, old.id);
        let newest = {
            // The old answer is lost with the crash; a newer form is typed and sent once the
            // restarted worker answers.
            assert_eq!(live.form_changed(pp("2")), None);
            live.on_answer(answer(&newer)).unwrap()
        };
        live.on_answer(answer(&newest));
        let shown = live.shown().clone();
        assert!(shown.errors.is_empty());
        // The dead worker's answer to the older form, arriving last, changes nothing.
        assert_eq!(live.on_answer(answer(&old)), None);
        assert_eq!(live.shown(), &shown);
        // Nor does an answer after a parse error.
        live.form_changed(pp("x"));
        let errors = live.shown().clone();
        live.on_answer(answer(&newest));
        assert_eq!(live.shown(), &errors);
    }

    #[test]
    fn a_check_lost_to_two_crashes_in_a_row_is_not_sent_again() {
        let mut live = LiveCheck::new();
        let sent = live.form_changed(pp("2")).unwrap();
        let again = live.worker_restarted().expect("lost once: sent again");
        assert_eq!(again.id, sent.id);
        assert_eq!(live.worker_restarted(), None, "lost twice: it may be what kills the worker");
        assert_eq!(live.worker_restarted(), None);
        // The next edit is checked, and its own crash earns it one more try.
        let next = live.form_changed(pp("4")).expect("a new form is sent");
        assert_eq!(live.worker_restarted().map(|r| r.id), Some(next.id));
        live.on_answer(answer(&next));
        assert!(live.shown().errors.is_empty() && live.shown().memory.is_some());
    }

    #[test]
    fn a_disaggregated_form_shows_both_pools_memory() {
        let mut live = LiveCheck::new();
        let disagg = form(&[
            ("disaggregation_config_type", "prefill_decode"),
            ("disaggregation_config_decode_tensor_parallel_size", "2"),
        ]);
        let sent = live.form_changed(draft(&disagg, &Uploads::default())).unwrap();
        live.on_answer(answer(&sent));
        let shown = live.shown();
        assert!(shown.errors.is_empty(), "{:?}", shown.errors);
        assert_eq!(shown.memory.as_ref().map(|m| m.gpus_per_replica), Some(1), "the prefill pool");
        assert_eq!(shown.decode_memory.as_ref().map(|m| m.gpus_per_replica), Some(2), "the decode pool");
        // Back to aggregated serving: one pool.
        let sent = live.form_changed(pp("2")).unwrap();
        live.on_answer(answer(&sent));
        assert!(live.shown().memory.is_some() && live.shown().decode_memory.is_none());
    }

    #[test]
    fn available_files_and_typical_length_travel_with_the_check() {
        let shipped = crate::presets::SHIPPED_TRACE;
        let f = form(&[
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", shipped),
        ]);
        let request = draft(&f, &Uploads::default()).unwrap();
        assert_eq!(request.available, vec![shipped.to_string()]);
        assert_eq!(request.typical_tokens, Some(crate::memory::SHIPPED_TRACE_MEAN_TOKENS));
        assert!(answer(&request).errors.is_empty());
        let mine = form(&[
            ("request_generator_config_type", "trace"),
            ("trace_request_generator_config_trace_file", "mine.csv"),
        ]);
        let request = draft(&mine, &Uploads::default()).unwrap();
        assert!(request.available.is_empty());
        assert_eq!(answer(&request).errors[0].flag, "trace_request_generator_config_trace_file");
    }
}
