//! A table of flags: the set a [`super::Config`] holds values for. The engine's one table is
//! assembled above the policies, in [`crate::flag_table`].

use super::{FlagDef, closest};

/// Flag definitions in help order, looked up by name.
#[derive(Debug)]
pub struct FlagTable {
    flags: Vec<FlagDef>,
}

impl FlagTable {
    /// A table of `flags`, in help order.
    pub fn new(flags: Vec<FlagDef>) -> FlagTable {
        FlagTable { flags }
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
