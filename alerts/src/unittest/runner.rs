//! Runs one test file's groups: load the input series, evaluate the rule
//! groups at every `evaluation_interval` from 0 to the last `eval_time`,
//! compare firing alerts as the evaluation passes each alert test's time,
//! then run the PromQL expression tests. As promtool does.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use opsdeck_metrics::promql::{Engine, Query};
use opsdeck_metrics::{Labels, SeriesStore, StoreConfig};

use super::report::{
    alerts_string, go_duration_ms, indent_lines, samples_string, LabelsAndAnnotations,
};
use super::series::{parse_metric, parse_values};
use super::{AlertTestCase, TestFile, TestGroup};
use crate::evaluator::load_groups;
use crate::rules::{query_vector, AlertState, EvalContext, Rule, RuleGroup};

const DEFAULT_EVALUATION_INTERVAL_MS: i64 = 60_000;

pub fn run(file: &TestFile, rule_files: &[PathBuf]) -> Vec<String> {
    let eval_interval = file
        .evaluation_interval
        .map(|d| d.millis())
        .filter(|&ms| ms > 0)
        .unwrap_or(DEFAULT_EVALUATION_INTERVAL_MS);
    let mut order = HashMap::new();
    for (i, name) in file.group_eval_order.iter().enumerate() {
        if order.insert(name.as_str(), i).is_some() {
            return vec![format!("group name repeated in evaluation order: {name}")];
        }
    }
    let groups = load_rule_files(rule_files, eval_interval);
    let mut failures = Vec::new();
    for group in &file.tests {
        failures.extend(run_group(group, eval_interval, &order, &groups));
    }
    failures
}

/// Every group of every rule file, or the loading errors.
fn load_rule_files(
    files: &[PathBuf],
    default_interval_ms: i64,
) -> Result<Vec<RuleGroup>, Vec<String>> {
    let mut groups = Vec::new();
    for path in files {
        let text =
            std::fs::read_to_string(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
        let loaded = load_groups(path, &text, default_interval_ms)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        groups.extend(loaded);
    }
    Ok(groups)
}

fn load_series(group: &TestGroup, store: &SeriesStore) -> Result<(), String> {
    let step = group.interval.millis();
    for input in &group.input_series {
        let labels = parse_metric(&input.series).map_err(|e| e.to_string())?;
        let values = parse_values(&input.values).map_err(|e| e.to_string())?;
        for (i, value) in values.into_iter().enumerate() {
            if let Some(v) = value {
                // With no `interval` every sample lands at 0 and the first
                // one wins, as in promtool 2.42.
                let _ = store.append(&labels, i as i64 * step, v);
            }
        }
    }
    Ok(())
}

fn label_map(labels: &Labels) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| (l.name.to_string(), l.value.to_string()))
        .collect()
}

fn run_group(
    tg: &TestGroup,
    eval_interval: i64,
    order: &HashMap<&str, usize>,
    loaded: &Result<Vec<RuleGroup>, Vec<String>>,
) -> Vec<String> {
    let store = SeriesStore::new(StoreConfig {
        retention_ms: None,
        ..Default::default()
    });
    if let Err(e) = load_series(tg, &store) {
        return vec![e];
    }
    let mut groups = match loaded {
        Ok(groups) => groups.clone(),
        Err(errors) => return errors.clone(),
    };
    groups.sort_by_key(|g| order.get(g.name()).copied().unwrap_or(0));

    let mut alert_tests: BTreeMap<i64, Vec<&AlertTestCase>> = BTreeMap::new();
    for test in &tg.alert_rule_test {
        if test.alertname.is_empty() {
            let in_group = if tg.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", tg.name)
            };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                test.eval_time
            )];
        }
        alert_tests
            .entry(test.eval_time.millis())
            .or_default()
            .push(test);
    }
    let max_eval = tg
        .alert_rule_test
        .iter()
        .map(|t| t.eval_time.millis())
        .chain(tg.promql_expr_test.iter().map(|t| t.eval_time.millis()))
        .max()
        .unwrap_or(0);

    let engine = Engine::default();
    let ctx = EvalContext {
        store: &store,
        engine: &engine,
        external_labels: &tg.external_labels,
        external_url: &tg.external_url,
        // As promtool, in turn: a test's outcome never depends on timing.
        concurrency: 1,
    };
    let test_name = if tg.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", tg.name)
    };
    let mut failures = Vec::new();
    let mut pending_tests = alert_tests.iter().peekable();
    let mut ts = 0;
    while ts <= max_eval {
        let mut eval_errors = Vec::new();
        for group in &mut groups {
            group.eval(&ctx, ts);
            for entry in group.rules() {
                if let Some(e) = &entry.last_error {
                    eval_errors.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        entry.rule.name(),
                        go_duration_ms(ts)
                    ));
                }
            }
        }
        if !eval_errors.is_empty() {
            failures.extend(eval_errors);
            return failures;
        }
        // Alert tests whose time falls in [ts, ts + interval) compare with
        // this evaluation.
        while let Some((&eval_time, tests)) =
            pending_tests.next_if(|(&t, _)| ts <= t && t < ts + eval_interval)
        {
            let _ = eval_time;
            for test in tests {
                if let Some(failure) = check_alerts(test, &groups, &test_name) {
                    failures.push(failure);
                }
            }
        }
        ts += eval_interval;
    }
    for test in &tg.promql_expr_test {
        if let Some(failure) = check_expr(test, &engine, &store) {
            failures.push(failure);
        }
    }
    failures
}

