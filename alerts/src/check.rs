//! `rules check`: what `promtool check rules` reports, worded the same way.

use std::io::Write;
use std::path::Path;

use crate::rulefmt::{self, DuplicateRule};

#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// Report rules with the same name and labels (promtool's
    /// `--lint=duplicate-rules`, on by default).
    pub lint_duplicates: bool,
    /// Make lint findings fail the check (promtool's `--lint-fatal`).
    pub lint_fatal: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            lint_duplicates: true,
            lint_fatal: false,
        }
    }
}

/// promtool's exit codes.
pub const EXIT_SUCCESS: u8 = 0;
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_LINT: u8 = 3;

/// Checks each file, printing progress to `out` and problems to `err` as
/// promtool does; returns the exit code.
pub fn check_files(
    files: &[&Path],
    options: CheckOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> std::io::Result<u8> {
    let mut failed = false;
    let mut lint_failed = false;
    for path in files {
        writeln!(out, "Checking {}", path.display())?;
        let file = match rulefmt::parse_file(path) {
            Ok(file) => file,
            Err(e) => {
                writeln!(err, "  FAILED:\n{e}\n")?;
                failed = true;
                continue;
            }
        };
        let errors = rulefmt::validate(path, &file);
        if !errors.is_empty() {
            writeln!(err, "  FAILED:")?;
            for e in &errors {
                writeln!(err, "{e}")?;
            }
            writeln!(err)?;
            failed = true;
            continue;
        }
        let duplicates = if options.lint_duplicates {
            rulefmt::duplicate_rules(&file)
        } else {
            Vec::new()
        };
        if !duplicates.is_empty() {
            writeln!(err, "  FAILED:\n{}\n", lint_message(&duplicates))?;
            lint_failed = true;
            continue;
        }
        let count: usize = file.groups.iter().map(|g| g.rules.len()).sum();
        writeln!(out, "  SUCCESS: {count} rules found\n")?;
    }
    Ok(if failed {
        EXIT_FAILURE
    } else if lint_failed && options.lint_fatal {
        EXIT_LINT
    } else {
        EXIT_SUCCESS
    })
}

fn lint_message(duplicates: &[DuplicateRule]) -> String {
    let mut message = format!("lint error {} duplicate rule(s) found.\n", duplicates.len());
    for d in duplicates {
        message.push_str(&format!("Metric: {}\nLabel(s):\n", d.metric));
        for (name, value) in &d.labels {
            message.push_str(&format!("\t{name}: {value}\n"));
        }
    }
    message.push_str("Might cause inconsistency while recording expressions");
    message
}
