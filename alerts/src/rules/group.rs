//! A rule group: rules evaluated in order at one interval, each writing its
//! output series back into the store and marking series it no longer
//! produces stale, as Prometheus does.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use opsdeck_metrics::promql::{Engine, Query, RepeatedReads, SharedResults};
use opsdeck_metrics::{Labels, SeriesStore, METRIC_NAME, STALE_NAN};

use super::concurrent::run_all;
use super::dependencies::independent_rules;
use super::{vector_of, AlertingRule, RecordingRule, Rule, RuleError, StoreQuerier, TemplateEnv};
use crate::rulefmt::{GroupSpec, RuleFileError, RuleRef};

/// A rule with its evaluation health.
#[derive(Debug, Clone)]
pub struct RuleEntry {
    pub rule: Rule,
    pub last_error: Option<RuleError>,
    pub last_eval: Option<i64>,
    /// Wall time the last evaluation took, in seconds.
    pub last_duration_s: f64,
    previous_series: HashSet<Labels>,
}

/// What a group evaluation reads from and writes to.
pub struct EvalContext<'a> {
    pub store: &'a SeriesStore,
    pub engine: &'a Engine,
    pub external_labels: &'a BTreeMap<String, String>,
    pub external_url: &'a str,
    /// How many of a group's independent rules may be evaluated at once,
    /// on as many threads (the evaluating one included); 1 evaluates every
    /// rule in turn.
    pub concurrency: usize,
}

/// Independent rules are shared among threads only when that would save at
/// least this much of an evaluation: a thread costs tens of microseconds
/// to start, and the first one costs the agent a few hundred KiB of
/// resident code (thread start-up in the loader and libc), for good.
const WORTH_SHARING: Duration = Duration::from_millis(1);

#[derive(Debug, Clone)]
pub struct RuleGroup {
    name: String,
    file: PathBuf,
    interval_ms: i64,
    query_offset_ms: i64,
    limit: usize,
    rules: Vec<RuleEntry>,
    /// Per rule: whether it reads no rule's output and no rule reads its
    /// own, so that it may be evaluated beside the others.
    independent: Vec<bool>,
    last_eval: Option<i64>,
    /// Evaluations so far (saturating): the first one's durations include
    /// one-time work, such as the store ranking series in label order.
    evaluations: u32,
    /// The reads more than one rule makes, found at the first evaluation.
    repeated_reads: Option<RepeatedReads>,
}

