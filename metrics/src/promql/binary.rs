//! Binary operators: arithmetic, comparison (with and without `bool`), the
//! set operators, and vector matching with `on`/`ignoring` and
//! `group_left`/`group_right`.

use std::borrow::Cow;

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use promql_parser::parser::{
    token, BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality,
};

use super::eval::{is_comparison, Evaluated, Evaluator, Points, Series, Steps};
use super::labels_out::{prometheus_string, push_field};
use super::QueryError;
use crate::{Labels, METRIC_NAME};

pub(crate) fn eval(ev: &Evaluator, b: &BinaryExpr, steps: &Steps) -> Result<Evaluated, QueryError> {
    let op = b.op.id();
    let return_bool = b.return_bool();
    let lhs = ev.eval(&b.lhs, steps)?;
    let rhs = ev.eval(&b.rhs, steps)?;
    match (lhs, rhs) {
        (Evaluated::Scalar(l), Evaluated::Scalar(r)) => Ok(Evaluated::Scalar(
            l.into_iter()
                .zip(r)
                .map(|(l, r)| {
                    let (v, keep) = apply(op, l, r);
                    if is_comparison(op) {
                        f64::from(u8::from(keep))
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Evaluated::Vector(v), Evaluated::Scalar(s)) => Ok(Evaluated::Vector(vector_scalar(
            op,
            v,
            &s,
            false,
            return_bool,
        ))),
        (Evaluated::Scalar(s), Evaluated::Vector(v)) => Ok(Evaluated::Vector(vector_scalar(
            op,
            v,
            &s,
            true,
            return_bool,
        ))),
        (Evaluated::Vector(l), Evaluated::Vector(r)) => {
            let default_modifier = BinModifier::default();
            let modifier = b.modifier.as_ref().unwrap_or(&default_modifier);
            if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
                return Err(QueryError::exec(
                    "the experimental fill, fill_left and fill_right modifiers are not supported",
                ));
            }
            let matching = Matching::new(modifier.matching.as_ref());
            let series = match op {
                token::T_LAND => and_unless(l, &r, &matching, steps, true),
                token::T_LUNLESS => and_unless(l, &r, &matching, steps, false),
                token::T_LOR => or(l, r, &matching, steps),
                _ => vector_vector(op, l, r, modifier, &matching, steps)?,
            };
            Ok(Evaluated::Vector(series))
        }
        (l, r) => Err(QueryError::exec(format!(
            "operator {} is not defined between {} and {}",
            b.op,
            l.type_name(),
            r.type_name()
        ))),
    }
}

/// Applies an arithmetic or comparison operator: the value, and whether a
/// comparison holds (always true for arithmetic).
pub(crate) fn apply(op: token::TokenId, l: f64, r: f64) -> (f64, bool) {
    match op {
        token::T_ADD => (l + r, true),
        token::T_SUB => (l - r, true),
        token::T_MUL => (l * r, true),
        token::T_DIV => (l / r, true),
        token::T_MOD => (l % r, true),
        token::T_POW => (l.powf(r), true),
        token::T_ATAN2 => (l.atan2(r), true),
        token::T_EQLC => (l, l == r),
        token::T_NEQ => (l, l != r),
        token::T_GTR => (l, l > r),
        token::T_LSS => (l, l < r),
        token::T_GTE => (l, l >= r),
        token::T_LTE => (l, l <= r),
        _ => (f64::NAN, false),
    }
}

/// What a matched pair of vector values gives: `bool`'s 0 or 1, the
/// value where the comparison holds (or for arithmetic), else nothing.
fn pair_value(op: token::TokenId, l: f64, r: f64, return_bool: bool) -> Option<f64> {
    let (value, keep) = apply(op, l, r);
    if return_bool {
        Some(f64::from(u8::from(keep)))
    } else {
        keep.then_some(value)
    }
}

fn vector_scalar(
    op: token::TokenId,
    mut series: Vec<Series>,
    scalar: &[f64],
    scalar_on_left: bool,
    return_bool: bool,
) -> Vec<Series> {
    let comparison = is_comparison(op);
    for s in &mut series {
        for (point, &sv) in s.points.iter_mut().zip(scalar) {
            let Some(v) = *point else { continue };
            let (l, r) = if scalar_on_left { (sv, v) } else { (v, sv) };
            let (mut result, keep) = apply(op, l, r);
            // A comparison keeps the vector's value, whichever side it is on.
            if comparison {
                result = v;
            }
            *point = if return_bool {
                Some(f64::from(u8::from(keep)))
            } else if keep {
                Some(result)
            } else {
                None
            };
        }
        s.drop_name |= !comparison || return_bool;
    }
    series.retain(|s| s.points.iter().any(Option::is_some));
    series
}

/// How two vectors' series are matched: the labels that make up a series'
/// match signature.
struct Matching<'a> {
    on: bool,
    names: &'a [String],
}

impl<'a> Matching<'a> {
    fn new(modifier: Option<&'a LabelModifier>) -> Self {
        match modifier {
            Some(LabelModifier::Include(l)) => Matching {
                on: true,
                names: &l.labels,
            },
            Some(LabelModifier::Exclude(l)) => Matching {
                on: false,
                names: &l.labels,
            },
            None => Matching {
                on: false,
                names: &[],
            },
        }
    }

    /// Whether a label is left out of the signature when matching
    /// `ignoring` (or without a modifier).
    fn ignores(&self, name: &str) -> bool {
        name == METRIC_NAME || self.names.iter().any(|n| n == name)
    }

    /// A series' signature: the `on` labels' values, or the encoding of
    /// every label but the `ignoring` ones and the metric name, borrowed
    /// from the label set when those labels sit together in it (the name
    /// comes first), else written into `scratch`.
    fn signature<'l>(&self, labels: &'l Labels, scratch: &'l mut Vec<u8>) -> &'l [u8] {
        scratch.clear();
        if self.on {
            for name in self.names {
                push_field(scratch, labels.get(name).unwrap_or(""));
            }
            return scratch;
        }
        match labels.encoded_subset(|n| !self.ignores(n), scratch) {
            Some(own) => own,
            None => scratch,
        }
    }

    /// Each series' signature (see [`Matching::signature`]), as an index
    /// into a table of the distinct signatures `known` (which it
    /// extends). A signature borrowed from its label set is not copied;
    /// others are written into one buffer reused across series, so that
    /// looking one up allocates nothing.
    fn signature_ids<'l>(
        &self,
        series: &'l [Series],
        known: &mut HashMap<Cow<'l, [u8]>, usize>,
    ) -> Vec<usize> {
        let mut scratch = Vec::new();
        series
            .iter()
            .map(|s| {
                let next = known.len();
                let sig: &[u8] = if self.on {
                    self.signature(&s.labels, &mut scratch)
                } else {
                    match s.labels.encoded_subset(|n| !self.ignores(n), &mut scratch) {
                        Some(own) => return *known.entry(Cow::Borrowed(own)).or_insert(next),
                        // The labels apart: `scratch` holds them, written.
                        None => &scratch,
                    }
                };
                match known.get(sig) {
                    Some(&id) => id,
                    None => {
                        known.insert(Cow::Owned(sig.to_vec()), next);
                        next
                    }
                }
            })
            .collect()
    }

    /// Whether the i-th series of `lhs` and of `rhs` match, and no other
    /// pair does: both sides hold the same signatures in the same order,
    /// each once. Two metrics of the same targets (`used / total`) come
    /// from the store that way, ordered by label set, and are then matched
    /// without the tables of the general matching. Only signatures that
    /// borrow from their label set are checked (not `on`, nor `ignoring`
    /// labels amid the others).
    fn aligned(&self, lhs: &[Series], rhs: &[Series]) -> bool {
        if self.on || lhs.len() != rhs.len() {
            return false;
        }
        let mut seen = HashSet::with_capacity_and_hasher(lhs.len(), Default::default());
        let (mut left, mut right) = (Vec::new(), Vec::new());
        for (l, r) in lhs.iter().zip(rhs) {
            let Some(signature) = l.labels.encoded_subset(|n| !self.ignores(n), &mut left) else {
                return false;
            };
            if signature != self.signature(&r.labels, &mut right) || !seen.insert(signature) {
                return false;
            }
        }
        true
    }

    /// The labels the signature is made of, for error messages.
    fn matched_labels(&self, labels: &Labels) -> Labels {
        if self.on {
            labels.keep_only(self.names)
        } else {
            let mut kept = labels.drop_names(self.names);
            kept.remove(METRIC_NAME);
            kept
        }
    }
}

/// For each signature id, whether some series with it has a value, per
/// step.
fn presence(series: &[Series], ids: &[usize], signatures: usize, steps: &Steps) -> Vec<Vec<bool>> {
    let mut present = vec![Vec::new(); signatures];
    for (s, &id) in series.iter().zip(ids) {
        let entry = &mut present[id];
        if entry.is_empty() {
            entry.resize(steps.count, false);
        }
        for (e, p) in entry.iter_mut().zip(&s.points) {
            *e |= p.is_some();
        }
    }
    present
}

/// `and` keeps left series where the right has a match at that step;
/// `unless` keeps them where it has none.
fn and_unless(
    mut lhs: Vec<Series>,
    rhs: &[Series],
    matching: &Matching,
    steps: &Steps,
    keep_matched: bool,
) -> Vec<Series> {
    let mut known = HashMap::with_capacity_and_hasher(rhs.len(), Default::default());
    let rhs_ids = matching.signature_ids(rhs, &mut known);
    let rhs_signatures = known.len();
    let lhs_ids = matching.signature_ids(&lhs, &mut known);
    let present = presence(rhs, &rhs_ids, rhs_signatures, steps);
    for (s, &id) in lhs.iter_mut().zip(&lhs_ids) {
        let matched = present.get(id).filter(|p| !p.is_empty());
        for (i, point) in s.points.iter_mut().enumerate() {
            let has_match = matched.is_some_and(|m| m[i]);
            if has_match != keep_matched {
                *point = None;
            }
        }
    }
    lhs.retain(|s| s.points.iter().any(Option::is_some));
    lhs
}

/// `or`: every left series, plus right series at steps where no left series
/// has the same signature.
fn or(mut lhs: Vec<Series>, rhs: Vec<Series>, matching: &Matching, steps: &Steps) -> Vec<Series> {
    let mut known = HashMap::with_capacity_and_hasher(lhs.len(), Default::default());
    let lhs_ids = matching.signature_ids(&lhs, &mut known);
    let lhs_signatures = known.len();
    let rhs_ids = matching.signature_ids(&rhs, &mut known);
    let present = presence(&lhs, &lhs_ids, lhs_signatures, steps);
    for (mut s, id) in rhs.into_iter().zip(rhs_ids) {
        if let Some(taken) = present.get(id).filter(|p| !p.is_empty()) {
            for (point, &t) in s.points.iter_mut().zip(taken) {
                if t {
                    *point = None;
                }
            }
        }
        if s.points.iter().any(Option::is_some) {
            lhs.push(s);
        }
    }
    lhs
}

/// Arithmetic and comparison between two vectors.
fn vector_vector(
    op: token::TokenId,
    lhs: Vec<Series>,
    rhs: Vec<Series>,
    modifier: &BinModifier,
    matching: &Matching,
    steps: &Steps,
) -> Result<Vec<Series>, QueryError> {
    let (include, one_to_many) = match &modifier.card {
        VectorMatchCardinality::OneToOne => (None, false),
        VectorMatchCardinality::ManyToOne(l) => (Some(&l.labels), false),
        VectorMatchCardinality::OneToMany(l) => (Some(&l.labels), true),
        VectorMatchCardinality::ManyToMany => {
            return Err(QueryError::exec(
                "many-to-many only allowed for set operators",
            ))
        }
    };
    let grouped = include.is_some();
    let comparison = is_comparison(op);
    let return_bool = modifier.return_bool;
    if !grouped && steps.count == 1 && matching.aligned(&lhs, &rhs) {
        return Ok(aligned_pairs(op, &lhs, &rhs, matching, return_bool));
    }
    // The "one" side is hashed; the "many" side is walked.
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let one_side = if one_to_many { "left" } else { "right" };

    // Groups are the one side's signatures; a many-side series whose
    // signature is not among them has no group.
    let mut known = HashMap::with_capacity_and_hasher(one.len(), Default::default());
    let one_ids = matching.signature_ids(&one, &mut known);
    let groups = known.len();
    // The one side's series by group, in one list: group g's members are
    // `by_group[starts[g]..starts[g + 1]]` (no vector per group).
    let mut starts = vec![0usize; groups + 1];
    for &g in &one_ids {
        starts[g + 1] += 1;
    }
    for g in 0..groups {
        starts[g + 1] += starts[g];
    }
    let mut by_group = vec![0usize; one.len()];
    let mut next_slot = starts.clone();
    for (i, &g) in one_ids.iter().enumerate() {
        by_group[next_slot[g]] = i;
        next_slot[g] += 1;
    }
    let many_groups: Vec<Option<usize>> = matching
        .signature_ids(&many, &mut known)
        .into_iter()
        .map(|id| (id < groups).then_some(id))
        .collect();

    let mut out: Vec<Series> = Vec::new();
    let mut out_index: HashMap<(usize, usize), usize> =
        HashMap::with_capacity_and_hasher(many.len(), Default::default());
    let mut out_by_labels: HashMap<Labels, usize> =
        HashMap::with_capacity_and_hasher(many.len(), Default::default());
    // Per step: the one-side member present in each group, and what each
    // group has already produced (to catch ambiguous matches).
    // What each group produced this step: whether it matched (one-to-one),
    // or the output series it wrote (grouped).
    let mut one_present: Vec<Option<usize>> = vec![None; groups];
    let mut matched_once: Vec<bool> = vec![false; groups];
    let mut matched: Vec<Vec<usize>> = vec![Vec::new(); if grouped { groups } else { 0 }];
    for step in 0..steps.count {
        for g in 0..groups {
            one_present[g] = None;
            matched_once[g] = false;
            if let Some(outputs) = matched.get_mut(g) {
                outputs.clear();
            }
            for &m in &by_group[starts[g]..starts[g + 1]] {
                if one[m].points[step].is_none() {
                    continue;
                }
                if let Some(previous) = one_present[g] {
                    let mut pair = [
                        prometheus_string(&one[previous].labels),
                        prometheus_string(&one[m].labels),
                    ];
                    pair.sort();
                    return Err(QueryError::exec(format!(
                        "found duplicate series for the match group {} on the {one_side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                        prometheus_string(&matching.matched_labels(&one[m].labels)),
                        pair[0],
                        pair[1]
                    )));
                }
                one_present[g] = Some(m);
            }
        }
        for (mi, ms) in many.iter().enumerate() {
            let (Some(mv), Some(g)) = (ms.points[step], many_groups[mi]) else {
                continue;
            };
            let Some(oi) = one_present[g] else { continue };
            let Some(ov) = one[oi].points[step] else {
                continue;
            };
            // One-to-one matching is checked before filtering, so that an
            // ambiguous match is an error whatever the values.
            if !grouped {
                if matched_once[g] {
                    return Err(QueryError::exec(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
                matched_once[g] = true;
            }
            let (l, r) = if one_to_many { (ov, mv) } else { (mv, ov) };
            let Some(value) = pair_value(op, l, r, return_bool) else {
                continue;
            };
            let out_i = match out_index.get(&(mi, oi)) {
                Some(&i) => i,
                None => {
                    let labels = result_labels(&ms.labels, &one[oi].labels, matching, include);
                    let i = *out_by_labels.entry(labels.clone()).or_insert_with(|| {
                        out.push(Series {
                            labels,
                            drop_name: !comparison || return_bool,
                            points: Points::from_elem(None, steps.count),
                        });
                        out.len() - 1
                    });
                    out_index.insert((mi, oi), i);
                    i
                }
            };
            if let Some(outputs) = matched.get_mut(g) {
                if outputs.contains(&out_i) {
                    return Err(QueryError::exec(
                        "multiple matches for labels: grouping labels must ensure unique matches",
                    ));
                }
                outputs.push(out_i);
            }
            out[out_i].points[step] = Some(value);
        }
    }
    Ok(out)
}

/// One-to-one arithmetic or comparison at one step between [aligned]
/// sides: the i-th series of each match, as the general matching would
/// pair them, in the same order.
///
/// [aligned]: Matching::aligned
fn aligned_pairs(
    op: token::TokenId,
    lhs: &[Series],
    rhs: &[Series],
    matching: &Matching,
    return_bool: bool,
) -> Vec<Series> {
    let drop_name = !is_comparison(op) || return_bool;
    lhs.iter()
        .zip(rhs)
        .filter_map(|(l, r)| {
            let (Some(lv), Some(rv)) = (l.points[0], r.points[0]) else {
                return None;
            };
            let value = pair_value(op, lv, rv, return_bool)?;
            Some(Series {
                labels: result_labels(&l.labels, &r.labels, matching, None),
                drop_name,
                points: Points::from_elem(Some(value), 1),
            })
        })
        .collect()
}

/// The labels of a matched pair: the "many" side's labels, reduced to the
/// `on` labels (or without the `ignoring` ones) for one-to-one matching,
/// plus the `group_left`/`group_right` labels copied from the "one" side.
fn result_labels(
    many: &Labels,
    one: &Labels,
    matching: &Matching,
    include: Option<&Vec<String>>,
) -> Labels {
    let mut labels = match include {
        None if matching.on => many.keep_only(matching.names),
        None => many.drop_names(matching.names),
        Some(_) => many.clone(),
    };
    if let Some(include) = include {
        for name in include {
            labels.set(name.as_str(), one.get(name).unwrap_or(""));
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::label::Labels as ParserLabels;
    use proptest::prelude::*;

    fn series(name: &str, k: usize, extra: bool, value: Option<f64>) -> Series {
        let k = format!("v{k}");
        let mut pairs = vec![("__name__", name), ("k", k.as_str())];
        if extra {
            pairs.push(("x", "1"));
        }
        Series {
            labels: Labels::from_pairs(pairs),
            drop_name: false,
            points: Points::from_elem(value, 1),
        }
    }

    fn value() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![Just(None), (-3i32..3).prop_map(|v| Some(f64::from(v)))]
    }

    proptest! {
        /// Aligned sides are paired as the general matching pairs the
        /// same sides in another order: the same series, labels, name
        /// handling and values, in the same order.
        #[test]
        fn aligned_sides_match_as_the_general_matching_does(
            pairs in proptest::collection::vec((value(), value(), any::<bool>()), 2..12),
            op in prop_oneof![Just(token::T_ADD), Just(token::T_DIV), Just(token::T_GTR)],
            return_bool in any::<bool>(),
            ignoring_x in any::<bool>(),
        ) {
            let lhs: Vec<Series> = pairs.iter().enumerate()
                .map(|(k, &(l, _, extra))| series("a", k, extra, l)).collect();
            let rhs: Vec<Series> = pairs.iter().enumerate()
                .map(|(k, &(_, r, extra))| series("b", k, extra && !ignoring_x, r)).collect();
            let modifier = BinModifier {
                return_bool: return_bool && is_comparison(op),
                matching: ignoring_x.then(|| LabelModifier::Exclude(ParserLabels::new(vec!["x"]))),
                ..BinModifier::default()
            };
            let matching = Matching::new(modifier.matching.as_ref());
            let steps = Steps::instant(0);
            prop_assert!(matching.aligned(&lhs, &rhs));
            let reversed: Vec<Series> = rhs.iter().rev().cloned().collect();
            prop_assert!(!matching.aligned(&lhs, &reversed));
            let fast = vector_vector(op, lhs.clone(), rhs, &modifier, &matching, &steps);
            let general = vector_vector(op, lhs, reversed, &modifier, &matching, &steps);
            let (fast, general) = (fast.expect("matches"), general.expect("matches"));
            prop_assert_eq!(fast.len(), general.len());
            for (f, g) in fast.iter().zip(&general) {
                prop_assert_eq!(&f.labels, &g.labels);
                prop_assert_eq!(f.drop_name, g.drop_name);
                let bits = |s: &Series| s.points[0].map(f64::to_bits);
                prop_assert_eq!(bits(f), bits(g));
            }
        }
    }

    /// A signature twice on one side is not aligned: the general matching
    /// reports the ambiguity.
    #[test]
    fn repeated_signatures_are_not_aligned() {
        let lhs = [
            series("a", 0, false, Some(1.0)),
            series("c", 0, false, Some(2.0)),
        ];
        let rhs = [
            series("b", 0, false, Some(1.0)),
            series("b", 0, false, Some(1.0)),
        ];
        assert!(!Matching::new(None).aligned(&lhs, &rhs));
    }
}
