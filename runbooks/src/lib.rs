//! opsdeck-runbooks
