//! Reading and checking a runbook file. Syntax errors carry the line and
//! column; semantic errors name the field (`steps[2].http.url`).

use std::path::Path;

use regex::Regex;

use crate::format::{Check, ParamType, Runbook, Step, StepAction};
use crate::params;
use crate::template::{self, Context, Vars};

/// Variables the agent supplies to every runbook.
pub const TRUSTED_VARS: &[&str] = &["app_url", "node"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", location(*.line, *.column))]
pub struct RunbookError {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

fn location(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

/// Reads and checks one runbook file.
pub fn load_file(path: &Path) -> Result<Runbook, RunbookError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| RunbookError {
        file: file.clone(),
        line: None,
        column: None,
        message: format!("cannot read: {err}"),
    })?;
    parse(&file, &text)
}

/// Parses and checks runbook YAML; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Runbook, RunbookError> {
    let runbook: Runbook = serde_yaml_ng::from_str(text).map_err(|err| {
        let loc = err.location();
        RunbookError {
            file: file.to_string(),
            line: loc.as_ref().map(|l| l.line()),
            column: loc.as_ref().map(|l| l.column()),
            message: err.to_string(),
        }
    })?;
    check(&runbook).map_err(|(field, message)| RunbookError {
        file: file.to_string(),
        line: None,
        column: None,
        message: format!("{field}: {message}"),
    })?;
    Ok(runbook)
}

type FieldError = (String, String);

/// Variables with placeholder values, to check that templates only name
/// known variables and that PromQL parses once filled in.
fn placeholder_vars(runbook: &Runbook, per_target: bool) -> Vars {
    let mut vars = Vars::default();
    for name in TRUSTED_VARS {
        vars.trusted
            .insert(name.to_string(), "http://127.0.0.1:1".into());
    }
    for (name, spec) in &runbook.params {
        let sample = match spec.kind {
            ParamType::Duration => "1s",
            ParamType::Enum => spec.choices.first().map_or("0", String::as_str),
            _ => "0",
        };
        vars.params.insert(name.clone(), sample.into());
    }
    if let (true, Some(targets)) = (per_target, &runbook.targets) {
        vars.params.insert(targets.label.clone(), "0".into());
    }
    vars
}

fn check(runbook: &Runbook) -> Result<(), FieldError> {
    let id_ok = !runbook.id.is_empty()
        && runbook
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err(("id".into(), "use lowercase letters, digits and `-`".into()));
    }
    if runbook.steps.is_empty() {
        return Err(("steps".into(), "a runbook needs at least one step".into()));
    }
    for (name, spec) in &runbook.params {
        let field = format!("params.{name}");
        if spec.kind == ParamType::Enum && spec.choices.is_empty() {
            return Err((field, "an enum param needs `enum` choices".into()));
        }
        if let Some(pattern) = &spec.pattern {
            Regex::new(pattern).map_err(|err| (format!("{field}.pattern"), err.to_string()))?;
        }
        if let Some(default) = &spec.default {
            params::check_value(name, spec, default)
                .map_err(|err| (format!("{field}.default"), err.to_string()))?;
        }
    }
    let vars = placeholder_vars(runbook, false);
    if let Some(targets) = &runbook.targets {
        check_promql("targets.query", &targets.query, &vars)?;
        if targets.max_unavailable == 0 {
            return Err((
                "targets.max_unavailable".into(),
                "must be at least 1".into(),
            ));
        }
    }
    if let Some(load) = &runbook.load {
        check_promql("load.query", &load.query, &vars)?;
    }
    check_checks("preconditions", &runbook.preconditions, &vars)?;
    check_checks("guards", &runbook.guards, &vars)?;
    for (i, step) in runbook.steps.iter().enumerate() {
        check_step(runbook, &format!("steps[{i}]"), step)?;
    }
    for (i, step) in runbook.rollback.iter().enumerate() {
        check_step(runbook, &format!("rollback[{i}]"), step)?;
    }
    Ok(())
}

fn check_checks(field: &str, checks: &[Check], vars: &Vars) -> Result<(), FieldError> {
    for (i, check) in checks.iter().enumerate() {
        check_promql(&format!("{field}[{i}].expr"), &check.expr, vars)?;
    }
    Ok(())
}

fn check_promql(field: &str, expr: &str, vars: &Vars) -> Result<(), FieldError> {
    let filled =
        template::render(expr, Context::Promql, vars).map_err(|e| (field.into(), e.to_string()))?;
    opsdeck_metrics::promql::Query::parse(&filled)
        .map(|_| ())
        .map_err(|e| (field.into(), e.to_string()))
}

