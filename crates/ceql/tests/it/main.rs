//! The CEQL integration tests, in one binary (each test binary links the crate and its
//! dependencies again): the grammars, checking and evaluation, and the push-down planner.

mod common;

mod check_eval;
mod parse;
mod plan;