impl RuleGroup {
    /// Builds a group from a validated spec; `default_interval_ms` applies
    /// when the group sets none.
    pub fn from_spec(
        file: &Path,
        spec: &GroupSpec,
        default_interval_ms: i64,
    ) -> Result<RuleGroup, RuleFileError> {
        let mut rules = Vec::with_capacity(spec.rules.len());
        for (index, rule) in spec.rules.iter().enumerate() {
            let error = |message: String| RuleFileError {
                file: file.to_path_buf(),
                position: Some(rule.position),
                group: Some(spec.name.clone()),
                rule: RuleRef::boxed(index + 1, rule.name()),
                message,
            };
            let expr = rule.expr.as_deref().unwrap_or_default();
            let query = Query::parse(expr)
                .map_err(|e| error(format!("could not parse expression: {e}")))?;
            // Group labels apply to every rule; the rule's own win.
            let mut labels = spec.labels.clone();
            labels.extend(rule.labels.clone());
            let built = match (&rule.alert, &rule.record) {
                (Some(alert), _) => Rule::Alerting(
                    AlertingRule::new(
                        alert,
                        query,
                        rule.for_.millis(),
                        rule.keep_firing_for.millis(),
                        &labels,
                        &rule.annotations,
                    )
                    .map_err(|e| error(e.to_string()))?,
                ),
                (None, Some(record)) => Rule::Recording(RecordingRule::new(record, query, &labels)),
                (None, None) => return Err(error("one of 'record' or 'alert' must be set".into())),
            };
            rules.push(RuleEntry {
                rule: built,
                last_error: None,
                last_eval: None,
                last_duration_s: 0.0,
                previous_series: HashSet::new(),
            });
        }
        Ok(RuleGroup {
            name: spec.name.clone(),
            file: file.to_path_buf(),
            interval_ms: spec.interval.map_or(default_interval_ms, |d| d.millis()),
            query_offset_ms: spec.query_offset.map_or(0, |d| d.millis()),
            limit: spec.limit,
            independent: independent_rules(rules.iter().map(|entry| &entry.rule)),
            rules,
            last_eval: None,
            evaluations: 0,
            repeated_reads: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn interval_ms(&self) -> i64 {
        self.interval_ms
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn last_eval(&self) -> Option<i64> {
        self.last_eval
    }

    pub fn rules(&self) -> &[RuleEntry] {
        &self.rules
    }

    pub(crate) fn rules_mut(&mut self) -> &mut [RuleEntry] {
        &mut self.rules
    }

    /// Evaluates every rule in order at `ts` (milliseconds). A failing rule
    /// records its error and the others still run; so does one whose
    /// evaluation panics (a bug), so that one bad expression cannot stop
    /// a node's alerting. Independent rules may be evaluated first, at the
    /// same time (see [`EvalContext::concurrency`]); the series the rules
    /// write go to the store in order all the same. Rules share what they
    /// read (see [`SharedResults`]) until a rule writes what was read.
    pub fn eval(&mut self, ctx: &EvalContext<'_>, ts: i64) {
        let query_ts = ts - self.query_offset_ms;
        let limit = self.limit;
        let shared = SharedResults::sharing(query_ts, self.repeated_reads(ctx.engine));
        let at = Evaluation {
            ts,
            query_ts,
            limit,
            shared: &shared,
        };
        let ahead = self.eval_independent(ctx, &at);
        for (entry, ahead) in self.rules.iter_mut().zip(ahead) {
            let Evaluated { result, took } =
                ahead.unwrap_or_else(|| evaluate(&mut entry.rule, ctx, &at));
            if let Err(err @ RuleError::Panicked(_)) = &result {
                let rule = entry.rule.name();
                tracing::error!(group = %self.name, rule, %err, "rule evaluation failed");
            }
            entry.last_eval = Some(ts);
            entry.last_duration_s = took.as_secs_f64();
            match result {
                Ok(samples) => {
                    entry.last_error = None;
                    let mut current = HashSet::with_capacity(samples.len());
                    for (labels, v) in samples {
                        // A series written twice in one evaluation keeps its first
                        // sample, as Prometheus's storage does.
                        let _ = ctx.store.append(&labels, query_ts, v);
                        current.insert(labels);
                    }
                    for gone in entry.previous_series.difference(&current) {
                        let _ = ctx.store.append(gone, query_ts, STALE_NAN);
                    }
                    forget_written(&shared, current.iter().chain(&entry.previous_series));
                    entry.previous_series = current;
                }
                Err(e) => entry.last_error = Some(e),
            }
        }
        self.last_eval = Some(ts);
        self.evaluations = self.evaluations.saturating_add(1);
    }

    /// The reads more than one of the rules makes, for `engine`.
    fn repeated_reads(&mut self, engine: &Engine) -> &RepeatedReads {
        let reads = match self.repeated_reads.take() {
            Some(reads) if reads.fits(engine) => reads,
            _ => RepeatedReads::of(engine, self.rules.iter().map(|entry| entry.rule.query())),
        };
        self.repeated_reads.insert(reads)
    }

    /// Evaluates the independent rules on up to `ctx.concurrency` threads,
    /// the costliest (by their last evaluation) first; one entry per rule,
    /// `None` for those left to [`eval`](Self::eval). None runs ahead with
    /// one thread, before the group has been evaluated twice, or when
    /// sharing the rules' last durations among the threads would save less
    /// than [`WORTH_SHARING`].
    fn eval_independent(
        &mut self,
        ctx: &EvalContext<'_>,
        at: &Evaluation,
    ) -> Vec<Option<Evaluated>> {
        let mut evaluated: Vec<Option<Evaluated>> = self.rules.iter().map(|_| None).collect();
        // The usual case (one thread, the default) builds nothing more.
        if ctx.concurrency < 2 || self.evaluations < 2 {
            return evaluated;
        }
        let mut jobs: Vec<(usize, f64, Mutex<&mut Rule>)> = self
            .rules
            .iter_mut()
            .enumerate()
            .zip(&self.independent)
            .filter(|(_, &independent)| independent)
            .map(|((at, entry), _)| (at, entry.last_duration_s, Mutex::new(&mut entry.rule)))
            .collect();
        let costs: Vec<f64> = jobs.iter().map(|(_, cost, _)| *cost).collect();
        if !worth_sharing(&costs, ctx.concurrency) {
            return evaluated;
        }
        jobs.sort_by(|(_, a, _), (_, b, _)| b.total_cmp(a));
        let results = run_all(&jobs, ctx.concurrency, |(_, _, rule)| {
            evaluate(&mut rule.lock(), ctx, at)
        });
        for ((at, ..), result) in jobs.into_iter().zip(results) {
            evaluated[at] = result;
        }
        evaluated
    }
}

/// Whether evaluating rules that last took `costs` seconds on `threads`
/// threads instead of one would save [`WORTH_SHARING`]: no sharing ends
/// before the longest rule does, nor before an even share of them all.
fn worth_sharing(costs: &[f64], threads: usize) -> bool {
    let total: f64 = costs.iter().sum();
    let longest = costs.iter().copied().fold(0.0, f64::max);
    let shared = longest.max(total / threads.max(1) as f64);
    total - shared >= WORTH_SHARING.as_secs_f64()
}

/// A rule's evaluation, before what it wrote goes to the store.
struct Evaluated {
    result: Result<Vec<(Labels, f64)>, RuleError>,
    took: Duration,
}

/// One evaluation of a group: its time, the time its queries run at (the
/// group's query offset earlier), its series limit and the reads its rules
/// share.
struct Evaluation<'a> {
    ts: i64,
    query_ts: i64,
    limit: usize,
    shared: &'a SharedResults,
}

/// Forgets the shared reads of the metrics of `written`, a rule's output.
fn forget_written<'l>(shared: &SharedResults, written: impl Iterator<Item = &'l Labels>) {
    let mut names: Vec<&str> = written.filter_map(|l| l.get(METRIC_NAME)).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        shared.forget(name);
    }
}

fn evaluate(rule: &mut Rule, ctx: &EvalContext<'_>, at: &Evaluation) -> Evaluated {
    let started = Instant::now();
    let result = contain_panic(|| eval_rule(rule, ctx, at));
    Evaluated {
        result,
        took: started.elapsed(),
    }
}

/// Runs one rule's evaluation, turning a panic into the rule's error. The
/// panic may leave what it interrupted half updated (the rule's alerts,
/// the read state of a series being read; the store's locks do not
/// poison): the price of the other rules going on, which beats a node
/// without alerting until someone restarts its agent.
fn contain_panic<T>(evaluate: impl FnOnce() -> Result<T, RuleError>) -> Result<T, RuleError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(evaluate)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_string());
        Err(RuleError::Panicked(message))
    })
}

