//! The HTTP API in process (tower's `oneshot` on the router): status codes, JSON shapes, SSE
//! event order, path traversal, bad player specs, the access token, the running bound.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use ember_serve::{AppState, ServeConfig, router};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn app_with(runs: &Path, max: usize, allow_engines: bool, token: Option<&str>) -> Router {
    let cfg = ServeConfig {
        runs: runs.to_path_buf(),
        max_matches: max,
        allow_engines,
        ..ServeConfig::default()
    };
    router(AppState::new(&cfg, token.map(String::from)).unwrap())
}

fn app(runs: &Path) -> Router {
    app_with(runs, 4, false, None)
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, String, String) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, ct, String::from_utf8_lossy(&body).into_owned())
}

async fn get(app: &Router, uri: &str) -> (StatusCode, Value) {
    let (s, ct, body) = send(app, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert!(
        ct.starts_with("application/json"),
        "{uri}: content type {ct}, body {body}"
    );
    (s, serde_json::from_str(&body).unwrap())
}

async fn post(app: &Router, uri: &str, body: Value) -> (StatusCode, Value) {
    let req = Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let (s, ct, body) = send(app, req).await;
    assert!(ct.starts_with("application/json"), "{uri}: {ct} {body}");
    (s, serde_json::from_str(&body).unwrap())
}

/// The `(event, data)` pairs of an SSE stream, read to its end (or until `limit` passes).
async fn sse(app: &Router, uri: &str, limit: Duration) -> Vec<(String, Value)> {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{uri}");
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut stream = res.into_body().into_data_stream();
    let mut text = String::new();
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.next()).await {
            Ok(Some(chunk)) => text.push_str(&String::from_utf8_lossy(&chunk.unwrap())),
            Ok(None) | Err(_) => break,
        }
    }
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut name = None;
        let mut data = String::new();
        for line in block.lines() {
            if let Some(n) = line.strip_prefix("event: ") {
                name = Some(n.to_string());
            } else if let Some(d) = line.strip_prefix("data: ") {
                data.push_str(d);
            }
        }
        if let Some(n) = name {
            out.push((n, serde_json::from_str(&data).unwrap()));
        }
    }
    out
}

fn error_of(v: &Value) -> &str {
    v["error"].as_str().expect("an error message")
}

/// A run directory with a config, events and (optionally) a summary.
fn make_run(root: &Path, name: &str, finished: bool) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "name = \"toy\"\nkind = \"ppo\"\nseed = 3\n\n[env]\nid = \"CartPole-v1\"\n",
    )
    .unwrap();
    let mut w = ember_nets::tensorboard::EventWriter::create(&dir).unwrap();
    for step in 0..5u64 {
        w.scalar("charts/episodic_return", step * 100, step as f32 * 2.0)
            .unwrap();
    }
    w.scalar("eval/mean_return", 400, 42.0).unwrap();
    w.flush().unwrap();
    if finished {
        std::fs::write(
            dir.join("summary.json"),
            json!({"eval_mean_return": 42.0, "steps": 400}).to_string(),
        )
        .unwrap();
    }
    dir
}

