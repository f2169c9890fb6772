//! opsdeck-demo
