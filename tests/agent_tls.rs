//! TLS: with `listen.tls`, the agent serves HTTPS (rustls) from PEM files
//! and a client that trusts the certificate reads it. Skipped, with a
//! message, when the `openssl` command is absent (it makes the test cert).

mod agent_support;

use std::process::Command;

use agent_support::Agent;

/// A test CA and a certificate for 127.0.0.1 signed by it, in `dir`.
fn make_certificates(dir: &std::path::Path) -> bool {
    let openssl = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .is_ok()
        && openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=opsdeck test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ])
        && openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
        ])
        && openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
            "-out",
            "cert.pem",
        ])
}

#[test]
fn serves_https_from_pem_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    if !make_certificates(dir.path()) {
        println!("openssl could not make test certificates: skipping");
        return;
    }
    let path = dir.path().join("agent.yaml");
    std::fs::write(
        &path,
        format!(
            "listen:\n  address: 127.0.0.1:0\n  tls:\n    cert_file: {}\n    key_file: {}\ndata_dir: {}\nhost:\n  enabled: false\n",
            cert.display(),
            key.display(),
            dir.path().join("data").display()
        ),
    )
    .expect("config");
    let pem = std::fs::read(dir.path().join("ca.pem")).expect("CA cert");
    let agent = Agent::start_with_file(&path, dir);
    assert!(agent.url.starts_with("https://127.0.0.1:"), "{}", agent.url);

    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
        .build()
        .expect("client");
    let response = client
        .get(format!("{}/healthz", agent.url))
        .send()
        .expect("HTTPS request");
    assert_eq!(response.status(), 200);

    let untrusting = reqwest::blocking::Client::new()
        .get(format!("{}/healthz", agent.url))
        .send();
    assert!(untrusting.is_err(), "an unknown certificate is refused");
}
