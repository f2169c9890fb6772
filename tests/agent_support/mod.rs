//! Shared by the `agent_*` end-to-end tests: the real `opsdeck agent`
//! binary in a temp dir, and a small real HTTP server on 127.0.0.1 whose
//! routes serve fixture expositions or misbehave on purpose.

#![allow(dead_code)] // Each test crate uses a different part.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use opsdeck_agent::api::Snapshot;

pub const WAIT: Duration = Duration::from_secs(15);

/// Polls `check` until it returns `Some`, or panics naming `what`.
pub fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(100));
    }
}

/// What a fixture route does.
#[derive(Clone)]
pub enum Behavior {
    /// 200 with this content type and body.
    Body(&'static str, Vec<u8>),
    /// This status with a short body.
    Status(u16),
    /// Accepts and never answers.
    Hang,
    /// Fetches the URL and serves its body, keeping a copy of each.
    Proxy(String),
}

/// A real HTTP/1.1 server on a free loopback port, one thread per
/// connection, `Connection: close`.
pub struct FixtureServer {
    pub addr: std::net::SocketAddr,
    routes: Arc<Mutex<HashMap<String, Behavior>>>,
    served: Arc<Mutex<HashMap<String, Vec<Vec<u8>>>>>,
}

impl FixtureServer {
    pub fn start() -> FixtureServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fixture server");
        let addr = listener.local_addr().expect("fixture address");
        let routes: Arc<Mutex<HashMap<String, Behavior>>> = Arc::default();
        let served: Arc<Mutex<HashMap<String, Vec<Vec<u8>>>>> = Arc::default();
        let (r, s) = (routes.clone(), served.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (r, s) = (r.clone(), s.clone());
                thread::spawn(move || handle(stream, &r, &s));
            }
        });
        FixtureServer {
            addr,
            routes,
            served,
        }
    }

    pub fn route(&self, path: &str, behavior: Behavior) -> String {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_string(), behavior);
        self.url(path)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Bodies a proxy route has served, oldest first.
    pub fn served(&self, path: &str) -> Vec<Vec<u8>> {
        self.served
            .lock()
            .unwrap()
            .get(path)
            .cloned()
            .unwrap_or_default()
    }
}

fn handle(
    mut stream: TcpStream,
    routes: &Mutex<HashMap<String, Behavior>>,
    served: &Mutex<HashMap<String, Vec<Vec<u8>>>>,
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_string();
    let behavior = routes.lock().unwrap().get(&path).cloned();
    let (status, content_type, body) = match behavior {
        None => (404, "text/plain", b"not found\n".to_vec()),
        Some(Behavior::Body(content_type, body)) => (200, content_type, body),
        Some(Behavior::Status(status)) => (status, "text/plain", b"fixture error\n".to_vec()),
        Some(Behavior::Hang) => {
            thread::sleep(Duration::from_secs(120));
            return;
        }
        Some(Behavior::Proxy(url)) => {
            let body = reqwest::blocking::get(&url)
                .and_then(|r| r.bytes())
                .map(|b| b.to_vec())
                .unwrap_or_default();
            served
                .lock()
                .unwrap()
                .entry(path)
                .or_default()
                .push(body.clone());
            (200, "text/plain; version=0.0.4", body)
        }
    };
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}

/// A running `opsdeck agent` process with its own temp dir.
pub struct Agent {
    child: Child,
    pub url: String,
    pub dir: tempfile::TempDir,
    stderr: Arc<Mutex<String>>,
}

impl Agent {
    /// Starts the agent with `config` (YAML), to which the listen address
    /// (a free loopback port) and the data dir are added.
    pub fn start(config: &str) -> Agent {
        let dir = tempfile::tempdir().expect("temp dir");
        let full = format!(
            "listen:\n  address: 127.0.0.1:0\ndata_dir: {}\n{config}",
            dir.path().join("data").display()
        );
        let path = dir.path().join("agent.yaml");
        std::fs::write(&path, full).expect("write config");
        Agent::start_with_file(&path, dir)
    }

    pub fn start_with_file(path: &std::path::Path, dir: tempfile::TempDir) -> Agent {
        let mut child = Command::new(env!("CARGO_BIN_EXE_opsdeck"))
            .arg("agent")
            .arg("--config")
            .arg(path)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn opsdeck agent");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read agent stdout");
        let url = line
            .split_whitespace()
            .nth(2)
            .unwrap_or_else(|| panic!("agent printed no URL; stderr: {}", stderr.lock().unwrap()))
            .to_string();
        Agent {
            child,
            url,
            dir,
            stderr,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        reqwest::blocking::Client::new()
            .get(format!("{}{path}", self.url))
            .timeout(Duration::from_secs(10))
            .send()
            .expect("agent answers")
    }

    pub fn snapshot(&self) -> Snapshot {
        let response = self.get("/api/v1/snapshot");
        assert_eq!(response.status(), 200);
        response.json().expect("snapshot JSON")
    }

    /// Waits for a snapshot that satisfies `ready`.
    pub fn snapshot_where(&self, what: &str, ready: impl Fn(&Snapshot) -> bool) -> Snapshot {
        eventually(what, WAIT, || {
            let response = self.get("/api/v1/snapshot");
            if response.status() != 200 {
                return None;
            }
            let snapshot: Snapshot = response.json().ok()?;
            ready(&snapshot).then_some(snapshot)
        })
    }

    /// One instant query's vector as (labels, value) pairs.
    pub fn query(&self, expr: &str) -> Vec<(serde_json::Value, f64)> {
        let body: serde_json::Value = reqwest::blocking::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .expect("query")
            .json()
            .expect("query JSON");
        assert_eq!(body["status"], "success", "{body}");
        body["data"]["result"]
            .as_array()
            .expect("vector")
            .iter()
            .map(|s| {
                let v = s["value"][1]
                    .as_str()
                    .expect("value")
                    .parse()
                    .expect("number");
                (s["metric"].clone(), v)
            })
            .collect()
    }

    /// SIGTERM, then the exit status (within 10 s).
    pub fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        eventually("agent exit", Duration::from_secs(10), || {
            self.child.try_wait().expect("wait agent")
        })
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the sample `name{labels}` in a Prometheus text exposition.
pub fn exposition_value(body: &[u8], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let parsed = opsdeck_metrics::exposition::parse(
        body,
        opsdeck_metrics::exposition::Format::PrometheusText,
    )
    .expect("fixture exposition parses");
    parsed
        .samples
        .iter()
        .find(|s| {
            s.labels.metric_name() == Some(name)
                && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
        })
        .map(|s| s.value)
}
