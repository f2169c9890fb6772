//! Aggregation operators with `by` and `without`.

use std::borrow::Cow;

use rustc_hash::FxHashMap as HashMap;

use promql_parser::parser::{token, AggregateExpr, LabelModifier};

use super::eval::{Evaluated, Evaluator, Points, Series, Steps};
use super::math::{format_go_float, quantile, KahanSum, Mean, Variance};
use super::QueryError;
use crate::{Labels, METRIC_NAME};

pub(crate) fn eval(
    ev: &Evaluator,
    a: &AggregateExpr,
    steps: &Steps,
) -> Result<Evaluated, QueryError> {
    let op = a.op.id();
    let input = ev.eval_vector(&a.expr, steps)?;
    let groups = Groups::new(&input, a.modifier.as_ref());
    let param = a.param.as_deref();
    let param =
        |name: &str| param.ok_or_else(|| QueryError::exec(format!("{name} needs a parameter")));
    let series = match op {
        token::T_TOPK | token::T_BOTTOMK | token::T_LIMITK => {
            let k = ev.eval_scalar(param("k")?, steps)?;
            if k.iter().any(|k| k.is_nan()) {
                return Err(QueryError::exec("Parameter value is NaN"));
            }
            select_k(op, input, &groups, &k, steps)
        }
        token::T_LIMIT_RATIO => {
            let ratios = ev.eval_scalar(param("ratio")?, steps)?;
            if ratios.iter().any(|r| r.is_nan()) {
                return Err(QueryError::exec("Ratio value is NaN"));
            }
            limit_ratio(input, &ratios)
        }
        token::T_COUNT_VALUES => {
            let label = ev.eval_string(param("label")?, steps)?;
            count_values(&input, &groups, &label, steps)?
        }
        token::T_QUANTILE => {
            let q = ev.eval_scalar(param("quantile")?, steps)?;
            reduce(&input, &groups, steps, |values, step| {
                quantile(q[step], values)
            })
        }
        token::T_SUM => reduce(&input, &groups, steps, |values, _| {
            let mut sum = KahanSum::default();
            values.iter().for_each(|&v| sum.add(v));
            sum.value()
        }),
        token::T_AVG => reduce(&input, &groups, steps, |values, _| {
            let mut mean = Mean::default();
            values.iter().for_each(|&v| mean.add(v));
            mean.value()
        }),
        token::T_MIN => reduce(&input, &groups, steps, |values, _| {
            values
                .iter()
                .copied()
                .reduce(|m, v| if m > v || m.is_nan() { v } else { m })
                .unwrap_or(f64::NAN)
        }),
        token::T_MAX => reduce(&input, &groups, steps, |values, _| {
            values
                .iter()
                .copied()
                .reduce(|m, v| if m < v || m.is_nan() { v } else { m })
                .unwrap_or(f64::NAN)
        }),
        token::T_COUNT => reduce(&input, &groups, steps, |values, _| values.len() as f64),
        token::T_GROUP => reduce(&input, &groups, steps, |_, _| 1.0),
        token::T_STDDEV | token::T_STDVAR => reduce(&input, &groups, steps, |values, _| {
            let mut var = Variance::default();
            values.iter().for_each(|&v| var.add(v));
            if op == token::T_STDDEV {
                var.stdvar().sqrt()
            } else {
                var.stdvar()
            }
        }),
        _ => {
            return Err(QueryError::exec(format!(
                "unsupported aggregation {}",
                a.op
            )))
        }
    };
    Ok(Evaluated::Vector(series))
}

/// The group of every input series and each group's output labels.
struct Groups {
    labels: Vec<Labels>,
    /// Whether any member's name is to be dropped: a group keyed by
    /// `__name__` then drops it too.
    drop_name: Vec<bool>,
    /// The members of every group, group after group, each group's in
    /// input order: four allocations for any number of groups, where a
    /// list per group took one each and grew as it filled.
    members: Vec<usize>,
    /// Where each group's members start in `members`, then where the last
    /// group's end.
    starts: Vec<usize>,
}

