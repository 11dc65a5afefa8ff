//! Share links: made from the form and the uploads it reads, and opened into the form (the
//! link's files are asked for; its pasted texts are loaded; it runs once everything is in).

use super::{Effect, Page};
use crate::form::FormState;
use crate::presets;
use crate::share::SharedRun;

impl Page {
    /// The share link's query for the current form.
    pub fn share_query(&self) -> String {
        self.share_query_of(&self.form)
    }

    /// The share link's query for `form`, with the uploads and pasted texts it reads.
    pub fn share_query_of(&self, form: &FormState) -> String {
        SharedRun {
            pairs: form.active_pairs(),
            files: self.uploads.shared_files(form),
            texts: self.uploads.shared_texts(form),
        }
        .to_query()
    }

    /// Restores a share link's configuration; it runs once its files are uploaded (and the
    /// worker is ready). A link with settings this version does not know does not run: the
    /// errors say which. A link of a run kept in this browser (the address bar of a page that
    /// is reloaded holds its last run's link) shows that run rather than running it again.
    pub fn open_link(&mut self, query: &str) -> Vec<Effect> {
        let shared = SharedRun::from_query(query);
        if shared.is_empty() {
            return Vec::new();
        }
        let query = query.trim_start_matches('?');
        let kept = self.runs.records().iter().rev().find(|r| r.share_query == query).map(|r| r.id);
        let (form, errors) =
            FormState::from_pairs(shared.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        self.form = form;
        // Pasted texts travel in the link: load them as the page that made it did.
        let mut effects = Vec::new();
        for (path, text) in &shared.texts {
            effects.extend(self.upload_link_text(path, text));
        }
        // A link holds one configuration: it runs alone. When that is a preset with an A/B
        // variant, the variant's checkbox comes back unticked, so one click reruns the pair.
        self.variant = presets::matching(&self.form).and_then(|p| p.compare_with);
        self.run_variant = false;
        self.uploads.expect(shared.files);
        if let Some(id) = kept {
            self.show_run(id);
        } else if errors.is_empty() {
            self.autorun = true;
        } else {
            self.run_errors = errors;
            self.notice = Some(
                "This link holds settings this version of llmsim does not know; fix or remove them, then press Run."
                    .into(),
            );
        }
        effects
    }
}
