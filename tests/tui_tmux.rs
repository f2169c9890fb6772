//! End to end: the real `opsdeck` dashboard in a tmux pane against a
//! headless demo fleet (`opsdeck demo --headless`), checked by what is on
//! the screen. Skipped, with a message, where tmux is not installed or the
//! demo cannot start.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_opsdeck");
const WAIT: Duration = Duration::from_secs(30);

/// A headless demo fleet; stopped with SIGTERM (so it cleans up) on drop.
struct Demo {
    child: Child,
    /// `(name, url)` per agent, as printed by the demo.
    agents: Vec<(String, String)>,
}

impl Demo {
    fn start(nodes: usize) -> Result<Demo, String> {
        let mut child = Command::new(BIN)
            .args([
                "demo",
                "--headless",
                "--nodes",
                &nodes.to_string(),
                "--shards",
                "4",
                "--seed",
                "7",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {BIN} demo: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = mpsc::channel();
        let err_tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(Ok(line));
            }
        });
        std::thread::spawn(move || {
            let text: Vec<String> = BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .collect();
            let _ = err_tx.send(Err(text.join("\n")));
        });
        let mut demo = Demo {
            child,
            agents: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while demo.agents.len() < nodes {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Ok(line)) => {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    if let ["agent", name, url] = words.as_slice() {
                        demo.agents.push((name.to_string(), url.to_string()));
                    }
                }
                Ok(Err(stderr)) => return Err(format!("the demo exited early: {stderr}")),
                Err(_) => return Err("the demo printed no agent URLs within 60 s".into()),
            }
        }
        Ok(demo)
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private tmux server (its own socket) with one session; killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|out| out.status.success())
    }

    fn start(command: &str, width: u16, height: u16) -> Tmux {
        let tmux = Tmux {
            socket: format!("opsdeck-e2e-{}", std::process::id()),
        };
        let status = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                "e2e",
                "-x",
                &width.to_string(),
                "-y",
                &height.to_string(),
            ])
            .arg(command)
            .status()
            .expect("tmux new-session");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    fn cmd(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "e2e"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types text literally, then presses Enter if asked.
    fn type_keys(&self, text: &str, enter: bool) {
        let mut command = self.cmd();
        command.args(["send-keys", "-t", "e2e", "-l", text]);
        assert!(command.status().expect("tmux send-keys").success());
        if enter {
            self.key("Enter");
        }
    }

    fn key(&self, name: &str) {
        let status = self
            .cmd()
            .args(["send-keys", "-t", "e2e", name])
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    /// Waits until every needle is on screen; fails with the screen.
    fn wait_for(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if needles.iter().all(|n| screen.contains(n)) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited {WAIT:?} for {needles:?}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn write_config(dir: &Path, demo: &Demo) -> std::path::PathBuf {
    let mut yaml = String::from("agents:\n");
    for (name, url) in &demo.agents {
        yaml.push_str(&format!(
            "  - name: {name}\n    url: {url}\n    token: demo\n"
        ));
    }
    yaml.push_str(&format!(
        "log:\n  dir: {}\n  level: debug\n",
        dir.join("logs").display()
    ));
    let path = dir.join("opsdeck.yaml");
    std::fs::write(&path, yaml).expect("write the dashboard config");
    path
}

#[test]
fn dashboard_shows_the_demo_fleet_in_tmux() {
    if !Tmux::available() {
        println!("SKIPPED: tmux is not installed");
        return;
    }
    let demo = match Demo::start(2) {
        Ok(demo) => demo,
        Err(reason) => {
            println!("SKIPPED: the headless demo is not available: {reason}");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(dir.path(), &demo);
    // The shell keeps the pane open after the dashboard exits, with its
    // exit status on screen.
    let command = format!(
        "'{BIN}' tui --config '{}'; echo \"dashboard exited $?\"; sleep 60",
        config.display()
    );
    let tmux = Tmux::start(&command, 120, 40);

    // Fleet view: both demo nodes, live, with shard counts.
    let screen = tmux.wait_for(&["‹fleet›", "node-1", "node-2", "● live", "/4"]);
    assert!(!screen.contains("UNREACH"), "{screen}");

    // Shards across the fleet, then filtered to one node.
    tmux.type_keys(":shards", true);
    tmux.wait_for(&["‹shards›", "Shards (8)"]);
    tmux.type_keys("/node-2", true);
    tmux.wait_for(&["Shards (4)", "node-2"]);
    tmux.key("Escape");
    tmux.wait_for(&["Shards (8)"]);

    // A node: charts, pools and its shard table.
    tmux.type_keys(":node node-1", true);
    tmux.wait_for(&["‹node node-1›", "CPU", "Heap", "Pools", "STATE"]);

    // Alerts view renders (the demo may or may not have alerts yet).
    tmux.type_keys("3", false);
    tmux.wait_for(&["‹alerts›", "Alerts ("]);

    // Help, then back.
    tmux.type_keys("?", false);
    tmux.wait_for(&["Help", "command mode"]);
    tmux.key("Escape");

    // Resized to 80×24, the dashboard redraws to fit.
    let status = tmux
        .cmd()
        .args(["resize-window", "-t", "e2e", "-x", "80", "-y", "24"])
        .status()
        .expect("tmux resize-window");
    assert!(status.success());
    tmux.type_keys("1", false);
    let screen = tmux.wait_for(&["‹fleet›", "node-1", "UPDATED│"]);
    assert!(screen.lines().all(|l| l.chars().count() <= 80), "{screen}");

    // Quit: a clean exit, and the log went to the file, not the screen.
    tmux.type_keys(":q", true);
    let screen = tmux.wait_for(&["dashboard exited"]);
    assert!(screen.contains("dashboard exited 0"), "{screen}");
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("logs"))
        .expect("log directory")
        .filter_map(Result::ok)
        .collect();
    assert!(!logs.is_empty(), "a log file was written");
}