impl Groups {
    fn new(input: &[Series], modifier: Option<&LabelModifier>) -> Self {
        let mut index: HashMap<Cow<[u8]>, usize> = HashMap::default();
        let (mut labels, mut drop_name) = (Vec::new(), Vec::new());
        let mut group_of = Vec::with_capacity(input.len());
        // A key is borrowed from the series' labels when it can be, else
        // written into one buffer: only a new group copies it.
        let mut scratch = Vec::new();
        // The series come in label order, so a group's members often come
        // one after another (`by (instance)` over series whose first label
        // is the instance): the previous series' borrowed key is compared
        // before the key is hashed and looked up.
        let mut previous: Option<(&[u8], usize)> = None;
        for s in input {
            let own = group_key(&s.labels, modifier, &mut scratch);
            let found = match (own, previous) {
                (Some(key), Some((last, g))) if key == last => Some(g),
                _ => index.get(own.unwrap_or(&scratch)).copied(),
            };
            let g = match found {
                Some(g) => g,
                None => {
                    let key = match own {
                        Some(own) => Cow::Borrowed(own),
                        None => Cow::Owned(scratch.clone()),
                    };
                    index.insert(key, labels.len());
                    labels.push(group_labels(&s.labels, modifier));
                    drop_name.push(false);
                    labels.len() - 1
                }
            };
            previous = own.map(|key| (key, g));
            group_of.push(g);
            drop_name[g] |= s.drop_name;
        }
        let (members, starts) = by_group(&group_of, labels.len());
        Groups {
            labels,
            drop_name,
            members,
            starts,
        }
    }

    /// The members of each group, in group order.
    fn members(&self) -> impl Iterator<Item = &[usize]> {
        self.starts
            .windows(2)
            .map(|bounds| &self.members[bounds[0]..bounds[1]])
    }
}

/// The indices of `group_of` (the group of each series, below `groups`)
/// sorted by group, each group's in index order, and where each group's
/// start (a counting sort).
fn by_group(group_of: &[usize], groups: usize) -> (Vec<usize>, Vec<usize>) {
    let mut starts = vec![0; groups + 1];
    for &g in group_of {
        starts[g + 1] += 1;
    }
    for g in 0..groups {
        starts[g + 1] += starts[g];
    }
    let mut next = starts.clone();
    let mut members = vec![0; group_of.len()];
    for (i, &g) in group_of.iter().enumerate() {
        members[next[g]] = i;
        next[g] += 1;
    }
    (members, starts)
}

/// The labels that decide a series' group, encoded: the `by` labels it
/// has, or every label but the `without` ones and the metric name. A
/// slice of the series' own labels when they sit together in it (a single
/// `by` label always does), else `None` with the key written into
/// `scratch`.
fn group_key<'l>(
    labels: &'l Labels,
    modifier: Option<&LabelModifier>,
    scratch: &mut Vec<u8>,
) -> Option<&'l [u8]> {
    match modifier {
        Some(LabelModifier::Include(by)) => {
            labels.encoded_subset(|name| by.labels.iter().any(|n| n == name), scratch)
        }
        Some(LabelModifier::Exclude(without)) => labels.encoded_subset(
            |name| name != METRIC_NAME && !without.labels.iter().any(|n| n == name),
            scratch,
        ),
        None => Some(&[]),
    }
}

/// The labels of a group's output series.
fn group_labels(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        Some(LabelModifier::Include(by)) => labels.keep_only(&by.labels),
        Some(LabelModifier::Exclude(without)) => {
            let mut l = labels.drop_names(&without.labels);
            l.remove(METRIC_NAME);
            l
        }
        None => Labels::new(),
    }
}

/// Aggregations producing one series per group: `f` gets the values of
/// the group's series present at a step.
fn reduce(
    input: &[Series],
    groups: &Groups,
    steps: &Steps,
    mut f: impl FnMut(&mut [f64], usize) -> f64,
) -> Vec<Series> {
    let mut values = Vec::new();
    let mut out = Vec::with_capacity(groups.labels.len());
    for (g, (labels, members)) in groups.labels.iter().zip(groups.members()).enumerate() {
        let mut points = Points::from_elem(None, steps.count);
        for (step, point) in points.iter_mut().enumerate() {
            values.clear();
            values.extend(members.iter().filter_map(|&m| input[m].points[step]));
            if !values.is_empty() {
                *point = Some(f(&mut values, step));
            }
        }
        if points.iter().any(Option::is_some) {
            out.push(Series {
                labels: labels.clone(),
                drop_name: groups.drop_name[g],
                points,
            });
        }
    }
    out
}

