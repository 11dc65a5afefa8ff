//! A table of flags: the set a [`super::Config`] holds values for. The engine's one table is
//! assembled above the policies, in [`crate::flag_table`].

use super::{FlagDef, closest};

/// Flag definitions in help order, looked up by name.
#[derive(Debug)]
pub struct FlagTable {
    flags: Vec<FlagDef>,
    /// `(selector, flag)` for each flag making a second choice of a selector
    /// ([`FlagDef::second_choice_of`]).
    second_choices: Vec<(&'static str, &'static str)>,
}

impl FlagTable {
    /// A table of `flags`, in help order.
    pub fn new(flags: Vec<FlagDef>) -> FlagTable {
        let second_choices =
            flags.iter().filter_map(|f| f.second_choice_of.map(|selector| (selector, f.name))).collect();
        FlagTable { flags, second_choices }
    }

    /// The flags making a second choice of `selector`.
    pub fn second_choices_of<'a>(&'a self, selector: &'a str) -> impl Iterator<Item = &'static str> + 'a {
        self.second_choices.iter().filter(move |(s, _)| *s == selector).map(|(_, f)| *f)
    }

    /// Every flag, in help order.
    pub fn flags(&self) -> &[FlagDef] {
        &self.flags
    }

    /// The flag called `name` (without `--`).
    pub fn find(&self, name: &str) -> Option<&FlagDef> {
        self.flags.iter().find(|f| f.name == name)
    }

    /// The flag name closest to a misspelt `name`.
    pub fn suggest(&self, name: &str) -> Option<&'static str> {
        closest(name, self.flags.iter().map(|f| f.name))
    }
}
