//! `opsdeck rules check|test`: promtool's `check rules` and `test rules`,
//! same inputs, same output, same exit codes (0 pass, 1 fail, 3 lint
//! findings with `--lint-fatal`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use opsdeck_alerts::check::{check_files, CheckOptions};

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// Validate rule files like `promtool check rules`: YAML structure and
    /// unknown keys, PromQL, label and annotation templates, names, and
    /// duplicate rules. Every error names the file, line, group and rule.
    Check {
        /// Which lint to run: `duplicate-rules` (the default) or `none`.
        #[arg(long, default_value = "duplicate-rules", value_parser = ["duplicate-rules", "none"])]
        lint: String,
        /// Exit with code 3 when a lint finds something.
        #[arg(long)]
        lint_fatal: bool,
        /// Prometheus rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run rule unit tests like `promtool test rules`: the same test files
    /// (rule_files, evaluation_interval, group_eval_order, input_series,
    /// alert_rule_test, promql_expr_test). Exits 0 only if every test passes.
    Test {
        /// promtool unit-test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(cmd: RulesCommand) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    match cmd {
        RulesCommand::Check {
            lint,
            lint_fatal,
            files,
        } => {
            let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            let options = CheckOptions {
                lint_duplicates: lint == "duplicate-rules",
                lint_fatal,
            };
            let code = check_files(&files, options, &mut stdout.lock(), &mut stderr.lock())?;
            Ok(ExitCode::from(code))
        }
        RulesCommand::Test { files } => {
            let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            let passed = opsdeck_alerts::unittest::run_files(
                &files,
                &mut stdout.lock(),
                &mut stderr.lock(),
            )?;
            Ok(ExitCode::from(if passed { 0 } else { 1 }))
        }
    }
}