fn set_old(path: &Path) {
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    for e in std::fs::read_dir(path).unwrap().flatten() {
        std::fs::File::options()
            .write(true)
            .open(e.path())
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    std::fs::File::open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

#[tokio::test]
async fn page_assets_and_unknown_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let (s, ct, body) = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/html"));
    assert!(body.contains("assets/app.js") && body.contains("uPlot"));
    for (name, ct_want) in [
        ("app.js", "text/javascript"),
        ("board.js", "text/javascript"),
        ("uPlot.iife.min.js", "text/javascript"),
        ("uPlot.min.css", "text/css"),
    ] {
        let (s, ct, body) = send(
            &app,
            Request::get(format!("/assets/{name}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{name}");
        assert!(ct.starts_with(ct_want), "{name}: {ct}");
        assert!(body.len() > 100, "{name}");
    }
    let (s, v) = get(&app, "/assets/nothing.js").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(error_of(&v).contains("nothing.js"));
    let (s, v) = get(&app, "/api/nothing").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    error_of(&v);
    let (s, v) = send(
        &app,
        Request::delete("/api/runs").body(Body::empty()).unwrap(),
    )
    .await
    .pipe(|(s, _, b)| (s, serde_json::from_str::<Value>(&b).unwrap()));
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    error_of(&v);
    let (s, v) = get(&app, "/api/health").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["ok"], true);
    assert_eq!(v["allow_engines"], false);
    let (s, v) = get(&app, "/api/envs").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        v["envs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == "Breakout-v0")
    );
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

#[tokio::test]
async fn runs_list_status_config_and_curves() {
    let tmp = tempfile::tempdir().unwrap();
    make_run(tmp.path(), "done_run", true);
    make_run(tmp.path(), "live_run", false);
    let killed = make_run(tmp.path(), "killed_run", false);
    set_old(&killed);
    std::fs::create_dir(tmp.path().join("not_a_run")).unwrap();
    let app = app(tmp.path());

    let (s, v) = get(&app, "/api/runs").await;
    assert_eq!(s, StatusCode::OK);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "{v}");
    let status = |id: &str| {
        runs.iter().find(|r| r["id"] == id).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(status("done_run"), "finished");
    assert_eq!(status("live_run"), "running");
    assert_eq!(status("killed_run"), "killed");
    let done = runs.iter().find(|r| r["id"] == "done_run").unwrap();
    assert_eq!(done["kind"], "ppo");
    assert_eq!(done["env"], "CartPole-v1");
    assert_eq!(done["summary"]["eval_mean_return"], 42.0);

    let (s, v) = get(&app, "/api/runs/done_run").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["config"]["seed"], 3);
    assert!(v["config_toml"].as_str().unwrap().contains("CartPole-v1"));
    assert_eq!(
        v["tags"],
        json!(["charts/episodic_return", "eval/mean_return"])
    );

    let (s, v) = get(&app, "/api/runs/done_run/scalars").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        v["tags"]["charts/episodic_return"],
        json!([[0, 0.0], [100, 2.0], [200, 4.0], [300, 6.0], [400, 8.0]])
    );
    let (_, v) = get(&app, "/api/runs/done_run/scalars?tags=eval/mean_return").await;
    assert_eq!(v["tags"], json!({"eval/mean_return": [[400, 42.0]]}));
    let (s, v) = get(&app, "/api/runs/done_run/scalars?bogus=1").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    error_of(&v);

    // The live stream of a finished run: its status, its curves, then the end.
    let evs = sse(&app, "/api/runs/done_run/events", Duration::from_secs(10)).await;
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["status", "scalars"]);
    assert_eq!(evs[0].1["status"], "finished");
    assert_eq!(evs[1].1["tags"]["eval/mean_return"], json!([[400, 42.0]]));
}

