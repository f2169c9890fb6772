//! Prometheus's PromQL test-script language (`.test` files): a parser and
//! a runner over our engine and store.

pub mod parse;
pub mod run;
