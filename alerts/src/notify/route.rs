//! The route tree, resolved: every node knows its receiver and timings
//! (inherited where unset), and matching an alert yields the routes it
//! goes to, honouring `continue`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::config::{RouteConfig, GROUP_INTERVAL, GROUP_WAIT, REPEAT_INTERVAL};
use super::matcher::{all_match, Matcher};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    Labels(Vec<String>),
    /// `'...'`: every label, so each alert is its own group.
    All,
}

#[derive(Debug, Clone)]
pub struct Route {
    /// Stable across restarts for one config: the matcher chain from the
    /// root, like Alertmanager's route key. Part of every group key.
    pub key: String,
    pub receiver: String,
    pub group_by: GroupBy,
    pub matchers: Vec<Matcher>,
    pub continue_matching: bool,
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    pub routes: Vec<Route>,
}

impl Route {
    /// Builds the tree from a validated config (the root has a receiver).
    pub fn from_config(config: &RouteConfig) -> Route {
        let root_defaults = Route {
            key: String::new(),
            receiver: String::new(),
            group_by: GroupBy::Labels(Vec::new()),
            matchers: Vec::new(),
            continue_matching: false,
            group_wait: millis(GROUP_WAIT.millis()),
            group_interval: millis(GROUP_INTERVAL.millis()),
            repeat_interval: millis(REPEAT_INTERVAL.millis()),
            routes: Vec::new(),
        };
        Route::inherit(config, &root_defaults, None)
    }

    fn inherit(config: &RouteConfig, parent: &Route, index: Option<usize>) -> Route {
        let matchers: Vec<String> = config.matchers.iter().map(ToString::to_string).collect();
        let key = match index {
            None => "{}".to_string(),
            Some(i) => format!("{}/{{{}}}[{i}]", parent.key, matchers.join(",")),
        };
        let group_by = match &config.group_by {
            None => parent.group_by.clone(),
            Some(labels) if labels.iter().any(|l| l == "...") => GroupBy::All,
            Some(labels) => GroupBy::Labels(labels.clone()),
        };
        let mut route = Route {
            key,
            receiver: config
                .receiver
                .clone()
                .unwrap_or_else(|| parent.receiver.clone()),
            group_by,
            matchers: config.matchers.clone(),
            continue_matching: config.continue_matching,
            group_wait: config
                .group_wait
                .map_or(parent.group_wait, |d| millis(d.millis())),
            group_interval: config
                .group_interval
                .map_or(parent.group_interval, |d| millis(d.millis())),
            repeat_interval: config
                .repeat_interval
                .map_or(parent.repeat_interval, |d| millis(d.millis())),
            routes: Vec::new(),
        };
        route.routes = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, child)| Route::inherit(child, &route, Some(i)))
            .collect();
        route
    }

    /// The routes an alert goes to: the deepest matching node along each
    /// path, siblings tried in order until one matches without
    /// `continue`. The root always matches.
    pub fn matching(&self, labels: &BTreeMap<String, String>) -> Vec<&Route> {
        if !all_match(&self.matchers, labels) {
            return Vec::new();
        }
        let mut found = Vec::new();
        for child in &self.routes {
            let matched = child.matching(labels);
            if matched.is_empty() {
                continue;
            }
            found.extend(matched);
            if !child.continue_matching {
                break;
            }
        }
        if found.is_empty() {
            found.push(self);
        }
        found
    }

    /// The labels that name an alert's group on this route.
    pub fn group_labels(&self, labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get(n).map(|v| (n.clone(), v.clone())))
                .collect(),
        }
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::config::parse_notifications_section;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn tree() -> Route {
        let config = parse_notifications_section(
            r#"
notifications:
  route:
    receiver: default
    group_by: [alertname]
    group_wait: 10s
    routes:
      - matchers: ['severity="critical"']
        receiver: pager
        group_wait: 0s
        continue: true
      - matchers: ['team=~"db|storage"']
        receiver: db
        group_by: ['...']
        routes:
          - matchers: ['severity="warning"']
            receiver: db-warn
"#,
        )
        .unwrap();
        Route::from_config(config.route.as_ref().unwrap())
    }

    fn receivers(route: &Route, l: &[(&str, &str)]) -> Vec<String> {
        route
            .matching(&labels(l))
            .iter()
            .map(|r| r.receiver.clone())
            .collect()
    }

    #[test]
    fn matches_like_alertmanager() {
        let root = tree();
        assert_eq!(receivers(&root, &[("alertname", "X")]), ["default"]);
        assert_eq!(
            receivers(&root, &[("severity", "critical"), ("team", "db")]),
            ["pager", "db"]
        );
        assert_eq!(
            receivers(&root, &[("severity", "warning"), ("team", "db")]),
            ["db-warn"]
        );
        assert_eq!(receivers(&root, &[("severity", "critical")]), ["pager"]);
    }

    #[test]
    fn children_inherit_and_override() {
        let root = tree();
        let pager = &root.routes[0];
        assert_eq!(pager.group_wait, Duration::ZERO);
        assert_eq!(pager.group_interval, Duration::from_secs(300));
        assert_eq!(pager.group_by, GroupBy::Labels(vec!["alertname".into()]));
        let db_warn = &root.routes[1].routes[0];
        assert_eq!(db_warn.group_by, GroupBy::All);
        assert_eq!(db_warn.group_wait, Duration::from_secs(10));
        assert_ne!(db_warn.key, root.routes[1].key);
    }
}
