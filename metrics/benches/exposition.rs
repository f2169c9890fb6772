//! Exposition parsing speed on a 10,000-series scrape: node_exporter 1.5's
//! output repeated 20 times, a `copy` label telling the copies apart.
//! Our zero-copy visitor and owned parse side by side with
//! prometheus-parse 0.2.5.
//!
//! cargo bench -p opsdeck-metrics --bench exposition -- --measurement-time 3

use std::path::Path;

use chrono::{TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use opsdeck_metrics::exposition::{parse, parse_with, Format, SampleRef, Visitor};

const COPIES: usize = 20;

fn ten_thousand_series() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata/exposition/node-exporter-1.5.txt");
    let fixture =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = String::with_capacity(fixture.len() * COPIES * 11 / 10);
    for copy in 0..COPIES {
        for line in fixture.lines() {
            match line.find(['{', ' ']) {
                _ if line.starts_with('#') => out.push_str(line),
                Some(i) if line[i..].starts_with('{') => {
                    out.push_str(&line[..=i]);
                    out.push_str(&format!("copy=\"{copy}\","));
                    out.push_str(&line[i + 1..]);
                }
                Some(i) => {
                    out.push_str(&line[..i]);
                    out.push_str(&format!("{{copy=\"{copy}\"}}"));
                    out.push_str(&line[i..]);
                }
                None => out.push_str(line),
            }
            out.push('\n');
        }
    }
    out
}

/// Touches every sample the way a store would, so nothing is optimised
/// away, without storing anything.
#[derive(Default)]
struct Checksum {
    samples: usize,
    label_bytes: usize,
    values: f64,
}

impl<'a> Visitor<'a> for Checksum {
    fn sample(&mut self, sample: &SampleRef<'a, '_>) {
        self.samples += 1;
        self.label_bytes +=
            sample.name.len() + sample.labels.iter().map(|l| l.value.len()).sum::<usize>();
        self.values += sample.value;
    }
}

fn exposition(c: &mut Criterion) {
    let text = ten_thousand_series();
    let series = parse(text.as_bytes(), Format::PrometheusText)
        .expect("the benchmark input parses")
        .samples
        .len();
    assert!(series >= 10_000, "{series} series");

    let mut group = c.benchmark_group(format!("exposition_{series}_series"));
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("opsdeck_parse_with_zero_copy", |b| {
        b.iter(|| {
            let mut checksum = Checksum::default();
            parse_with(
                black_box(text.as_bytes()),
                Format::PrometheusText,
                &mut checksum,
            )
            .expect("parses");
            checksum
        })
    });
    group.bench_function("opsdeck_parse_owned", |b| {
        b.iter(|| parse(black_box(text.as_bytes()), Format::PrometheusText).expect("parses"))
    });
    let scrape_time = Utc.timestamp_millis_opt(0).single().expect("valid instant");
    group.bench_function("prometheus_parse_0_2_5", |b| {
        b.iter(|| {
            let lines = black_box(&text).lines().map(|l| Ok(l.to_owned()));
            prometheus_parse::Scrape::parse_at(lines, scrape_time).expect("parses")
        })
    });
    group.finish();
}

criterion_group!(benches, exposition);
criterion_main!(benches);
