//! opsdeck-tui
