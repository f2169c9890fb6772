//! Inhibition: a firing source alert mutes matching target alerts that
//! share the `equal` labels, as in Alertmanager.

use std::collections::BTreeMap;

use super::config::InhibitRuleConfig;
use super::matcher::all_match;

pub struct Inhibitor {
    rules: Vec<InhibitRuleConfig>,
}

impl Inhibitor {
    pub fn new(rules: Vec<InhibitRuleConfig>) -> Inhibitor {
        Inhibitor { rules }
    }

    /// Whether `target` is muted by one of `firing` (the label sets of
    /// every alert firing now). An alert never inhibits itself, and one
    /// that matches both sides of a rule cannot inhibit through it.
    pub fn is_inhibited<'a>(
        &self,
        target: &BTreeMap<String, String>,
        firing: impl Iterator<Item = &'a BTreeMap<String, String>> + Clone,
    ) -> bool {
        self.rules.iter().any(|rule| {
            all_match(&rule.target_matchers, target)
                && firing.clone().any(|source| {
                    source != target
                        && all_match(&rule.source_matchers, source)
                        && !all_match(&rule.target_matchers, source)
                        && rule.equal.iter().all(|l| source.get(l) == target.get(l))
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::matcher::Matcher;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn critical_mutes_warning_on_the_same_node_only() {
        let inhibitor = Inhibitor::new(vec![InhibitRuleConfig {
            source_matchers: vec![Matcher::parse("severity=critical").unwrap()],
            target_matchers: vec![Matcher::parse("severity=warning").unwrap()],
            equal: vec!["node".into()],
        }]);
        let source = labels(&[("severity", "critical"), ("node", "a")]);
        let same_node = labels(&[("severity", "warning"), ("node", "a")]);
        let other_node = labels(&[("severity", "warning"), ("node", "b")]);
        let firing = [source.clone()];
        assert!(inhibitor.is_inhibited(&same_node, firing.iter()));
        assert!(!inhibitor.is_inhibited(&other_node, firing.iter()));
        assert!(!inhibitor.is_inhibited(&source, firing.iter()));
    }
}
