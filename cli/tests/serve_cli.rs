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

/// The body of an HTTP/1.1 response read to its end, chunked transfer decoded.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// `(event, data)` of an SSE stream read to its end (the server ends a finished match's stream).
fn sse(port: u16, path: &str) -> Vec<(String, serde_json::Value)> {
    let (status, body) = get(port, path);
    assert_eq!(status, 200, "{body}");
    let text = dechunk(&body);
    text.split("\n\n")
        .filter_map(|block| {
            let mut name = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.to_string());
                }
                if let Some(d) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(d).unwrap());
                }
            }
            Some((name?, data?))
        })
        .collect()
}

fn json_get(port: u16, path: &str) -> serde_json::Value {
    let (status, body) = get(port, path);
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&dechunk_if(&body)).unwrap()
}

/// A body that may or may not be chunked.
fn dechunk_if(body: &str) -> String {
    if body.trim_start().starts_with('{') {
        body.to_string()
    } else {
        dechunk(body)
    }
}

#[test]
fn match_serve_shows_each_game_live_over_the_api() {
    let mut child = Command::new(EMBER)
        .args(
            "match go --size 9 --black random --white uct:8 --games 2 --alternate --seed 3 --delay-ms 10 --serve --port 0 --serve-linger 120 --json"
                .split_whitespace(),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    out.read_line(&mut url).unwrap();
    let s = Server {
        child,
        url: url.trim().to_string(),
        stderr: String::new(),
    };
    assert!(
        s.url.starts_with("http://127.0.0.1:") && s.url.ends_with("/#/matches/attached"),
        "{}",
        s.url
    );
    let port = port_of(&s.url);
    // The first game's job appears once it starts; its stream replays it from the start and
    // follows it live to its end.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while json_get(port, "/api/matches")["matches"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "no game appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
    let events = sse(port, "/api/matches/1/events");
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"start"), "{names:?}");
    assert_eq!(names.last(), Some(&"end"), "{names:?}");
    assert!(names[1..names.len() - 1].iter().all(|&n| n == "move"));
    assert!(names.len() > 20, "{} events", names.len());
    let start = &events[0].1;
    assert_eq!(start["game"], "go");
    assert_eq!(start["size"], 9);
    assert_eq!(start["players"], serde_json::json!(["random", "uct:8"]));
    assert_eq!(
        start["attached"],
        serde_json::json!({"game": 1, "games": 2})
    );
    // White searches: its moves carry the analysis, Black's do not.
    let analysed: Vec<bool> = events[1..events.len() - 1]
        .iter()
        .map(|(_, d)| !d["analysis"].is_null())
        .collect();
    assert!(!analysed[0] && analysed[1], "{analysed:?}");
    assert!(events.last().unwrap().1["result"].is_string());
    // The JSON summary comes after both games; then the page stays up (--serve-linger).
    let mut summary = String::new();
    out.read_line(&mut summary).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["games"], 2);
    let list = json_get(port, "/api/matches");
    let games = list["matches"].as_array().unwrap();
    assert_eq!(games.len(), 2, "{list}");
    let (g2, g1) = (&games[0], &games[1]);
    assert_eq!(g1["next"], g2["id"]);
    assert_eq!(g2["attached"], serde_json::json!({"game": 2, "games": 2}));
    // --alternate: the second game has the first player named as White.
    assert_eq!(g2["players"], serde_json::json!(["uct:8", "random"]));
    assert!(g2.get("next").is_none());
    for g in [g1, g2] {
        assert_eq!(g["status"], "finished", "{g}");
    }
    let (status, sgf) = get(port, "/api/matches/1/sgf");
    assert_eq!(status, 200);
    assert!(sgf.contains("(;") && sgf.contains("PW[uct:8]"), "{sgf}");
    // Played in the terminal: not stoppable from the page; no runs directory.
    let mut st = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        st,
        "POST /api/matches/2/stop HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    st.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 409"), "{text}");
    assert!(text.contains("ember match --serve"), "{text}");
    let runs = json_get(port, "/api/runs");
    assert!(
        runs["root"].is_null() && runs["runs"] == serde_json::json!([]),
        "{runs}"
    );
    assert_eq!(get(port, "/api/runs/x").0, 404);
}

#[test]
fn match_serve_linger_zero_exits_after_the_match() {
    let o = Command::new(EMBER)
        .args(
            "match connect_four --player1 random --player2 random --games 1 --delay-ms 0 --serve --port 0 --serve-linger 0 --json"
                .split_whitespace(),
        )
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].ends_with("/#/matches/attached"), "{out}");
    assert!(lines[1].starts_with('{'), "{out}");
    // The server's flags need --serve.
    let o = Command::new(EMBER)
        .args("match connect_four --player1 random --player2 random --port 0".split_whitespace())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--serve"));
}