fn eval_rule(
    rule: &mut Rule,
    ctx: &EvalContext<'_>,
    at: &Evaluation,
) -> Result<Vec<(Labels, f64)>, RuleError> {
    let Evaluation {
        ts,
        query_ts,
        limit,
        shared,
    } = *at;
    let value = ctx
        .engine
        .instant_shared(ctx.store, rule.query(), query_ts, shared)?;
    let result = vector_of(value)?;
    match rule {
        Rule::Recording(r) => r.eval(result, limit),
        Rule::Alerting(r) => {
            let querier = StoreQuerier {
                engine: ctx.engine,
                store: ctx.store,
                ts: query_ts,
            };
            let env = TemplateEnv {
                external_labels: ctx.external_labels,
                external_url: ctx.external_url,
                querier: &querier,
            };
            r.eval(result, ts, limit, &env)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use opsdeck_metrics::promql::{Engine, SharedResults};
    use opsdeck_metrics::{Labels, Matcher, Queryable, SeriesStore, StoreConfig};

    use super::{contain_panic, worth_sharing, EvalContext, Evaluation, RuleError, RuleGroup};
    use crate::rulefmt;

    const RULES: &str = r#"
groups:
  - name: fleet
    rules:
      - record: job:requests:rate1m
        expr: sum by (job) (rate(requests_total[1m]))
      - alert: FewRequests
        expr: job:requests:rate1m < 100
      - alert: Busy
        expr: rate(requests_total[1m]) > 1
        for: 1m
        annotations:
          summary: "{{ $labels.instance }} serves {{ $value }}/s"
      - alert: Deep
        expr: max_over_time(queue_depth[2m]) > 40
      - alert: Broken
        expr: queue_depth / on() group_left count(queue_depth) > 1
      - record: instance:queue:avg
        expr: avg by (instance) (queue_depth)
"#;

    fn group() -> RuleGroup {
        let path = Path::new("fleet.yml");
        let file = rulefmt::parse_text(path, RULES).expect("valid rules");
        RuleGroup::from_spec(path, &file.groups[0], 15_000).expect("valid group")
    }

    fn scrape(store: &SeriesStore, t: i64) {
        for instance in 0..8 {
            let i = instance as f64;
            let instance = format!("node-{instance}");
            let counter = Labels::from_pairs([
                ("__name__", "requests_total"),
                ("job", "bot"),
                ("instance", instance.as_str()),
            ]);
            let _ = store.append(&counter, t, (t / 1000) as f64 * i * 0.5);
            let depth =
                Labels::from_pairs([("__name__", "queue_depth"), ("instance", instance.as_str())]);
            let _ = store.append(&depth, t, (i * 7.0 + (t / 15_000) as f64) % 50.0);
        }
    }

    /// What the group wrote and holds: every series in the store, with its
    /// samples, and the alerts and errors of each rule.
    fn outcome(store: &SeriesStore, group: &RuleGroup) -> String {
        let any = [Matcher::regex("__name__", ".+").expect("valid regex")];
        let mut series: Vec<String> = store
            .select(&any, i64::MIN, i64::MAX)
            .into_iter()
            .map(|s| format!("{} {:?}", s.labels, s.samples))
            .collect();
        series.sort();
        let rules = group.rules().iter().map(|entry| {
            let alerts = match &entry.rule {
                super::Rule::Alerting(rule) => format!("{:?}", rule.alerts()),
                super::Rule::Recording(_) => String::new(),
            };
            format!("{} {:?} {alerts}", entry.rule.name(), entry.last_error)
        });
        series
            .into_iter()
            .chain(rules)
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn independent_rules_run_ahead_and_the_outcome_is_that_of_rules_in_turn() {
        let engine = Engine::default();
        let external = BTreeMap::new();
        let stores = [(); 2].map(|_| SeriesStore::new(StoreConfig::default()));
        let mut groups = [group(), group()];
        assert_eq!(
            groups[0].independent,
            [false, false, true, true, true, true],
            "the recording rule and the alert on its output run in turn"
        );
        for tick in 0..12 {
            let t = 1_700_000_000_000 + tick * 15_000;
            for ((store, group), concurrency) in stores.iter().zip(&mut groups).zip([1, 3]) {
                scrape(store, t);
                // As if the last evaluation took long enough to share.
                for entry in &mut group.rules {
                    entry.last_duration_s = 0.01;
                }
                let ctx = EvalContext {
                    store,
                    engine: &engine,
                    external_labels: &external,
                    external_url: "",
                    concurrency,
                };
                let shared = SharedResults::new(t);
                let at = Evaluation {
                    ts: t,
                    query_ts: t,
                    limit: 0,
                    shared: &shared,
                };
                let ahead = group.clone().eval_independent(&ctx, &at);
                let ran_ahead: Vec<bool> = ahead.iter().map(Option::is_some).collect();
                let expected = if concurrency == 1 || tick < 2 {
                    [false; 6]
                } else {
                    [false, false, true, true, true, true]
                };
                assert_eq!(ran_ahead, expected, "concurrency {concurrency}");
                group.eval(&ctx, t);
            }
            assert_eq!(
                outcome(&stores[0], &groups[0]),
                outcome(&stores[1], &groups[1]),
                "tick {tick}"
            );
        }
        let written = outcome(&stores[1], &groups[1]);
        for expected in [
            "job:requests:rate1m",
            "instance:queue:avg",
            "ALERTS",
            "Busy",
        ] {
            assert!(written.contains(expected), "{expected} in {written}");
        }
    }

    /// Rules share what they read, but a rule after one that writes a
    /// metric reads what was written.
    #[test]
    fn a_rule_reads_what_an_earlier_rule_of_the_group_wrote() {
        const RULES: &str = r#"
groups:
  - name: chain
    rules:
      - alert: OnLastValue
        expr: job:requests:rate1m > 1000
      - record: job:requests:rate1m
        expr: sum by (job) (rate(requests_total[1m]))
      - record: job:requests:rate1m:copy
        expr: job:requests:rate1m
      - record: job:requests:rate1m:again
        expr: sum by (job) (rate(requests_total[1m]))
"#;
        let path = Path::new("chain.yml");
        let file = rulefmt::parse_text(path, RULES).expect("valid rules");
        let mut group = RuleGroup::from_spec(path, &file.groups[0], 15_000).expect("valid group");
        let engine = Engine::default();
        let external = BTreeMap::new();
        let store = SeriesStore::new(StoreConfig::default());
        let ctx = EvalContext {
            store: &store,
            engine: &engine,
            external_labels: &external,
            external_url: "",
            concurrency: 1,
        };
        for tick in 0..3 {
            let t = 1_700_000_000_000 + tick * 15_000;
            scrape(&store, t);
            group.eval(&ctx, t);
            let newest = |name: &str| {
                let selected = store.select(&[Matcher::equal("__name__", name)], t, t);
                selected
                    .iter()
                    .map(|s| s.samples.iter().map(|p| p.v).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            };
            let recorded = newest("job:requests:rate1m");
            assert_eq!(newest("job:requests:rate1m:copy"), recorded, "tick {tick}");
            assert_eq!(newest("job:requests:rate1m:again"), recorded, "tick {tick}");
        }
    }

    #[test]
    fn rules_are_shared_only_when_that_saves_a_millisecond() {
        // Ten rules of 1 ms: two threads save 5 ms.
        assert!(worth_sharing(&[0.001; 10], 2));
        assert!(!worth_sharing(&[0.001; 10], 1));
        // One rule holds the evaluation up whatever the others do.
        assert!(!worth_sharing(&[0.008, 0.0001, 0.0001], 2));
        assert!(worth_sharing(&[0.008, 0.0005, 0.0007], 2));
        // Too little in all.
        assert!(!worth_sharing(&[0.0002; 5], 4));
    }

    #[test]
    fn a_panicking_evaluation_becomes_the_rules_error() {
        let panicked = contain_panic::<()>(|| panic!("index out of bounds: the len is 0"));
        assert_eq!(
            panicked,
            Err(RuleError::Panicked(
                "index out of bounds: the len is 0".into()
            ))
        );
        let formatted = contain_panic::<()>(|| panic!("series {} vanished", 7));
        assert_eq!(
            formatted.map_err(|e| e.to_string()),
            Err("internal error: evaluation panicked: series 7 vanished".into())
        );
        assert_eq!(contain_panic(|| Ok(3)), Ok(3));
        assert_eq!(
            contain_panic::<()>(|| Err(RuleError::NotAVector)),
            Err(RuleError::NotAVector)
        );
    }
}
