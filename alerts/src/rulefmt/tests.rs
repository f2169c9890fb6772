use std::path::Path;

use super::*;

fn errors_of(text: &str) -> Vec<String> {
    let path = Path::new("r.yml");
    match parse_text(path, text) {
        Ok(file) => validate(path, &file)
            .iter()
            .map(ToString::to_string)
            .collect(),
        Err(e) => vec![e.to_string()],
    }
}

#[test]
fn loads_a_full_group() {
    let text = "\
groups:
  - name: g
    interval: 30s
    query_offset: 1m
    limit: 10
    labels:
      team: core
    rules:
      - alert: HighCpu
        expr: cpu > 0.8
        for: 5m
        keep_firing_for: 2m
        labels: {severity: page}
        annotations: {summary: 'CPU {{ $value }}'}
      - record: job:cpu:sum
        expr: 1
";
    let file = parse_text(Path::new("r.yml"), text).expect("valid file");
    let g = &file.groups[0];
    assert_eq!(g.interval, Some(PromDuration(30_000)));
    assert_eq!(g.query_offset, Some(PromDuration(60_000)));
    assert_eq!(g.limit, 10);
    assert_eq!(g.labels["team"], "core");
    assert_eq!(g.rules[0].for_, PromDuration(300_000));
    assert_eq!(g.rules[0].keep_firing_for, PromDuration(120_000));
    assert_eq!(g.rules[1].expr.as_deref(), Some("1"));
    assert_eq!(
        g.rules[1].position,
        Position {
            line: 15,
            column: 9
        }
    );
    assert!(validate(Path::new("r.yml"), &file).is_empty());
}

#[test]
fn unknown_keys_name_file_line_and_key() {
    let errors = errors_of("groups:\n  - name: g\n    namespace: x\n    rules: []\n");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("r.yml: 3:"), "{}", errors[0]);
    assert!(
        errors[0].contains("unknown field `namespace`"),
        "{}",
        errors[0]
    );
}

#[test]
fn rule_errors_name_line_group_and_rule() {
    let errors = errors_of(
        "groups:\n  - name: bad-syntax\n    rules:\n      - record: x\n        expr: 'test +'\n",
    );
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with(
            "r.yml: 5:15: group \"bad-syntax\", rule 1, \"x\": could not parse expression: "
        ),
        "{}",
        errors[0]
    );
    let errors = errors_of(
        "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations:\n      summary: '{{ $label.x }}'\n",
    );
    assert_eq!(
        errors,
        ["r.yml: group \"a\", rule 1, \"A\": annotation \"summary\": template: __alert_A:1: undefined variable \"$label\""]
    );
}

#[test]
fn semantic_checks_match_prometheus() {
    let errors = errors_of(
        "groups:
- name: a
  rules:
  - record: 'bad name'
    expr: up
    for: 1m
  - alert: X
    record: y
    expr: up
  - alert: Z
    labels: {'0bad': v}
- name: a
  rules: []
",
    );
    let joined = errors.join("\n");
    for expected in [
        "invalid recording rule name: bad name",
        "invalid field 'for' in recording rule",
        "only one of 'record' and 'alert' must be set",
        "field 'expr' must be set in rule",
        "invalid label name: 0bad",
        "groupname: \"a\" is repeated in the same file",
    ] {
        assert!(
            joined.contains(expected),
            "missing {expected:?} in\n{joined}"
        );
    }
}

#[test]
fn finds_duplicate_rules() {
    let file = parse_text(
        Path::new("r.yml"),
        "groups:\n- name: a\n  rules:\n  - {record: x, expr: '1'}\n  - {record: x, expr: '2'}\n- name: b\n  rules:\n  - {record: x, expr: '3'}\n  - {record: x, expr: '3', labels: {a: b}}\n",
    )
    .expect("valid file");
    let dups = duplicate_rules(&file);
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0].metric, "x");
}

#[test]
fn empty_file_has_no_groups() {
    assert!(errors_of("# nothing here\n").is_empty());
}
