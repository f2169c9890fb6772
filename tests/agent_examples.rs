//! Every agent example in `examples/` passes `opsdeck agent --check-config`
//! with its secrets given through the environment, as the examples say.

use std::process::Command;

#[test]
fn every_agent_example_is_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("examples dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !(name.starts_with("agent-") && name.ends_with(".yaml")) {
            continue;
        }
        let output = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
            .args(["agent", "--check-config", "--config"])
            .arg(&path)
            .env("OPSDECK_VIEWER_TOKEN", "viewer")
            .env("OPSDECK_OPERATOR_TOKEN", "operator")
            .env("OPSDECK_SCRAPE_ORDERS_PASSWORD", "actuator-password")
            .output()
            .expect("run opsdeck");
        assert!(
            output.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 3, "found {checked} agent examples");
}
