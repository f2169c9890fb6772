//! The built-in runbooks, embedded in the binary, and the deployment's
//! own from runbook directories.

use std::path::{Path, PathBuf};

use crate::format::Runbook;
use crate::load::{self, RunbookError};

const SOURCES: &[(&str, &str)] = &[
    (
        "catalog/drain-shard.yaml",
        include_str!("../catalog/drain-shard.yaml"),
    ),
    (
        "catalog/resume-shard.yaml",
        include_str!("../catalog/resume-shard.yaml"),
    ),
    (
        "catalog/restart-shard.yaml",
        include_str!("../catalog/restart-shard.yaml"),
    ),
    (
        "catalog/rolling-restart-node.yaml",
        include_str!("../catalog/rolling-restart-node.yaml"),
    ),
    (
        "catalog/recycle-pool.yaml",
        include_str!("../catalog/recycle-pool.yaml"),
    ),
    (
        "catalog/restart-node.yaml",
        include_str!("../catalog/restart-node.yaml"),
    ),
];

/// Every built-in runbook, parsed and checked.
pub fn builtin() -> Result<Vec<Runbook>, RunbookError> {
    SOURCES
        .iter()
        .map(|(file, text)| load::parse(file, text))
        .collect()
}

/// The built-in runbooks, then every `*.yaml` / `*.yml` file of `dirs`
/// (each directory's files in name order). A file whose id is a built-in
/// one replaces it, so a deployment can swap the demo's `http` steps for
/// its own lever; one id in two files of `dirs` is an error naming both.
pub fn load(dirs: &[PathBuf]) -> Result<Vec<Runbook>, RunbookError> {
    let mut runbooks = builtin()?;
    let mut origin: Vec<Option<String>> = vec![None; runbooks.len()];
    for dir in dirs {
        for file in runbook_files(dir)? {
            let runbook = load::load_file(&file)?;
            let file = file.display().to_string();
            match runbooks.iter().position(|r| r.id == runbook.id) {
                Some(i) => {
                    if let Some(first) = &origin[i] {
                        return Err(RunbookError {
                            file,
                            line: None,
                            column: None,
                            message: format!(
                                "runbook id {:?} is already defined in {first}",
                                runbook.id
                            ),
                        });
                    }
                    runbooks[i] = runbook;
                    origin[i] = Some(file);
                }
                None => {
                    runbooks.push(runbook);
                    origin.push(Some(file));
                }
            }
        }
    }
    Ok(runbooks)
}

fn runbook_files(dir: &Path) -> Result<Vec<PathBuf>, RunbookError> {
    let unreadable = |err: std::io::Error| RunbookError {
        file: dir.display().to_string(),
        line: None,
        column: None,
        message: format!("cannot read the runbook directory: {err}"),
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        let is_yaml = path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml");
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_runbook_loads_and_ids_match_files() {
        let runbooks = super::builtin().unwrap();
        for (rb, (file, _)) in runbooks.iter().zip(super::SOURCES) {
            assert_eq!(format!("catalog/{}.yaml", rb.id), *file);
        }
    }

    /// `GET /api/v1/runbooks` serves runbooks as JSON: what it serves
    /// reads back as the same runbook.
    #[test]
    fn runbooks_round_trip_through_json() {
        for rb in super::builtin().unwrap() {
            let json = serde_json::to_value(&rb).unwrap();
            let back: crate::Runbook = serde_json::from_value(json).unwrap();
            assert_eq!(back, rb);
        }
    }

    /// An alertname that no default rule fires would never offer or stop
    /// anything: every name a runbook uses is in the default pack.
    #[test]
    fn every_alertname_is_a_default_rule() {
        let pack: String = opsdeck_alerts::DEFAULT_RULE_PACK
            .iter()
            .map(|(_, text)| *text)
            .collect();
        for rb in super::builtin().unwrap() {
            for name in rb.alerts.iter().chain(&rb.abort_on_alerts) {
                assert!(
                    pack.contains(&format!("alert: {name}\n")),
                    "{}: {name}",
                    rb.id
                );
            }
        }
    }

    const CUSTOM: &str = "id: restart-shard\ntitle: Restart a shard (PM2)\ndescription: d\nrisk: disruptive\nparams:\n  shard: { type: shard, required: true }\nsteps:\n  - name: restart\n    exec: { argv: [pm2, restart, 'bot-{{ shard }}'] }\n";

    #[test]
    fn directory_runbooks_add_to_and_replace_built_in_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("restart-shard.yaml"), CUSTOM).unwrap();
        let extra = CUSTOM.replace("id: restart-shard", "id: page-owner");
        std::fs::write(dir.path().join("page-owner.yml"), extra).unwrap();
        std::fs::write(dir.path().join("README.md"), "not a runbook").unwrap();
        let all = super::load(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(all.len(), super::SOURCES.len() + 1);
        let restart = all.iter().find(|r| r.id == "restart-shard").unwrap();
        assert_eq!(restart.title, "Restart a shard (PM2)");
        assert!(all.iter().any(|r| r.id == "page-owner"));
    }

    #[test]
    fn errors_name_the_file_the_line_or_the_other_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), CUSTOM).unwrap();
        std::fs::write(dir.path().join("b.yaml"), CUSTOM).unwrap();
        let err = super::load(&[dir.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("b.yaml") && err.contains("a.yaml"), "{err}");

        let broken = tempfile::tempdir().unwrap();
        let path = broken.path().join("bad.yaml");
        std::fs::write(&path, CUSTOM.replace("risk: disruptive", "risk: yolo")).unwrap();
        let err = super::load(&[broken.path().to_path_buf()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.yaml:4"), "{err}");

        let missing = broken.path().join("nope");
        let err = super::load(&[missing]).unwrap_err().to_string();
        assert!(err.contains("nope") && err.contains("cannot read"), "{err}");
    }
}