fn check_alerts(test: &AlertTestCase, groups: &[RuleGroup], test_name: &str) -> Option<String> {
    let mut got: Vec<LabelsAndAnnotations> = groups
        .iter()
        .flat_map(|g| g.rules())
        .filter_map(|entry| match &entry.rule {
            Rule::Alerting(rule) if rule.name() == test.alertname => Some(rule),
            _ => None,
        })
        .flat_map(|rule| rule.active_alerts())
        .filter(|alert| alert.state == AlertState::Firing)
        .map(|alert| LabelsAndAnnotations {
            labels: label_map(&alert.labels),
            annotations: alert.annotations.clone(),
        })
        .collect();
    let mut expected: Vec<LabelsAndAnnotations> = test
        .exp_alerts
        .iter()
        .map(|a| {
            let mut labels = a.exp_labels.clone();
            labels.insert("alertname".into(), test.alertname.clone());
            LabelsAndAnnotations {
                labels,
                annotations: a.exp_annotations.clone(),
            }
        })
        .collect();
    got.sort();
    expected.sort();
    if got == expected {
        return None;
    }
    Some(format!(
        "{test_name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
        test.alertname,
        test.eval_time,
        indent_lines(&alerts_string(&expected), "            "),
        indent_lines(&alerts_string(&got), "            "),
    ))
}

fn check_expr(test: &super::ExprTestCase, engine: &Engine, store: &SeriesStore) -> Option<String> {
    let quoted = crate::template::go_quote(&test.expr);
    let time = test.eval_time;
    let failed = |err: String| Some(format!("    expr: {quoted}, time: {time}, err: {err}"));
    let query = match Query::parse(&test.expr) {
        Ok(q) => q,
        Err(e) => return failed(e.to_string()),
    };
    let result = match query_vector(engine, store, &query, time.millis()) {
        Ok(r) => r,
        Err(e) => return failed(e.to_string()),
    };
    let mut got: Vec<(BTreeMap<String, String>, f64)> =
        result.iter().map(|s| (label_map(&s.labels), s.v)).collect();
    let mut expected = Vec::with_capacity(test.exp_samples.len());
    for sample in &test.exp_samples {
        let labels = if sample.labels.trim().is_empty() {
            Labels::new()
        } else {
            match parse_metric(&sample.labels) {
                Ok(l) => l,
                Err(e) => {
                    return failed(format!(
                        "labels {}: {e}",
                        crate::template::go_quote(&sample.labels)
                    ))
                }
            }
        };
        expected.push((label_map(&labels), sample.value));
    }
    got.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    // Exact comparison, as promtool's reflect.DeepEqual (NaN never equals).
    let equal = got.len() == expected.len()
        && got
            .iter()
            .zip(&expected)
            .all(|(g, e)| g.0 == e.0 && g.1 == e.1);
    if equal {
        return None;
    }
    Some(format!(
        "    expr: {quoted}, time: {time},\n        exp: {}\n        got: {}",
        samples_string(&expected),
        samples_string(&got)
    ))
}
