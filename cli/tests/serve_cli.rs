//! `ember serve` through the built binary: the URL line, the flags' errors, the token off loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const EMBER: &str = env!("CARGO_BIN_EXE_ember");

/// A server child that is killed when dropped.
struct Server {
    child: Child,
    url: String,
    stderr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Server {
    let mut child = Command::new(EMBER)
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    // The start-up lines on stderr come before the URL on stdout; read what is there.
    let mut err = child.stderr.take().unwrap();
    let mut stderr = String::new();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let n = err.read(&mut buf).unwrap_or(0);
        let _ = tx.send(String::from_utf8_lossy(&buf[..n]).into_owned());
    });
    if let Ok(s) = rx.recv_timeout(Duration::from_secs(5)) {
        stderr = s;
    }
    Server {
        child,
        url: url.trim().to_string(),
        stderr,
    }
}

/// GET `path` on 127.0.0.1:`port`: the status code and the body.
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn port_of(url: &str) -> u16 {
    let rest = url.strip_prefix("http://").unwrap();
    let hostport = rest.split('/').next().unwrap();
    hostport.rsplit_once(':').unwrap().1.parse().unwrap()
}

#[test]
fn serve_prints_its_url_and_answers_on_loopback() {
    let runs = tempfile::tempdir().unwrap();
    let s = start(&["--runs", runs.path().to_str().unwrap(), "--port", "0"]);
    assert!(s.url.starts_with("http://127.0.0.1:"), "{}", s.url);
    assert!(!s.url.contains("token"));
    let port = port_of(&s.url);
    let (status, body) = get(port, "/api/health");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ok\":true"), "{body}");
    let (status, body) = get(port, "/");
    assert_eq!(status, 200);
    assert!(body.contains("<title>Ember</title>"));
    let (status, body) = get(port, "/api/runs/..%2F..%2Fetc");
    assert_eq!(status, 400, "{body}");
}

#[test]
fn off_loopback_every_request_needs_the_printed_token() {
    let runs = tempfile::tempdir().unwrap();
    let s = start(&[
        "--runs",
        runs.path().to_str().unwrap(),
        "--host",
        "0.0.0.0",
        "--port",
        "0",
    ]);
    let token = s.url.split("?token=").nth(1).expect("a token in the URL");
    assert_eq!(token.len(), 32, "{}", s.url);
    assert!(s.stderr.contains(token), "{}", s.stderr);
    let port = port_of(s.url.split('?').next().unwrap());
    let (status, body) = get(port, "/api/health");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("token"));
    assert_eq!(get(port, "/").0, 401);
    assert_eq!(get(port, "/api/health?token=0123").0, 401);
    assert_eq!(get(port, &format!("/api/health?token={token}")).0, 200);
}

#[test]
fn bad_flags_are_errors() {
    for (args, words) in [
        (
            vec!["--runs", "/nonexistent/ember-runs"],
            "--runs /nonexistent/ember-runs",
        ),
        (vec!["--runs", ".", "--host", "example"], "--host example"),
        (vec!["--runs", ".", "--max-matches", "0"], "--max-matches"),
    ] {
        let o = Command::new(EMBER)
            .arg("serve")
            .args(&args)
            .args(["--port", "0"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with("error: ") && err.contains(words),
            "{args:?}: {err}"
        );
    }
}