#[tokio::test]
async fn a_live_run_streams_new_points() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = make_run(tmp.path(), "growing", false);
    let app = app(tmp.path());
    let reader = tokio::spawn({
        let app = app.clone();
        async move { sse(&app, "/api/runs/growing/events", Duration::from_secs(8)).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut w = ember_nets::tensorboard::EventWriter::create(&dir).unwrap();
    w.scalar("charts/episodic_return", 999, 77.0).unwrap();
    w.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    std::fs::write(dir.join("summary.json"), "{\"steps\": 999}").unwrap();
    let evs = reader.await.unwrap();
    let scalars: Vec<&Value> = evs
        .iter()
        .filter(|(n, _)| n == "scalars")
        .map(|(_, v)| v)
        .collect();
    // Every point first, then only the new one (unless a slow first read already saw it).
    assert_eq!(scalars[0]["replace"], true);
    let first = &scalars[0]["tags"]["charts/episodic_return"];
    match first.as_array().unwrap().len() {
        5 => {
            assert_eq!(scalars.len(), 2, "{evs:?}");
            assert_eq!(scalars[1]["replace"], false);
            assert_eq!(
                scalars[1]["tags"],
                json!({"charts/episodic_return": [[999, 77.0]]})
            );
        }
        6 => assert_eq!(first[5], json!([999, 77.0])),
        n => panic!("{n} points first: {evs:?}"),
    }
    let statuses: Vec<&str> = evs
        .iter()
        .filter(|(n, _)| n == "status")
        .map(|(_, v)| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.first(), Some(&"running"));
    assert_eq!(statuses.last(), Some(&"finished"));
}

#[tokio::test]
async fn path_traversal_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    std::fs::create_dir(&runs).unwrap();
    make_run(&runs, "inside", true);
    // A run outside the root, and a symlink to it from inside.
    let outside = make_run(tmp.path(), "outside", true);
    std::os::unix::fs::symlink(&outside, runs.join("link")).unwrap();
    let app = app(&runs);
    for uri in [
        "/api/runs/..",
        "/api/runs/%2E%2E",
        "/api/runs/..%2Foutside",
        "/api/runs/%2E%2E%2Foutside",
        "/api/runs/.hidden",
        "/api/runs/inside%2F..%2F..%2Foutside",
        "/api/runs/..%5Coutside",
        "/api/runs/..%2F..%2F..%2Fetc%2Fpasswd/scalars",
        "/api/runs/%2Fetc/events",
    ] {
        let (s, v) = get(&app, uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert!(error_of(&v).contains("not a run name"), "{uri}: {v}");
    }
    // The symlink resolves outside the root: not a run here.
    let (s, v) = get(&app, "/api/runs/link").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, _) = get(&app, "/api/runs/link/scalars").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v) = get(&app, "/api/runs").await;
    let ids: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["inside"]);
    // Paths through the router's other doors.
    for uri in [
        "/assets/..%2F..%2FCargo.toml",
        "/assets/../Cargo.toml",
        "/api/runs/inside/../../outside",
    ] {
        let (s, ct, _) = send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
        assert!(
            s == StatusCode::NOT_FOUND || s == StatusCode::BAD_REQUEST,
            "{uri}: {s}"
        );
        assert!(ct.starts_with("application/json"), "{uri}: {ct}");
    }
    // Run names inside player and agent specs go through the same check.
    for spec in ["az:../outside", "az:/etc", "az:link:50", "az:..:10"] {
        let (s, v) = post(
            &app,
            "/api/matches",
            json!({"game": "go", "size": 5, "players": [spec, "random"]}),
        )
        .await;
        assert!(s.is_client_error(), "{spec}: {s} {v}");
        assert!(error_of(&v).contains(spec), "{spec}: {v}");
    }
    for agent in ["../outside", "/etc", "link"] {
        let (s, v) = post(
            &app,
            "/api/episodes",
            json!({"env": "CartPole-v1", "agent": agent}),
        )
        .await;
        assert!(s.is_client_error(), "{agent}: {s} {v}");
    }
}

