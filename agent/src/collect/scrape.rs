//! Scraping a Prometheus/OpenMetrics endpoint into the store, with the
//! target labels and the report series (`up`, `scrape_duration_seconds`,
//! `scrape_samples_scraped`) that Prometheus adds. A failed scrape marks
//! the target's series stale and is reported; it never stops the loop.

use std::sync::Arc;
use std::time::Instant;

use opsdeck_metrics::exposition::{self, Format};
use opsdeck_metrics::{Labels, METRIC_NAME};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use series_cache::SeriesCache;
use target_labels::TargetLabels;
use timestamps::ScrapeTimestamps;

use super::fetch::{fetch, FetchError};
use super::{every, now_ms, redacted_url};
use crate::config::{AcceptFormat, ScrapeTargetConfig};
use crate::state::AgentState;

mod series_cache;
mod target_labels;
mod timestamps;

#[derive(Debug, thiserror::Error)]
enum ScrapeError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("invalid exposition at {0}")]
    Parse(#[from] exposition::ParseError),
}

/// The series a scrape adds about itself, as Prometheus does.
const REPORT_SERIES: [&str; 3] = ["up", "scrape_duration_seconds", "scrape_samples_scraped"];

pub(crate) struct Scraper {
    target: ScrapeTargetConfig,
    client: reqwest::Client,
    state: Arc<AgentState>,
    /// `job`, `instance` and the configured labels.
    target_labels: TargetLabels,
    /// Held only while a fetched body is parsed and stored; scrapes of one
    /// target never overlap.
    parsing: Mutex<Parsing>,
    timestamps: Mutex<ScrapeTimestamps>,
    /// `up`, `scrape_duration_seconds` and `scrape_samples_scraped`, with
    /// the target labels: built once, so that the store finds their series
    /// by pointer.
    report_labels: [Labels; 3],
}

/// What a scrape reuses from the previous one.
#[derive(Default)]
struct Parsing {
    series: SeriesCache,
    /// The latest scrape's values, in the order of its series; kept for
    /// its capacity.
    values: Vec<f64>,
}

impl Scraper {
    pub(crate) fn new(
        target: ScrapeTargetConfig,
        client: reqwest::Client,
        state: Arc<AgentState>,
    ) -> Self {
        let mut target_labels = Labels::from_pairs(target.labels.iter());
        target_labels.set("job", target.name.clone());
        target_labels.set("instance", instance(&target.url));
        state.register_source(&target.name, &redacted_url(&target.url));
        let report_labels = REPORT_SERIES.map(|name| {
            let mut labels = target_labels.clone();
            labels.set(METRIC_NAME, name);
            labels
        });
        Scraper {
            timestamps: Mutex::new(ScrapeTimestamps::new(target.interval)),
            target,
            client,
            state,
            target_labels: TargetLabels::new(target_labels),
            parsing: Mutex::default(),
            report_labels,
        }
    }

    pub(crate) async fn run(self, cancel: CancellationToken) {
        every(self.target.interval, &cancel, || self.scrape_once()).await;
        // Leaving: the target's series are no longer current.
        self.state
            .store
            .mark_source_stale(&self.target.name, now_ms());
    }

    async fn scrape_once(&self) {
        let started = Instant::now();
        let t = self.timestamps.lock().stamp(now_ms());
        let result = self.fetch_and_store(t).await;
        let duration = started.elapsed().as_secs_f64();
        let (up, samples) = match &result {
            Ok(samples) => (1.0, *samples as f64),
            Err(err) => {
                tracing::warn!(target = %self.target.name, error = %err, "scrape failed");
                self.state.store.mark_source_stale(&self.target.name, t);
                (0.0, 0.0)
            }
        };
        for (labels, value) in self.report_labels.iter().zip([up, duration, samples]) {
            if let Err(err) = self.state.store.append(labels, t, value) {
                tracing::debug!(%err, "report series not stored");
            }
        }
        self.state.record_scrape(
            &self.target.name,
            t,
            duration,
            result.map(|n| n as u64).map_err(|e| e.to_string()),
        );
    }

    /// Fetches, parses and stores one scrape; the number of samples.
    async fn fetch_and_store(&self, t: i64) -> Result<usize, ScrapeError> {
        // A fresh buffer each time, not one kept for the next scrape: it is
        // allocated once at the announced length, in its own mapping when
        // large (see `memory::tune_malloc`), and given back after parsing,
        // so that a target's body does not stay resident between scrapes
        // (0.3 MiB for 5,000 series).
        let mut body = Vec::new();
        match self.fetch(&mut body).await {
            Ok(content_type) => self.parse_and_store(&body, content_type.as_deref(), t),
            Err(err) => Err(err.into()),
        }
    }

