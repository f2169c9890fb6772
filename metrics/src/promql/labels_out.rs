//! Turning evaluated series into query results: the delayed removal of
//! `__name__`, and the check that no two series end up with the same
//! labels at the same time.

use std::collections::BTreeMap;

use rustc_hash::FxHashSet as HashSet;

use super::eval::{Points, SampleSeries, Series, Steps};
use super::{QueryError, RangeSeries, VectorSample};
use crate::{Labels, Sample};

const DUPLICATE_LABELSET: &str = "vector cannot contain metrics with the same labelset";

fn final_labels(labels: Labels, drop_name: bool) -> Labels {
    if drop_name {
        labels.without_metric_name()
    } else {
        labels
    }
}

pub(crate) fn instant_vector(series: Vec<Series>, t: i64) -> Result<Vec<VectorSample>, QueryError> {
    let mut seen = HashSet::with_capacity_and_hasher(series.len(), Default::default());
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let Some(v) = s.points[0] else { continue };
        let labels = final_labels(s.labels, s.drop_name);
        if !seen.insert(labels.clone()) {
            return Err(QueryError::exec(DUPLICATE_LABELSET));
        }
        out.push(VectorSample { labels, t, v });
    }
    Ok(out)
}

pub(crate) fn matrix(series: Vec<SampleSeries>) -> Result<Vec<RangeSeries>, QueryError> {
    let mut out: BTreeMap<Labels, Vec<Sample>> = BTreeMap::new();
    for s in series {
        let labels = final_labels(s.labels, s.drop_name);
        if out.insert(labels, s.samples).is_some() {
            return Err(QueryError::exec(
                "matrix cannot contain metrics with the same labelset",
            ));
        }
    }
    Ok(out
        .into_iter()
        .map(|(labels, samples)| RangeSeries { labels, samples })
        .collect())
}

/// A range query's result, sorted by labels. Series that end up with the
/// same labels (after dropping names) are merged when they never overlap.
pub(crate) fn range_matrix(
    series: Vec<Series>,
    steps: &Steps,
) -> Result<Vec<RangeSeries>, QueryError> {
    let mut merged: BTreeMap<Labels, Points> = BTreeMap::new();
    for s in series {
        let labels = final_labels(s.labels, s.drop_name);
        match merged.get_mut(&labels) {
            None => {
                merged.insert(labels, s.points);
            }
            Some(points) => {
                for (into, from) in points.iter_mut().zip(s.points) {
                    if from.is_some() {
                        if into.is_some() {
                            return Err(QueryError::exec(DUPLICATE_LABELSET));
                        }
                        *into = from;
                    }
                }
            }
        }
    }
    Ok(merged
        .into_iter()
        .filter_map(|(labels, points)| {
            let samples: Vec<Sample> = points
                .into_iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    p.map(|v| Sample {
                        t: steps.time(i),
                        v,
                    })
                })
                .collect();
            (!samples.is_empty()).then_some(RangeSeries { labels, samples })
        })
        .collect())
}

/// Formats labels as Prometheus's `labels.String()` does, metric name
/// included as a label: `{__name__="up", job="x"}`. Error messages use it.
pub(crate) fn prometheus_string(labels: &Labels) -> String {
    let parts: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

/// Appends `field` to a grouping or matching key, length-prefixed so that
/// no label value can make two different label sets produce one key. The
/// key is bytes, not text, so the length is written as raw bytes rather
/// than formatted.
pub(crate) fn push_field(key: &mut Vec<u8>, field: &str) {
    key.extend_from_slice(&field.len().to_le_bytes());
    key.extend_from_slice(field.as_bytes());
}
