use std::collections::BTreeMap;

use super::*;

struct FixedQuerier;

impl TemplateQuerier for FixedQuerier {
    fn query(&self, expr: &str) -> Result<QuerySamples, String> {
        match expr {
            "up" => Ok(vec![
                (
                    BTreeMap::from([("instance".to_string(), "b:1".to_string())]),
                    0.0,
                ),
                (
                    BTreeMap::from([("instance".to_string(), "a:1".to_string())]),
                    1.0,
                ),
            ]),
            "nothing" => Ok(Vec::new()),
            other => Err(format!("unknown query {other}")),
        }
    }
}

fn expand(text: &str, value: f64) -> String {
    let external = BTreeMap::from([("cluster".to_string(), "eu-1".to_string())]);
    let labels = BTreeMap::from([
        ("instance".to_string(), "node1.example.com:9100".to_string()),
        ("job".to_string(), "node".to_string()),
    ]);
    let ctx = AlertContext::new(
        labels,
        &external,
        "http://ops.example.com/prom",
        value,
        Some(&FixedQuerier),
    );
    match AlertTemplate::parse("Test", text) {
        Ok(t) => t.expand(&ctx),
        Err(e) => format!("PARSE: {e}"),
    }
}

/// Each case is what Prometheus prints for the same template and data.
#[test]
fn expands_like_prometheus() {
    let cases: &[(&str, f64, &str)] = &[
        ("plain text", 0.0, "plain text"),
        ("{{ $labels.instance }} is {{ $value }}", 1e6, "node1.example.com:9100 is 1e+06"),
        ("{{ $labels.missing }}|", 1.0, "|"),
        ("{{ .Labels.job }} {{ $externalLabels.cluster }} {{ $externalURL }}", 1.0, "node eu-1 http://ops.example.com/prom"),
        ("{{ 420 | humanizeDuration }}", 0.0, "7m 0s"),
        ("{{ $value | humanize }}", 1234567.0, "1.235M"),
        ("{{ humanize1024 $value }}", 2048.0, "2ki"),
        ("{{ $value | humanizePercentage }}", 0.256, "25.6%"),
        ("{{ 1435065584.128 | humanizeTimestamp }}", 0.0, "2015-06-23 13:19:44.128 +0000 UTC"),
        ("{{ printf \"%.2f\" $value }}", 4.56789, "4.57"),
        ("{{ if gt $value 80.0 }}high{{ else if gt $value 50.0 }}mid{{ else }}low{{ end }}", 60.0, "mid"),
        ("{{ with $labels.job }}job={{ . }}{{ end }}", 0.0, "job=node"),
        ("{{ with $labels.none }}x{{ else }}none{{ end }}", 0.0, "none"),
        ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", 0.0, "instance=node1.example.com:9100;job=node;"),
        ("{{ range query \"up\" | sortByLabel \"instance\" }}{{ .Labels.instance }}:{{ .Value }} {{ end }}", 0.0, "a:1:1 b:1:0 "),
        ("{{ with query \"up\" }}{{ . | first | value }}{{ end }}", 0.0, "0"),
        ("{{ query \"up\" | first | label \"instance\" }}", 0.0, "b:1"),
        ("{{ range query \"nothing\" }}x{{ else }}empty{{ end }}", 0.0, "empty"),
        ("{{ $labels.instance | stripPort }} {{ $labels.instance | stripDomain }}", 0.0, "node1.example.com node1:9100"),
        ("{{ \"hello world\" | title }} {{ toUpper \"a\" }}{{ toLower \"B\" }}", 0.0, "Hello World Ab"),
        ("{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}", 0.0, "node1.example.com"),
        ("{{ if match \"^node\" $labels.job }}yes{{ end }}", 0.0, "yes"),
        ("{{- \" a \" -}} b {{- \"c\" }}", 0.0, " a bc"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", 0.0, "2"),
        ("{{ externalURL }}{{ pathPrefix }}", 0.0, "http://ops.example.com/prom/prom"),
        ("{{ len $labels }} {{ index $labels \"job\" }}", 0.0, "2 node"),
        ("{{/* a comment */}}ok", 0.0, "ok"),
        ("{{ args 1 \"x\" }}", 0.0, "map[arg0:1 arg1:x]"),
        ("{{ print 1 2 \"a\" 3 }}", 0.0, "1 2a3"),
    ];
    for (text, value, want) in cases {
        assert_eq!(expand(text, *value), *want, "template {text:?}");
    }
}

#[test]
fn parse_errors_are_worded_like_go() {
    assert_eq!(
        expand("Instance {{ $label.foo }} down", 0.0),
        "PARSE: template: __alert_Test:1: undefined variable \"$label\""
    );
    assert_eq!(
        expand("{{ nosuch 1 }}", 0.0),
        "PARSE: template: __alert_Test:1: function \"nosuch\" not defined"
    );
    assert!(expand("{{ if true }}", 0.0).starts_with("PARSE: "));
    assert!(expand("{{ end }}", 0.0).starts_with("PARSE: "));
}

#[test]
fn execution_errors_land_in_the_text() {
    let out = expand("{{ query \"nothing\" | first }}", 0.0);
    assert!(out.starts_with("<error expanding template: "), "{out}");
    assert!(
        out.contains("first() called on vector with no elements"),
        "{out}"
    );
    let out = expand("{{ gt $value 1 }}", 2.0);
    assert!(out.contains("incompatible types for comparison"), "{out}");
}
