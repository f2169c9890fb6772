//! opsdeck-agent: the sidecar. Config, collectors, profiles, HTTP API and
//! its wire types, persistence and wiring.

pub mod api;