    /// Fetches the target's exposition into `body`; its `Content-Type`.
    async fn fetch(&self, body: &mut Vec<u8>) -> Result<Option<String>, FetchError> {
        let mut request = self
            .client
            .get(self.target.url.clone())
            .header(reqwest::header::ACCEPT, accept_header(self.target.accept));
        if self.target.url.scheme() == "http" {
            // A connection kept alive between scrapes keeps hyper's read
            // buffer, grown with the body's reads to up to 408 KiB, for
            // the whole interval; a plain connect costs microseconds. A
            // TLS handshake costs milliseconds, so HTTPS keeps its
            // connection.
            request = request.header(reqwest::header::CONNECTION, "close");
        }
        if let Some(token) = &self.target.bearer_token {
            request = request.bearer_auth(token.expose());
        }
        if let Some(basic) = &self.target.basic_auth {
            request =
                request.basic_auth(&basic.username, basic.password.as_ref().map(|p| p.expose()));
        }
        fetch(
            request,
            self.target.timeout,
            self.target.body_size_limit.bytes(),
            body,
        )
        .await
    }

    fn parse_and_store(
        &self,
        body: &[u8],
        content_type: Option<&str>,
        t: i64,
    ) -> Result<usize, ScrapeError> {
        let format = match content_type {
            Some(ct) if ct.starts_with("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::PrometheusText,
        };
        let mut parsing = self.parsing.lock();
        let Parsing { series, values } = &mut *parsing;
        let mut visitor = series.scrape(values, &self.target_labels);
        exposition::parse_with(body, format, &mut visitor)?;
        series.forget_unseen();
        let count = values.len();
        // Exposition timestamps are not honoured: every sample is stored
        // at the scrape's time, which keeps series in order across targets.
        let outcome = self.state.store.ingest_scrape(
            &self.target.name,
            t,
            series.latest().zip(values.iter().copied()),
        );
        if let Some(err) = outcome.first_error {
            tracing::debug!(target = %self.target.name, %err, "some samples were not stored");
        }
        Ok(count)
    }
}

/// `host:port`, as Prometheus's `instance` label.
fn instance(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// The `Accept` header, preferring what the config asks for, as Prometheus
/// negotiates.
fn accept_header(accept: AcceptFormat) -> &'static str {
    match accept {
        AcceptFormat::Auto => "application/openmetrics-text;version=1.0.0;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        AcceptFormat::Prometheus => "text/plain;version=0.0.4;q=1.0,*/*;q=0.1",
        AcceptFormat::OpenMetrics => "application/openmetrics-text;version=1.0.0,*/*;q=0.1",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::persist;

    const BODY: &str = "# TYPE requests_total counter\nrequests_total{code=\"200\"} 7\n";

    /// A target that would keep every connection alive; counts the
    /// connections it accepts and keeps each request's head.
    async fn keep_alive_target(
        connections: Arc<AtomicUsize>,
        heads: Arc<Mutex<Vec<String>>>,
    ) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let heads = heads.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while let Ok(n @ 1..) = socket.read(&mut buf).await {
                        request.extend_from_slice(&buf[..n]);
                        if !request.ends_with(b"\r\n\r\n") {
                            continue;
                        }
                        heads
                            .lock()
                            .push(String::from_utf8_lossy(&request).to_lowercase());
                        request.clear();
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{BODY}",
                            BODY.len()
                        );
                        if socket.write_all(response.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn plain_http_scrapes_do_not_keep_their_connection() {
        let connections = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let addr = keep_alive_target(connections.clone(), heads.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let db = persist::Store::open(dir.path()).unwrap();
        let notifier =
            opsdeck_alerts::notify::Notifier::start(&Default::default(), db.shared()).unwrap();
        let rules = opsdeck_alerts::Evaluator::new(Default::default());
        let state = Arc::new(AgentState::new(Arc::default(), rules, notifier));
        let url = format!("http://{addr}/metrics").parse().unwrap();
        let target = ScrapeTargetConfig::new("app", url);
        let scraper = Scraper::new(target, reqwest::Client::new(), state.clone());

        scraper.scrape_once().await;
        scraper.scrape_once().await;

        let health = state.sources.read()["app"].clone();
        assert_eq!(health.status.last_error, None);
        assert_eq!(health.status.samples, Some(1));
        assert_eq!(connections.load(Ordering::SeqCst), 2);
        let heads = heads.lock();
        assert_eq!(heads.len(), 2);
        assert!(
            heads
                .iter()
                .all(|h| h.contains("\r\nconnection: close\r\n")),
            "{heads:?}"
        );
    }
}