#[tokio::test]
async fn malformed_requests_get_json_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let bad = |body: &'static str, ct: Option<&'static str>| {
        let mut r = Request::post("/api/matches");
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.body(Body::from(body)).unwrap()
    };
    for (req, want) in [
        (
            bad("{not json", Some("application/json")),
            StatusCode::BAD_REQUEST,
        ),
        (
            bad("{\"game\": \"go\"}", Some("application/json")),
            StatusCode::BAD_REQUEST,
        ),
        (
            bad(
                "{\"game\": \"go\", \"players\": [\"random\", \"random\"], \"colour\": 1}",
                Some("application/json"),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            bad(
                "{\"game\": \"go\", \"players\": [\"random\"]}",
                Some("application/json"),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            bad(
                "{\"game\": \"go\", \"players\": [\"random\", \"random\"]}",
                None,
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
    ] {
        let (s, ct, body) = send(&app, req).await;
        assert_eq!(s, want, "{body}");
        assert!(ct.starts_with("application/json"), "{ct}");
        let v: Value = serde_json::from_str(&body).unwrap();
        error_of(&v);
    }
    let cases = [
        (
            json!({"game": "chess", "players": ["random", "random"]}),
            StatusCode::BAD_REQUEST,
            "unknown game",
        ),
        (
            json!({"game": "go", "size": 4, "players": ["random", "random"]}),
            StatusCode::BAD_REQUEST,
            "sizes 5 to 19",
        ),
        (
            json!({"game": "go", "size": 20, "players": ["random", "random"]}),
            StatusCode::BAD_REQUEST,
            "sizes 5 to 19",
        ),
        (
            json!({"game": "go", "players": ["randomm", "random"]}),
            StatusCode::BAD_REQUEST,
            "accepted forms",
        ),
        (
            json!({"game": "go", "players": ["random", "uct:lots"]}),
            StatusCode::BAD_REQUEST,
            "uct:lots",
        ),
        (
            json!({"game": "go", "players": ["uct:0", "random"]}),
            StatusCode::BAD_REQUEST,
            "at least 1 simulation",
        ),
        (
            json!({"game": "go", "players": ["", "random"]}),
            StatusCode::BAD_REQUEST,
            "empty player spec",
        ),
        (
            json!({"game": "connect_four", "players": ["random", "uct:99999999"]}),
            StatusCode::BAD_REQUEST,
            "tree nodes",
        ),
        (
            json!({"game": "go", "players": ["gtp:\"/usr/games/gnugo --mode gtp\"", "random"]}),
            StatusCode::FORBIDDEN,
            "--allow-engines",
        ),
        (
            json!({"game": "connect_four", "size": 9, "players": ["random", "random"]}),
            StatusCode::BAD_REQUEST,
            "no size",
        ),
        (
            json!({"game": "go", "players": ["random", "random"], "delay_ms": 60000}),
            StatusCode::BAD_REQUEST,
            "delay_ms",
        ),
    ];
    for (body, want, words) in cases {
        let (s, v) = post(&app, "/api/matches", body.clone()).await;
        assert_eq!(s, want, "{body}: {v}");
        assert!(error_of(&v).contains(words), "{body}: {v}");
    }
    for (uri, want) in [
        ("/api/matches/abc", StatusCode::BAD_REQUEST),
        ("/api/matches/99999", StatusCode::NOT_FOUND),
        ("/api/matches/99999/events", StatusCode::NOT_FOUND),
        ("/api/matches/-1/sgf", StatusCode::BAD_REQUEST),
        ("/api/episodes/nope", StatusCode::BAD_REQUEST),
        ("/api/episodes/7/events", StatusCode::NOT_FOUND),
    ] {
        let (s, v) = get(&app, uri).await;
        assert_eq!(s, want, "{uri}: {v}");
        error_of(&v);
    }
    for (body, words) in [
        (json!({"env": "NoSuchEnv-v9"}), "NoSuchEnv-v9"),
        (json!({"env": "CartPole-v1", "max_steps": 0}), "max_steps"),
        (json!({"env": "CartPole-v1", "agent": "nobody"}), "nobody"),
        (
            json!({"env": "CartPole-v1", "options": ["gravity"]}),
            "gravity",
        ),
        (json!({"env": "gym:CartPole-v1"}), "--allow-engines"),
    ] {
        let (s, v) = post(&app, "/api/episodes", body.clone()).await;
        assert!(s.is_client_error(), "{body}: {s} {v}");
        assert!(error_of(&v).contains(words), "{body}: {v}");
    }
}

async fn wait_done(app: &Router, uri: &str) -> Value {
    let t = Instant::now();
    loop {
        let (s, v) = get(app, uri).await;
        assert_eq!(s, StatusCode::OK);
        if v["status"] != "running" {
            return v;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "{uri} still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_go_match_streams_start_moves_end_and_its_sgf() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let (s, m) = post(
        &app,
        "/api/matches",
        json!({"game": "go", "size": 9, "players": ["random", "uct:40"], "seed": 5, "delay_ms": 2}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let id = m["id"].as_u64().unwrap();
    assert_eq!(m["game"], "go");
    assert_eq!(m["size"], 9);
    assert_eq!(m["players"], json!(["random", "uct:40"]));
    // Follow it live from the start (it pauses 2 ms a move).
    let evs = sse(
        &app,
        &format!("/api/matches/{id}/events"),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(evs.first().unwrap().0, "start");
    assert_eq!(evs.last().unwrap().0, "end");
    let moves: Vec<&Value> = evs
        .iter()
        .filter(|(n, _)| n == "move")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(moves.len() + 2, evs.len(), "start, moves, end");
    assert!(moves.len() > 10);
    for (i, mv) in moves.iter().enumerate() {
        assert_eq!(mv["n"], i + 1);
        assert_eq!(mv["seat"], i % 2);
        assert_eq!(mv["board"]["cells"].as_str().unwrap().len(), 81);
        // uct:40 moves second: its moves carry an analysis, random's none.
        if i % 2 == 1 {
            let a = &mv["analysis"];
            assert_eq!(a["player"], 1);
            let c = a["candidates"].as_array().unwrap();
            assert!(!c.is_empty());
            let visits: u64 = c.iter().map(|c| c["visits"].as_u64().unwrap()).sum();
            assert!(a["visits"].as_u64().unwrap() >= 40, "{a}");
            assert!(
                visits >= 1 && visits <= a["visits"].as_u64().unwrap(),
                "{a}"
            );
            let wr = a["first_winrate"].as_f64().unwrap();
            assert!((0.0..=100.0).contains(&wr));
            assert!(c[0]["name"].is_string() && c[0]["prior"].is_number());
        } else {
            assert!(mv["analysis"].is_null());
        }
    }
    let stones = moves.last().unwrap()["board"]["cells"]
        .as_str()
        .unwrap()
        .chars()
        .filter(|&c| c != '.')
        .count();
    assert!(stones > 5);
    let end = &evs.last().unwrap().1;
    let result = end["result"].as_str().unwrap();
    assert!(
        result.starts_with("B+") || result.starts_with("W+") || result == "0",
        "{end}"
    );
    assert!(end["score"].is_number());
    assert_eq!(end["moves"], moves.len());
    assert_eq!(end["has_record"], true);

    // The kept match: same events, finished.
    let v = wait_done(&app, &format!("/api/matches/{id}")).await;
    assert_eq!(v["status"], "finished");
    assert_eq!(v["end"]["result"], result);
    assert_eq!(v["log"].as_array().unwrap().len(), evs.len());
    // A client that reconnects after event k gets the rest only.
    let req = Request::get(format!("/api/matches/{id}/events"))
        .header("last-event-id", (evs.len() - 2).to_string())
        .body(Body::empty())
        .unwrap();
    let (_, _, tail) = send(&app, req).await;
    assert!(tail.contains("event: end") && !tail.contains("event: move"));

    let (s, ct, sgf) = send(
        &app,
        Request::get(format!("/api/matches/{id}/sgf"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ct, "application/x-go-sgf");
    assert!(sgf.starts_with("(;") && sgf.contains("SZ[9]"), "{sgf}");
    assert!(sgf.contains(&format!("RE[{result}]")), "{sgf}");
    assert!(sgf.contains("PB[random]") && sgf.contains("PW[uct:40]"));
    // The list shows it.
    let (_, l) = get(&app, "/api/matches").await;
    assert_eq!(l["matches"][0]["id"], id);
    assert_eq!(l["matches"][0]["status"], "finished");
}

#[tokio::test]
async fn a_connect_four_match_has_no_sgf() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let (s, m) = post(
        &app,
        "/api/matches",
        json!({"game": "connect_four", "players": ["uct:30", "random"], "seed": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    let id = m["id"].as_u64().unwrap();
    let v = wait_done(&app, &format!("/api/matches/{id}")).await;
    assert_eq!(v["status"], "finished", "{v}");
    let log = v["log"].as_array().unwrap();
    assert_eq!(log[0]["event"], "start");
    assert_eq!(log[0]["data"]["board"]["cells"], ".".repeat(42));
    let last_move = &log[log.len() - 2]["data"];
    assert_eq!(last_move["board"]["rows"], 6);
    assert!(v["end"]["result"].is_string());
    let (s, v) = get(&app, &format!("/api/matches/{id}/sgf")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    error_of(&v);
}

#[tokio::test]
async fn running_matches_are_bounded_and_clients_can_leave() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app_with(tmp.path(), 1, false, None);
    let slow = json!({"game": "go", "size": 5, "players": ["random", "random"], "delay_ms": 150});
    let (s, m) = post(&app, "/api/matches", slow.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    // A client that reads a little and goes away.
    let _ = sse(
        &app,
        &format!("/api/matches/{}/events", m["id"]),
        Duration::from_millis(300),
    )
    .await;
    let (s, v) = post(&app, "/api/matches", slow.clone()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(error_of(&v).contains("--max-matches"));
    let (s, _) = post(&app, "/api/episodes", json!({"env": "CartPole-v1"})).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // The first match goes on without its client and frees the slot when done.
    let v = wait_done(&app, &format!("/api/matches/{}", m["id"])).await;
    assert_eq!(v["status"], "finished");
    let (_, h) = get(&app, "/api/health").await;
    let t = Instant::now();
    let mut free = h["free_slots"].as_u64().unwrap();
    while free == 0 && t.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        free = get(&app, "/api/health").await.1["free_slots"]
            .as_u64()
            .unwrap();
    }
    assert_eq!(free, 1);
    let (s, _) = post(
        &app,
        "/api/matches",
        json!({"game": "go", "size": 5, "players": ["random", "random"]}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn the_token_and_the_host_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app_with(tmp.path(), 2, false, Some("s3cret"));
    let (s, v) = get(&app, "/api/runs").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(error_of(&v).contains("token"));
    let (s, _) = get(&app, "/api/runs?token=wrong").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = send(&app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = get(&app, "/api/runs?token=s3cret").await;
    assert_eq!(s, StatusCode::OK);
    let req = Request::get("/api/runs")
        .header("authorization", "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.0, StatusCode::OK);
    // Without a token (loopback), a foreign Host is refused (DNS rebinding).
    let open = app_with(tmp.path(), 2, false, None);
    for (host, want) in [
        ("evil.example:8080", StatusCode::FORBIDDEN),
        ("127.0.0.1:8080", StatusCode::OK),
        ("localhost:8080", StatusCode::OK),
        ("[::1]:8080", StatusCode::OK),
    ] {
        let req = Request::get("/api/health")
            .header("host", host)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&open, req).await.0, want, "{host}");
    }
    assert_eq!(ember_serve::new_token().unwrap().len(), 32);
    assert_ne!(
        ember_serve::new_token().unwrap(),
        ember_serve::new_token().unwrap()
    );
}

#[tokio::test]
async fn a_random_breakout_episode_streams_frames_with_the_legend() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app(tmp.path());
    let (s, e) = post(
        &app,
        "/api/episodes",
        json!({"env": "Breakout-v0", "seed": 2, "max_steps": 30}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["actions"], 6);
    let legend: Vec<&str> = e["legend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(legend.len(), 4, "{legend:?}");
    let evs = sse(
        &app,
        &format!("/api/episodes/{}/events", e["id"]),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(evs[0].0, "start");
    assert_eq!(evs[0].1["frame"]["width"], 10);
    let end = &evs.last().unwrap().1;
    assert_eq!(evs.last().unwrap().0, "end");
    let steps: Vec<&Value> = evs
        .iter()
        .filter(|(n, _)| n == "step")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(steps.len() as u64, end["steps"].as_u64().unwrap());
    assert!(steps.len() <= 30);
    let mut ret = 0.0;
    for (i, s) in steps.iter().enumerate() {
        assert_eq!(s["t"], i + 1);
        ret += s["reward"].as_f64().unwrap();
        assert!((s["return"].as_f64().unwrap() - ret).abs() < 1e-6);
        assert!(s["action"].as_u64().unwrap() < 6);
        assert!(s["outputs"].is_null(), "the random agent has no network");
        // 10x10 RGB, base64: 300 bytes -> 400 characters.
        assert_eq!(s["frame"]["rgb"].as_str().unwrap().len(), 400);
    }
}

#[tokio::test]
async fn a_trained_ppo_agent_shows_its_action_probabilities() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path();
    let exp = ember_run::Experiment::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../experiments/ppo_cartpole.toml"),
        &[
            "train.total_steps=512".into(),
            "train.eval_every=256".into(),
            "train.checkpoint_every=256".into(),
            "train.eval_episodes=1".into(),
        ],
    )
    .unwrap();
    let dir = runs.join("ppo_tiny");
    let opts = ember_run::TrainOptions {
        run_dir: Some(dir.clone()),
        ..Default::default()
    };
    tokio::task::spawn_blocking(move || ember_run::train(&exp, &opts).unwrap())
        .await
        .unwrap();
    let app = app(runs);
    let (_, v) = get(&app, "/api/runs/ppo_tiny").await;
    assert_eq!(v["status"], "finished");
    assert!(
        v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "charts/episodic_return")
    );
    let (s, e) = post(
        &app,
        "/api/episodes",
        json!({"env": "CartPole-v1", "agent": "ppo_tiny", "max_steps": 20}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let evs = sse(
        &app,
        &format!("/api/episodes/{}/events", e["id"]),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(evs.last().unwrap().0, "end", "{evs:?}");
    for (_, s) in evs.iter().filter(|(n, _)| n == "step") {
        let o = &s["outputs"];
        assert_eq!(o["kind"], "probabilities");
        let p: Vec<f64> = o["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(p.len(), 2);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{p:?}");
        // Greedy: the chosen action is the most probable one.
        let best = if p[0] >= p[1] { 0 } else { 1 };
        assert_eq!(s["action"], best);
        assert_eq!(s["frame"]["width"], 120);
    }
}

#[tokio::test]
async fn a_running_match_or_episode_can_be_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let app = app_with(tmp.path(), 2, false, None);
    let (s, m) = post(
        &app,
        "/api/matches",
        json!({"game": "go", "size": 9, "players": ["random", "random"], "delay_ms": 500}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, e) = post(
        &app,
        "/api/episodes",
        json!({"env": "CartPole-v1", "max_steps": 10000, "delay_ms": 500}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    for (kind, id) in [("matches", &m["id"]), ("episodes", &e["id"])] {
        let (s, v) = post(&app, &format!("/api/{kind}/{id}/stop"), json!({})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        assert_eq!(v["stopping"], true);
        let v = wait_done(&app, &format!("/api/{kind}/{id}")).await;
        assert_eq!(v["status"], "failed", "{v}");
        assert!(
            v["failed"]["error"].as_str().unwrap().contains("stopped"),
            "{v}"
        );
        let log = v["log"].as_array().unwrap();
        assert_eq!(log.last().unwrap()["event"], "failed");
        assert!(log.len() < 10, "it stopped early: {} events", log.len());
        // Stopping what has ended is a conflict; both slots are free again.
        let (s, v) = post(&app, &format!("/api/{kind}/{id}/stop"), json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
    }
    let (s, _) = post(&app, "/api/matches/12345/stop", json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A match the process plays itself (`ember match --serve`), told through a `MatchFeed`: each
/// game is a job of its own with `attached`, linked to the next; it streams like a page-started
/// match, cannot be stopped from the page, and a feed dropped mid-game fails its game.
#[tokio::test]
async fn a_fed_match_shows_each_game_as_a_job() {
    use ember_envs::games::ConnectFour;
    use ember_run::matches::{MatchEvent, MatchOptions, play_match};
    let st = AppState::without_runs(None);
    let store = st.matches.clone();
    let app = router(st);
    let feed_store = store.clone();
    let player = std::thread::spawn(move || {
        let mut feed = ember_serve::matches::MatchFeed::new(
            feed_store,
            ConnectFour::new(),
            ["uct:20".into(), "random".into()],
            2,
            json!({ "seed": 5 }),
        );
        let c4 = ConnectFour::new();
        let mut a = ember_run::players::make_player("uct:20", &c4, 1).unwrap();
        let mut b = ember_run::players::make_player("random", &c4, 2).unwrap();
        let opts = MatchOptions {
            games: 2,
            alternate: true,
            seed: 5,
            move_time: None,
        };
        play_match(
            &mut ConnectFour::new,
            a.as_mut(),
            b.as_mut(),
            &opts,
            &mut |e| {
                feed.event(&e);
                if matches!(e, MatchEvent::Move { .. }) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            },
        )
        .unwrap()
    });
    // Game 1 streams from its start to its end while it is played.
    let t = Instant::now();
    while store.get(1).is_none() {
        assert!(t.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ev = sse(&app, "/api/matches/1/events", Duration::from_secs(60)).await;
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"start"));
    assert_eq!(names.last(), Some(&"end"));
    assert!(names.len() >= 9, "{names:?}");
    let start = &ev[0].1;
    assert_eq!(start["game"], "connect_four");
    assert_eq!(start["seed"], 5);
    assert_eq!(start["players"], json!(["uct:20", "random"]));
    assert_eq!(start["attached"], json!({"game": 1, "games": 2}));
    assert_eq!(start["board"]["cells"].as_str().unwrap().len(), 42);
    assert!(!ev[1].1["analysis"].is_null(), "uct:20 moves first");
    player.join().unwrap();
    let (s, list) = get(&app, "/api/matches").await;
    assert_eq!(s, StatusCode::OK);
    let games = list["matches"].as_array().unwrap();
    assert_eq!(games.len(), 2);
    assert_eq!(games[1]["next"], games[0]["id"]);
    assert_eq!(games[0]["players"], json!(["random", "uct:20"]), "swapped");
    assert_eq!(games[0]["status"], "finished");
    let (s, v) = post(&app, "/api/matches/2/stop", json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(error_of(&v).contains("ember match --serve"), "{v}");
    // No runs directory: no runs, and az: players from the page find none.
    let (s, v) = get(&app, "/api/runs").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["root"].is_null() && v["runs"] == json!([]), "{v}");
    let (s, v) = post(
        &app,
        "/api/matches",
        json!({"game": "connect_four", "players": ["az:x", "random"]}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    // A feed dropped in the middle of a game fails that game.
    let mut feed = ember_serve::matches::MatchFeed::new(
        store.clone(),
        ConnectFour::new(),
        ["random".into(), "random".into()],
        1,
        json!({}),
    );
    let names = ["random".to_string(), "random".to_string()];
    feed.event(&MatchEvent::GameStart {
        game: 0,
        names: &names,
        swapped: false,
    });
    let id = feed.current().unwrap();
    drop(feed);
    let v = wait_done(&app, &format!("/api/matches/{id}")).await;
    assert_eq!(v["status"], "failed", "{v}");
    assert!(v["failed"]["error"].as_str().unwrap().contains("stopped"));
}