fn check_template(field: &str, text: &str, vars: &Vars) -> Result<(), FieldError> {
    template::render(text, Context::Text, vars)
        .map(|_| ())
        .map_err(|e| (field.into(), e.to_string()))
}

fn check_step(runbook: &Runbook, field: &str, step: &Step) -> Result<(), FieldError> {
    if step.per_target && runbook.targets.is_none() {
        return Err((
            format!("{field}.per_target"),
            "needs `targets` in the runbook".into(),
        ));
    }
    let vars = placeholder_vars(runbook, step.per_target);
    let actions = step.actions();
    let [action] = actions.as_slice() else {
        return Err((
            field.to_string(),
            format!(
                "step `{}` must set exactly one of http, exec, wait_until, sleep, confirm, notify",
                step.name
            ),
        ));
    };
    let field = format!("{field}.{}", action.kind());
    match action {
        StepAction::Http(http) => {
            reqwest::Method::from_bytes(http.method.as_bytes())
                .map_err(|_| (format!("{field}.method"), "not an HTTP method".into()))?;
            check_template(&format!("{field}.url"), &http.url, &vars)?;
            for (name, value) in &http.headers {
                check_template(&format!("{field}.headers.{name}"), value, &vars)?;
            }
            if let Some(body) = &http.body {
                template::render_json(body, &vars)
                    .map_err(|e| (format!("{field}.body"), e.to_string()))?;
            }
        }
        StepAction::Exec(exec) => {
            if exec.argv.is_empty() {
                return Err((format!("{field}.argv"), "needs a program".into()));
            }
            for (i, arg) in exec.argv.iter().enumerate() {
                check_template(&format!("{field}.argv[{i}]"), arg, &vars)?;
            }
            for (name, value) in &exec.env {
                check_template(&format!("{field}.env.{name}"), value, &vars)?;
            }
        }
        StepAction::WaitUntil(wait) => {
            if step.timeout.is_none() {
                return Err((field.clone(), "wait_until needs a `timeout`".into()));
            }
            check_promql(&format!("{field}.expr"), &wait.expr, &vars)?;
        }
        StepAction::Sleep(sleep) => {
            let text = template::render(&sleep.duration, Context::Text, &vars)
                .map_err(|e| (format!("{field}.duration"), e.to_string()))?;
            humantime::parse_duration(&text)
                .map_err(|e| (format!("{field}.duration"), format!("{text:?}: {e}")))?;
        }
        StepAction::Confirm(c) => check_template(&format!("{field}.prompt"), &c.prompt, &vars)?,
        StepAction::Notify(n) => check_template(&format!("{field}.message"), &n.message, &vars)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "id: t\ntitle: T\ndescription: d\nrisk: safe\nsteps:\n  - name: s\n    sleep: { duration: 1s }\n";

    #[test]
    fn minimal_runbook_parses() {
        let rb = parse("t.yaml", MINIMAL).unwrap();
        assert_eq!(rb.steps[0].actions()[0].kind(), "sleep");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text = MINIMAL.replace("risk: safe", "risk: safe\nrisky: yes");
        let err = parse("t.yaml", &text).unwrap_err();
        assert_eq!(err.file, "t.yaml");
        assert_eq!(err.line, Some(5));
        assert!(err.message.contains("risky"), "{err}");
    }

    #[test]
    fn unknown_template_variable_names_the_field() {
        let text = MINIMAL.replace(
            "sleep: { duration: 1s }",
            "notify: { message: \"{{ nope }}\" }",
        );
        let err = parse("t.yaml", &text).unwrap_err().to_string();
        assert!(
            err.contains("steps[0].notify.message") && err.contains("nope"),
            "{err}"
        );
    }

    #[test]
    fn two_kinds_in_one_step_is_an_error() {
        let text = MINIMAL.replace(
            "sleep: { duration: 1s }",
            "sleep: { duration: 1s }\n    notify: { message: hi }",
        );
        let err = parse("t.yaml", &text).unwrap_err().to_string();
        assert!(err.contains("exactly one"), "{err}");
    }

    #[test]
    fn bad_promql_names_the_guard() {
        let text = MINIMAL.replace("steps:", "guards:\n  - { name: g, expr: 'up{' }\nsteps:");
        let err = parse("t.yaml", &text).unwrap_err().to_string();
        assert!(err.contains("guards[0].expr"), "{err}");
    }
}
