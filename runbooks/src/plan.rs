//! The planner: a runbook plus validated params and the live store become
//! a concrete plan — every step with its values filled in, the checks with
//! their current values, and the blast radius. A dry run stops here.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::format::{Check, Risk, Runbook, Step, StepAction};
use crate::params::{self, ParamError};
use crate::probe::{Probe, ProbeSample};
use crate::template::{self, Context, TemplateError, Vars};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Param(#[from] ParamError),
    #[error("{field}: {source}")]
    Template {
        field: String,
        source: TemplateError,
    },
    #[error("targets: {0}")]
    Query(String),
    #[error("{0}: a step must set exactly one kind")]
    StepKind(String),
    #[error("the target set is empty: `{0}` selects no shard; refusing rather than guessing")]
    NoTargets(String),
    #[error("batch of {batch} over {targets} targets exceeds max_unavailable {max}")]
    TooBroad {
        batch: usize,
        targets: usize,
        max: u32,
    },
}

/// One step as it will run.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedStep {
    pub name: String,
    pub kind: &'static str,
    pub target: Option<String>,
    /// What it does, values filled in, e.g. `POST http://…/admin/shards/3/drain`.
    pub detail: String,
    #[serde(skip)]
    pub step: Step,
    #[serde(skip)]
    pub vars: Vars,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckValue {
    pub name: String,
    pub expr: String,
    /// `precondition` or `guard`.
    pub role: &'static str,
    pub holds: bool,
    /// The current result, one line per series.
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShardLoad {
    pub shard: String,
    pub load: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BlastRadius {
    pub shards: Vec<ShardLoad>,
    pub total_load: f64,
    pub unit: String,
    /// Shards unavailable at once, at most.
    pub max_unavailable: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub runbook: String,
    pub title: String,
    pub risk: Risk,
    pub params: BTreeMap<String, String>,
    /// Shards the action locks.
    pub shards: Vec<String>,
    pub steps: Vec<PlannedStep>,
    pub rollback: Vec<PlannedStep>,
    pub checks: Vec<CheckValue>,
    pub blast_radius: BlastRadius,
    #[serde(skip)]
    pub preconditions: Vec<Check>,
    #[serde(skip)]
    pub guards: Vec<Check>,
    #[serde(skip)]
    pub abort_on_alerts: Vec<String>,
    #[serde(skip)]
    pub base_vars: Vars,
}

/// Plans `runbook` with `given` params. `trusted` carries `app_url` and
/// `node`. Fails before anything runs on a bad param or target set.
pub fn plan(
    runbook: &Runbook,
    given: &BTreeMap<String, String>,
    trusted: BTreeMap<String, String>,
    probe: &dyn Probe,
) -> Result<Plan, PlanError> {
    let values = params::validate(runbook, given)?;
    let base_vars = Vars {
        trusted,
        params: values.clone(),
    };
    let mut shards: Vec<String> = runbook
        .params
        .iter()
        .filter(|(_, spec)| spec.kind == crate::format::ParamType::Shard)
        .filter_map(|(name, _)| values.get(name).cloned())
        .collect();

    let mut steps = Vec::new();
    let mut rollback = Vec::new();
    let mut max_unavailable = shards.len().min(1);
    match &runbook.targets {
        Some(targets) => {
            let expr = render(&targets.query, Context::Promql, &base_vars, "targets.query")?;
            let mut found: Vec<String> = probe
                .query(&expr)
                .map_err(PlanError::Query)?
                .into_iter()
                .filter_map(|s| s.labels.get(&targets.label).cloned())
                .collect();
            // Highest id first, as a StatefulSet rollout goes.
            found.sort_by_key(|s| std::cmp::Reverse((s.parse::<u64>().unwrap_or(0), s.clone())));
            found.dedup();
            if found.is_empty() {
                return Err(PlanError::NoTargets(expr));
            }
            let batch = targets.batch.size(found.len());
            if batch > targets.max_unavailable as usize || (found.len() > 1 && batch >= found.len())
            {
                return Err(PlanError::TooBroad {
                    batch,
                    targets: found.len(),
                    max: targets.max_unavailable,
                });
            }
            max_unavailable = batch;
            for chunk in found.chunks(batch) {
                for (i, step) in runbook.steps.iter().enumerate() {
                    expand(
                        &mut steps,
                        step,
                        &base_vars,
                        &targets.label,
                        chunk,
                        &format!("steps[{i}]"),
                    )?;
                }
            }
            // Rollback steps are planned for every target; the executor
            // runs only those of targets it touched.
            for (i, step) in runbook.rollback.iter().enumerate() {
                expand(
                    &mut rollback,
                    step,
                    &base_vars,
                    &targets.label,
                    &found,
                    &format!("rollback[{i}]"),
                )?;
            }
            shards.extend(found);
        }
        None => {
            for (i, step) in runbook.steps.iter().enumerate() {
                steps.push(planned(
                    step,
                    base_vars.clone(),
                    None,
                    &format!("steps[{i}]"),
                )?);
            }
            for (i, step) in runbook.rollback.iter().enumerate() {
                rollback.push(planned(
                    step,
                    base_vars.clone(),
                    None,
                    &format!("rollback[{i}]"),
                )?);
            }
        }
    }

    let mut checks = Vec::new();
    for (role, list) in [
        ("precondition", &runbook.preconditions),
        ("guard", &runbook.guards),
    ] {
        for check in list {
            checks.push(evaluate_check(check, role, &base_vars, probe));
        }
    }
    let blast_radius = blast_radius(runbook, &base_vars, probe, &shards, max_unavailable)?;
    Ok(Plan {
        runbook: runbook.id.clone(),
        title: runbook.title.clone(),
        risk: runbook.risk,
        params: values,
        shards,
        steps,
        rollback,
        checks,
        blast_radius,
        preconditions: runbook.preconditions.clone(),
        guards: runbook.guards.clone(),
        abort_on_alerts: runbook.abort_on_alerts.clone(),
        base_vars,
    })
}

fn render(text: &str, context: Context, vars: &Vars, field: &str) -> Result<String, PlanError> {
    template::render(text, context, vars).map_err(|source| PlanError::Template {
        field: field.to_string(),
        source,
    })
}

/// A per-target step once per target of `chunk`; any other step once.
fn expand(
    list: &mut Vec<PlannedStep>,
    step: &Step,
    vars: &Vars,
    label: &str,
    chunk: &[String],
    field: &str,
) -> Result<(), PlanError> {
    if step.per_target {
        for target in chunk {
            list.push(planned(
                step,
                vars.with_param(label, target),
                Some(target),
                field,
            )?);
        }
    } else {
        list.push(planned(step, vars.clone(), None, field)?);
    }
    Ok(())
}

fn planned(
    step: &Step,
    vars: Vars,
    target: Option<&String>,
    field: &str,
) -> Result<PlannedStep, PlanError> {
    let actions = step.actions();
    let [action] = actions.as_slice() else {
        return Err(PlanError::StepKind(field.to_string()));
    };
    let detail = match action {
        StepAction::Http(http) => format!(
            "{} {}",
            http.method,
            render(&http.url, Context::Url, &vars, field)?
        ),
        StepAction::Exec(exec) => {
            let argv = exec
                .argv
                .iter()
                .map(|a| render(a, Context::Text, &vars, field))
                .collect::<Result<Vec<_>, _>>()?;
            format!("exec {argv:?}")
        }
        StepAction::WaitUntil(wait) => format!(
            "until {} (every {})",
            render(&wait.expr, Context::Promql, &vars, field)?,
            humantime::format_duration(wait.poll)
        ),
        StepAction::Sleep(sleep) => {
            format!(
                "sleep {}",
                render(&sleep.duration, Context::Text, &vars, field)?
            )
        }
        StepAction::Confirm(c) => format!(
            "confirm: {}",
            render(&c.prompt, Context::Text, &vars, field)?
        ),
        StepAction::Notify(n) => format!(
            "notify: {}",
            render(&n.message, Context::Text, &vars, field)?
        ),
    };
    let timeout = step.timeout.unwrap_or(Duration::from_secs(30));
    Ok(PlannedStep {
        name: step.name.clone(),
        kind: action.kind(),
        target: target.cloned(),
        detail: format!("{detail} [timeout {}]", humantime::format_duration(timeout)),
        step: step.clone(),
        vars,
    })
}

/// Whether a check holds: like an alert rule's expression, any returned
/// series means true (the probe maps a zero scalar to no samples).
pub fn holds(samples: &[ProbeSample]) -> bool {
    !samples.is_empty()
}

pub fn evaluate_check(
    check: &Check,
    role: &'static str,
    vars: &Vars,
    probe: &dyn Probe,
) -> CheckValue {
    let (holds, value) = match template::render(&check.expr, Context::Promql, vars) {
        Err(err) => (false, err.to_string()),
        Ok(expr) => match probe.query(&expr) {
            Err(err) => (false, format!("error: {err}")),
            Ok(samples) => (holds(&samples), describe(&samples)),
        },
    };
    CheckValue {
        name: check.name.clone(),
        expr: check.expr.clone(),
        role,
        holds,
        value,
    }
}

fn describe(samples: &[ProbeSample]) -> String {
    if samples.is_empty() {
        return "no data (false)".to_string();
    }
    samples
        .iter()
        .take(8)
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            format!("{{{}}} {}", labels.join(","), s.value)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn blast_radius(
    runbook: &Runbook,
    vars: &Vars,
    probe: &dyn Probe,
    shards: &[String],
    max_unavailable: usize,
) -> Result<BlastRadius, PlanError> {
    let mut loads: BTreeMap<String, f64> = shards.iter().map(|s| (s.clone(), 0.0)).collect();
    let unit = match &runbook.load {
        Some(load) => {
            let expr = render(&load.query, Context::Promql, vars, "load.query")?;
            // A store that cannot answer leaves loads at zero; the plan
            // still shows which shards are hit.
            for sample in probe.query(&expr).unwrap_or_default() {
                if let Some(shard) = sample.labels.get("shard") {
                    *loads.entry(shard.clone()).or_default() += sample.value;
                }
            }
            load.unit.clone()
        }
        None => "load".to_string(),
    };
    let shards: Vec<ShardLoad> = loads
        .into_iter()
        .map(|(shard, load)| ShardLoad { shard, load })
        .collect();
    Ok(BlastRadius {
        total_load: shards.iter().map(|s| s.load).sum(),
        max_unavailable: max_unavailable.max(usize::from(!shards.is_empty())),
        shards,
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::StoreProbe;

    const ROLLING: &str = r#"
id: t
title: T
description: d
risk: disruptive
targets:
  query: 'app_shard_status_code == 5'
  batch: 1
  max_unavailable: 1
steps:
  - name: restart
    per_target: true
    http: { url: '{{ app_url }}/admin/shards/{{ shard }}/restart' }
  - name: pace
    sleep: { duration: 1s }
"#;

    fn plan_of(text: &str, probe: &StoreProbe) -> Result<Plan, PlanError> {
        let runbook = crate::load::parse("t.yaml", text).unwrap();
        let trusted = BTreeMap::from([("app_url".to_string(), "http://app".to_string())]);
        plan(&runbook, &BTreeMap::new(), trusted, probe)
    }

    #[test]
    fn targets_are_walked_highest_first_one_batch_at_a_time() {
        let probe = StoreProbe::with_shards(&[("0", 5.0), ("10", 5.0), ("2", 5.0), ("3", 1.0)]);
        let plan = plan_of(ROLLING, &probe).unwrap();
        assert_eq!(plan.shards, ["10", "2", "0"]);
        let steps: Vec<(&str, Option<&str>)> = plan
            .steps
            .iter()
            .map(|s| (s.name.as_str(), s.target.as_deref()))
            .collect();
        assert_eq!(
            steps,
            [
                ("restart", Some("10")),
                ("pace", None),
                ("restart", Some("2")),
                ("pace", None),
                ("restart", Some("0")),
                ("pace", None),
            ]
        );
        assert!(plan.steps[0]
            .detail
            .starts_with("POST http://app/admin/shards/10/restart"));
        assert_eq!(plan.blast_radius.max_unavailable, 1);
    }

    #[test]
    fn an_empty_target_set_is_refused_not_read_as_everything() {
        let probe = StoreProbe::with_shards(&[("0", 1.0), ("1", 1.0)]);
        assert!(matches!(
            plan_of(ROLLING, &probe),
            Err(PlanError::NoTargets(_))
        ));
    }

    #[test]
    fn a_batch_over_max_unavailable_or_all_targets_is_refused() {
        let probe = StoreProbe::with_shards(&[("0", 5.0), ("1", 5.0), ("2", 5.0), ("3", 5.0)]);
        let half = ROLLING.replace("batch: 1", "batch: \"50%\"");
        assert!(matches!(
            plan_of(&half, &probe),
            Err(PlanError::TooBroad { batch: 2, .. })
        ));
        let all = half
            .replace("max_unavailable: 1", "max_unavailable: 4")
            .replace("50%", "100%");
        assert!(matches!(
            plan_of(&all, &probe),
            Err(PlanError::TooBroad { batch: 4, .. })
        ));
        let ok = half.replace("max_unavailable: 1", "max_unavailable: 2");
        assert_eq!(
            plan_of(&ok, &probe).unwrap().blast_radius.max_unavailable,
            2
        );
    }
}
