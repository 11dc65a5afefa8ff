//! The part of `llmsim` other front ends reuse: the output directory in Vidur's layout
//! ([`output`]). The Python package (`crates/python`) writes a run's files through it, so a
//! run written from Python and one written by the `llmsim` binary are laid out the same.

pub mod output;
