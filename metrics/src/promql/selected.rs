//! Which metrics a query reads, for callers that order work by it (a rule
//! group finding the rules that depend on each other's output).

use std::collections::BTreeSet;
use std::convert::Infallible;

use promql_parser::label::MatchOp;
use promql_parser::parser::{Expr, VectorSelector};
use promql_parser::util::{walk_expr, ExprVisitor};

/// The metric names of the selectors in `expr`; `None` when a selector
/// names no single metric (`{job="x"}`, a name matched by a regular
/// expression, `or` alternatives), as it could read any.
pub(super) fn metric_names(expr: &Expr) -> Option<BTreeSet<String>> {
    let mut names = Names::default();
    match walk_expr(&mut names, expr) {
        Ok(_) if !names.any => Some(names.found),
        _ => None,
    }
}

#[derive(Default)]
struct Names {
    found: BTreeSet<String>,
    any: bool,
}

impl Names {
    fn selector(&mut self, selector: &VectorSelector) {
        match metric_of(selector) {
            Some(name) => {
                self.found.insert(name.clone());
            }
            None => self.any = true,
        }
    }
}

/// The one metric a selector reads: its name, or a `__name__` equality
/// matcher's value, unless `or` alternatives could read others.
pub(super) fn metric_of(selector: &VectorSelector) -> Option<&String> {
    if !selector.matchers.or_matchers.is_empty() {
        return None;
    }
    selector.name.as_ref().or_else(|| {
        selector
            .matchers
            .matchers
            .iter()
            .find(|m| m.name == "__name__" && matches!(m.op, MatchOp::Equal))
            .map(|m| &m.value)
    })
}

impl ExprVisitor for Names {
    type Error = Infallible;

    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, Infallible> {
        match expr {
            Expr::VectorSelector(selector) => self.selector(selector),
            Expr::MatrixSelector(matrix) => self.selector(&matrix.vs),
            _ => {}
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Option<Vec<String>> {
        let expr = promql_parser::parser::parse(text).expect("parses");
        metric_names(&expr).map(|set| set.into_iter().collect())
    }

    #[test]
    fn every_selector_is_found_through_functions_operators_and_subqueries() {
        assert_eq!(
            names("sum by (job) (rate(a_total[5m])) / on(job) group_left max_over_time(b[1h:1m]) > scalar(c{x=\"1\"})"),
            Some(vec!["a_total".into(), "b".into(), "c".into()])
        );
        assert_eq!(names("{__name__=\"d\", job=\"x\"}"), Some(vec!["d".into()]));
        assert_eq!(names("time() > bool 5"), Some(vec![]));
    }

    #[test]
    fn a_selector_without_one_metric_name_could_read_any() {
        assert_eq!(names("up + {job=\"x\"}"), None);
        assert_eq!(names("{__name__=~\"a|b\"}"), None);
        assert_eq!(names("count({__name__!=\"\"})"), None);
    }
}