/// `topk`, `bottomk` and `limitk`: the input series themselves, present at
/// the steps where they are among the `k` chosen in their group.
fn select_k(
    op: token::TokenId,
    mut input: Vec<Series>,
    groups: &Groups,
    k: &[f64],
    steps: &Steps,
) -> Vec<Series> {
    // Whether series `m` is chosen at `step`: `chosen[m * steps.count + step]`
    // (one allocation, not one per series).
    let mut chosen = vec![false; input.len() * steps.count];
    let mut candidates: Vec<(usize, f64)> = Vec::new();
    // For an instant query the output is ordered as Prometheus orders it:
    // by group, then by rank.
    let mut order: Vec<usize> = Vec::new();
    for members in groups.members() {
        for (step, &k) in k.iter().enumerate() {
            if k < 1.0 {
                continue;
            }
            candidates.clear();
            candidates.extend(
                members
                    .iter()
                    .filter_map(|&m| input[m].points[step].map(|v| (m, v))),
            );
            let k = (k as usize).min(candidates.len());
            // NaN ranks below every number for topk, above for bottomk; of
            // equal values the earlier series first.
            let rank = |a: &(usize, f64), b: &(usize, f64)| {
                let numbers = if op == token::T_TOPK {
                    b.1.total_cmp(&a.1)
                } else {
                    a.1.total_cmp(&b.1)
                };
                nan_last(a.1, b.1, numbers).then(a.0.cmp(&b.0))
            };
            if op == token::T_TOPK || op == token::T_BOTTOMK {
                // Only the first k need to be in order.
                if k > 0 && k < candidates.len() {
                    candidates.select_nth_unstable_by(k - 1, rank);
                }
                candidates[..k].sort_unstable_by(rank);
            }
            for &(m, _) in &candidates[..k] {
                chosen[m * steps.count + step] = true;
                if steps.count == 1 {
                    order.push(m);
                }
            }
        }
    }
    for (s, chosen) in input.iter_mut().zip(chosen.chunks(steps.count)) {
        for (point, &c) in s.points.iter_mut().zip(chosen) {
            if !c {
                *point = None;
            }
        }
    }
    if steps.count == 1 {
        let mut slots: Vec<Option<Series>> = input.into_iter().map(Some).collect();
        return order.into_iter().filter_map(|m| slots[m].take()).collect();
    }
    input.retain(|s| s.points.iter().any(Option::is_some));
    input
}

/// `numbers` for two numbers; NaN ranks after every number.
fn nan_last(a: f64, b: f64, numbers: std::cmp::Ordering) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => numbers,
    }
}

/// `limit_ratio`: keeps a series when its label hash falls in the ratio's
/// share of the hash space, the way Prometheus picks, so that `r` and
/// `-(1 - r)` select complementary sets.
fn limit_ratio(mut input: Vec<Series>, ratios: &[f64]) -> Vec<Series> {
    for s in &mut input {
        let offset = label_hash(&s.labels) as f64 / u64::MAX as f64;
        for (point, &ratio) in s.points.iter_mut().zip(ratios) {
            let ratio = ratio.clamp(-1.0, 1.0);
            let keep = (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio);
            if !keep {
                *point = None;
            }
        }
    }
    input.retain(|s| s.points.iter().any(Option::is_some));
    input
}

/// Prometheus's `labels.Hash`: xxHash64 over `name 0xff value 0xff …`.
fn label_hash(labels: &Labels) -> u64 {
    let mut bytes = Vec::with_capacity(128);
    for l in labels {
        bytes.extend_from_slice(l.name.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(l.value.as_bytes());
        bytes.push(0xff);
    }
    xxhash_rust::xxh64::xxh64(&bytes, 0)
}

/// `count_values`: one output series per group and distinct value.
fn count_values(
    input: &[Series],
    groups: &Groups,
    label: &str,
    steps: &Steps,
) -> Result<Vec<Series>, QueryError> {
    if label.is_empty() {
        return Err(QueryError::exec(format!("invalid label name {label:?}")));
    }
    let mut out: Vec<Series> = Vec::new();
    let mut index: HashMap<(usize, String), usize> = HashMap::default();
    for (g, members) in groups.members().enumerate() {
        for &m in members {
            for (step, point) in input[m].points.iter().enumerate() {
                let Some(v) = point else { continue };
                let value = format_go_float(*v);
                let i = *index.entry((g, value)).or_insert_with_key(|(_, value)| {
                    let mut labels = groups.labels[g].clone();
                    labels.set(label, value.as_str());
                    out.push(Series {
                        labels,
                        drop_name: false,
                        points: Points::from_elem(None, steps.count),
                    });
                    out.len() - 1
                });
                let count = out[i].points[step].get_or_insert(0.0);
                *count += 1.0;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The counting sort lists every series once, under its group, in
        /// input order within the group.
        #[test]
        fn groups_list_their_members_in_input_order(
            group_of in prop::collection::vec(0usize..6, 0..60)
        ) {
            let groups = group_of.iter().max().map_or(0, |g| g + 1);
            let (members, starts) = by_group(&group_of, groups);
            let mut expected = vec![Vec::new(); groups];
            for (i, &g) in group_of.iter().enumerate() {
                expected[g].push(i);
            }
            let listed: Vec<Vec<usize>> = starts
                .windows(2)
                .map(|bounds| members[bounds[0]..bounds[1]].to_vec())
                .collect();
            prop_assert_eq!(listed, expected);
        }
    }
}
