//! Which rules of a group may be queried at the same time as others: those
//! that read no rule's output and whose output no rule reads. Found as
//! Prometheus finds them for its concurrent rule evaluation, by name: the
//! metrics a rule's expression selects against the names the group's
//! rules write (a recording rule's `record`, an alerting rule's `alert`).

use super::alerting::{ALERTS_FOR_STATE_METRIC, ALERTS_METRIC};
use super::Rule;

/// One flag per rule, in order: whether it is independent of the others.
/// None is when a rule could read anything the group writes: a selector
/// without one metric name, or one of `ALERTS` or `ALERTS_FOR_STATE`,
/// which every alerting rule writes.
pub(super) fn independent_rules<'a>(rules: impl Iterator<Item = &'a Rule>) -> Vec<bool> {
    let rules: Vec<&Rule> = rules.collect();
    let reads: Option<Vec<_>> = rules
        .iter()
        .map(|rule| {
            rule.query().metric_names().filter(|names| {
                !names.contains(ALERTS_METRIC) && !names.contains(ALERTS_FOR_STATE_METRIC)
            })
        })
        .collect();
    let Some(reads) = reads else {
        return vec![false; rules.len()];
    };
    rules
        .iter()
        .zip(&reads)
        .map(|(rule, own_reads)| {
            let read_by_any = reads.iter().any(|names| names.contains(rule.name()));
            let reads_any_output = rules.iter().any(|other| own_reads.contains(other.name()));
            !read_by_any && !reads_any_output
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use opsdeck_metrics::promql::Query;

    use super::*;
    use crate::rules::{AlertingRule, RecordingRule};

    fn record(name: &str, expr: &str) -> Rule {
        let query = Query::parse(expr).expect("parses");
        Rule::Recording(RecordingRule::new(name, query, &BTreeMap::new()))
    }

    fn alert(name: &str, expr: &str) -> Rule {
        let query = Query::parse(expr).expect("parses");
        let rule = AlertingRule::new(name, query, 0, 0, &BTreeMap::new(), &BTreeMap::new());
        Rule::Alerting(rule.expect("valid"))
    }

    #[test]
    fn a_rule_reading_another_rules_output_and_that_rule_are_not_independent() {
        let rules = [
            record("job:errors:rate5m", "sum by (job) (rate(errors_total[5m]))"),
            alert("HighErrors", "job:errors:rate5m > 1"),
            alert("Down", "up == 0"),
            alert(
                "Slow",
                "histogram_quantile(0.9, rate(latency_bucket[5m])) > 1",
            ),
        ];
        assert_eq!(independent_rules(rules.iter()), [false, false, true, true]);
    }

    #[test]
    fn a_rule_reading_its_own_output_is_not_independent() {
        let rules = [
            record("load:avg10m", "avg_over_time(load:avg10m[10m])"),
            alert("Down", "up == 0"),
        ];
        assert_eq!(independent_rules(rules.iter()), [false, true]);
    }

    #[test]
    fn a_rule_that_could_read_anything_makes_the_whole_group_run_in_turn() {
        for reads_anything in [
            "{job=\"bot\"} == 0",
            "ALERTS{alertstate=\"firing\"} > 0",
            "ALERTS_FOR_STATE > 0",
        ] {
            let rules = [
                alert("Down", "up == 0"),
                alert("Any", reads_anything),
                alert("Slow", "latency > 1"),
            ];
            assert_eq!(
                independent_rules(rules.iter()),
                [false; 3],
                "{reads_anything}"
            );
        }
    }
}
