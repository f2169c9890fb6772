//! Malformed expositions are rejected whole, with the line and column of
//! the problem and a message that says what is wrong.

use opsdeck_metrics::exposition::{parse, Format, ParseError};

fn error(input: &str, format: Format) -> ParseError {
    match parse(input.as_bytes(), format) {
        Ok(parsed) => panic!("accepted {input:?} as {parsed:?}"),
        Err(e) => e,
    }
}

#[test]
fn one_bad_line_fails_the_whole_scrape() {
    let input = "# TYPE up gauge\nup 1\nup{job=\"api\" 1\nother 2\n";
    let e = error(input, Format::PrometheusText);
    assert_eq!((e.line, e.column), (3, 14), "{e}");
    assert_eq!(
        e.to_string(),
        "line 3, column 14: expected \",\" or \"}\" after a label value"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = error("a{x=\"☃☃\"} 1 z\n", Format::PrometheusText);
    assert_eq!((e.line, e.column), (1, 13), "{e}");
    assert!(e.message.contains("invalid timestamp \"z\""), "{e}");
}

#[test]
fn prometheus_format_errors() {
    for (input, line, column, needle) in [
        (
            "a 1\nb notanumber\n",
            2,
            3,
            "invalid sample value \"notanumber\"",
        ),
        ("a{b=\"1\",b=\"2\"} 1\n", 1, 9, "label \"b\" given twice"),
        ("a{b=\"open} 1\n", 1, 5, "no closing quote"),
        (
            "# TYPE a histogramme\n",
            1,
            10,
            "unknown metric type \"histogramme\"",
        ),
        ("a 1 1.5\n", 1, 5, "integer milliseconds"),
        ("0a 1\n", 1, 1, "expected a metric name"),
        ("a.b 1\n", 1, 2, "invalid character in metric name"),
    ] {
        let e = error(input, Format::PrometheusText);
        assert_eq!((e.line, e.column), (line, column), "{input:?}: {e}");
        assert!(e.message.contains(needle), "{input:?}: {e}");
    }
}

#[test]
fn openmetrics_errors() {
    for (input, line, needle) in [
        ("a 1\n", 2, "missing \"# EOF\""),
        ("a 1\n\n# EOF\n", 2, "blank line"),
        ("a 1\n# EOF\nb 1\n", 3, "text after # EOF"),
        (
            "# TYPE a counter\na_total -1\n# EOF\n",
            2,
            "cannot be negative",
        ),
        (
            "# TYPE a histogram\na_bucket{le=\"1\"} 1\na_count 1\na_sum 1\n# EOF\n",
            2,
            "no +Inf bucket",
        ),
        (
            "# TYPE a gauge\na 1\n# HELP a late\n# EOF\n",
            3,
            "metadata for a after its samples",
        ),
        (
            "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n",
            4,
            "split by samples of other series",
        ),
        ("# TYPE a gauge\na 1 2\na 1 1\n# EOF\n", 3, "go backwards"),
        (
            "# TYPE a gauge\na 1 # {t=\"x\"} 1\n# EOF\n",
            2,
            "can have exemplars",
        ),
    ] {
        let e = error(input, Format::OpenMetrics);
        assert_eq!(e.line, line, "{input:?}: {e}");
        assert!(e.message.contains(needle), "{input:?}: {e}");
    }
}

#[test]
fn invalid_utf8_is_placed() {
    let e = parse(b"a 1\nb{x=\"\xc3\x28\"} 1\n", Format::PrometheusText).unwrap_err();
    assert_eq!(
        (e.line, e.column, e.message.as_str()),
        (2, 6, "invalid UTF-8")
    );
}
