//! The routes: the page and its assets, and the JSON API (`docs/cli.md`, "ember serve", lists
//! every route with its JSON shape and SSE event names).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::assets;
use crate::episodes::{self, EpisodeRequest};
use crate::error::{ApiError, ApiResult};
use crate::events::{resume_from, sse_stream};
use crate::matches::{self, MatchRequest};
use crate::runs::{RunInfo, Sent, fingerprint, read_curves, scalars};
use crate::store::{Job, Store};

/// How often a run's live stream looks for new events.
pub const RUN_POLL: Duration = Duration::from_secs(2);

/// The whole app for `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{name}", get(assets::asset))
        .route("/api/health", get(health))
        .route("/api/envs", get(list_envs))
        .route("/api/runs", get(list_runs))
        .route("/api/runs/{id}", get(get_run))
        .route("/api/runs/{id}/scalars", get(run_scalars))
        .route("/api/runs/{id}/events", get(run_events))
        .route("/api/matches", get(list_matches).post(start_match))
        .route("/api/matches/{id}", get(get_match))
        .route("/api/matches/{id}/events", get(match_events))
        .route("/api/matches/{id}/sgf", get(match_sgf))
        .route("/api/matches/{id}/stop", post(stop_match))
        .route("/api/episodes", get(list_episodes).post(start_episode))
        .route("/api/episodes/{id}", get(get_episode))
        .route("/api/episodes/{id}/events", get(episode_events))
        .route("/api/episodes/{id}/stop", post(stop_episode))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; the API is under /api/ (see docs/cli.md, ember serve)")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route",
    )
}

/// Whether `host` (a `Host` header) names this machine's loopback.
fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The token a request carries: `Authorization: Bearer T`, `X-Ember-Token: T` or `?token=T`.
fn request_token(req: &Request) -> Option<String> {
    let h = req.headers();
    if let Some(t) = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(t.trim().to_string());
    }
    if let Some(t) = h.get("x-ember-token").and_then(|v| v.to_str().ok()) {
        return Some(t.trim().to_string());
    }
    req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_string)
    })
}

/// Equal in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Every request: with a token, it must carry it; without (loopback), its `Host` must be a
/// loopback name. Responses are never cached and never framed by other sites.
async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    match &st.token {
        Some(t) => {
            if !request_token(&req).is_some_and(|got| same(&got, t)) {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "this server needs its access token (printed at start): header `Authorization: Bearer TOKEN` or `?token=TOKEN`",
                )
                .into_response();
            }
        }
        None => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("localhost");
            if !loopback_host(host) {
                return ApiError::forbidden(format!(
                    "Host `{host}` is not a loopback name; this server only answers on loopback (start it with --host to serve others, with a token)"
                ))
                .into_response();
            }
        }
    }
    let mut res = json_errors(next.run(req).await).await;
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// A 4xx or 5xx that is not JSON yet (an extractor's rejection, in plain text) becomes
/// `{"error": TEXT}`.
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let text = match axum::body::to_bytes(res.into_body(), 64 * 1024).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    let text = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        text
    };
    ApiError::new(status, text).into_response()
}

async fn health(State(st): State<AppState>) -> Json<Value> {
    Json(json!({
        "ok": true,
        "runs": st.runs.path().map(|p| p.display().to_string()),
        "allow_engines": st.allow_engines,
        "free_slots": st.running.available_permits(),
    }))
}

/// The environments an episode can be played in (`ember envs`).
async fn list_envs() -> Json<Value> {
    let envs: Vec<Value> = ember_envs::registry::specs()
        .iter()
        .map(|s| json!({ "id": s.id, "description": s.description }))
        .collect();
    Json(json!({ "envs": envs }))
}

// --- runs ---------------------------------------------------------------------------------------

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the request's worker failed: {e}")))?
}

async fn list_runs(State(st): State<AppState>) -> ApiResult<Json<Value>> {
    let runs = st.runs.clone();
    let list = blocking(move || Ok(runs.list())).await?;
    Ok(Json(json!({
        "root": st.runs.path().map(|p| p.display().to_string()),
        "runs": list,
    })))
}

fn run_detail(dir: &std::path::Path, id: &str) -> Value {
    let info = RunInfo::read(dir);
    let mut v = info.brief(id);
    v["config"] = info.config.clone();
    v["config_toml"] = json!(info.config_text);
    v
}

async fn get_run(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let dir = st.runs.resolve(&id)?;
    blocking(move || {
        let mut v = run_detail(&dir, &id);
        let tags: Vec<String> = scalars(&dir, None)
            .map(|s| s.into_keys().collect())
            .unwrap_or_default();
        v["tags"] = json!(tags);
        Ok(Json(v))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScalarQuery {
    /// Comma-separated tags; all when absent.
    tags: Option<String>,
    #[allow(dead_code)]
    token: Option<String>,
}

fn tag_list(q: &ScalarQuery) -> Option<Vec<String>> {
    q.tags.as_ref().map(|t| {
        t.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> ApiResult<T> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(format!("bad query: {}", e.body_text())))
}

async fn run_scalars(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<ScalarQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let q = query(q)?;
    let dir = st.runs.resolve(&id)?;
    let tags = tag_list(&q);
    blocking(move || {
        let s = scalars(&dir, tags.as_deref())?;
        Ok(Json(json!({ "run": id, "tags": s })))
    })
    .await
}

/// A run's live stream: `status` (the run's entry) at once and when its status or summary
/// changes; `scalars` at once with every point (`"replace": true`), then only the new points
/// (`"replace": false`) whenever its event files change (everything again if points already sent
/// changed); ends once the run is finished or killed.
async fn run_events(
    State(st): State<AppState>,
    Path(id): Path<String>,
    q: Result<Query<ScalarQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let q = query(q)?;
    let dir = st.runs.resolve(&id)?;
    let tags = tag_list(&q);
    let log = Arc::new(crate::events::EventLog::default());
    let producer = log.clone();
    // One poller per client; it stops when the client's stream is dropped (the log's only
    // other owner) or the run is no longer running.
    tokio::spawn(async move {
        let mut last = None;
        let mut sent = Sent::default();
        let mut shown: Option<(&'static str, Value)> = None;
        // Reads only what the event files gained since the last look.
        let mut reader = Some(ember_nets::tensorboard::ScalarReader::new(&dir));
        loop {
            if Arc::strong_count(&producer) == 1 {
                return;
            }
            let (d, i, t) = (dir.clone(), id.clone(), tags.clone());
            let fp = fingerprint(&d);
            if last != Some(fp)
                && let Some(mut rd) = reader.take()
            {
                last = Some(fp);
                let got = tokio::task::spawn_blocking(move || {
                    let info = RunInfo::read(&d);
                    let s = read_curves(&mut rd, t.as_deref());
                    (info.brief(&i), info.status, info.summary, s, rd)
                })
                .await;
                let Ok((brief, status, summary, s, rd)) = got else {
                    producer.finish();
                    return;
                };
                reader = Some(rd);
                // The status when it (or the summary) changed; the curves' new points.
                let now = (status, summary.unwrap_or(Value::Null));
                if shown.as_ref() != Some(&now) {
                    producer.push("status", brief);
                    shown = Some(now);
                }
                match s {
                    Ok(s) => {
                        let (replace, tags) = sent.update(s);
                        if replace || !tags.is_empty() {
                            producer.push("scalars", json!({ "replace": replace, "tags": tags }));
                        }
                    }
                    Err(e) => producer.push("failed", json!({ "error": e.message })),
                }
                if status != "running" {
                    producer.finish();
                    return;
                }
            }
            tokio::time::sleep(RUN_POLL).await;
        }
    });
    Ok(sse_stream(log, 0).into_response())
}

// --- matches and episodes -----------------------------------------------------------------------

fn body<T>(b: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    b.map(|Json(b)| b).map_err(|e| {
        ApiError::new(
            if e.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            } else {
                StatusCode::BAD_REQUEST
            },
            format!("bad request body: {}", e.body_text()),
        )
    })
}

fn job_id(id: &str, store: &Store, what: &str) -> ApiResult<Arc<Job>> {
    let n: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("`{id}` is not a {what} id (a number)")))?;
    store.get(n).ok_or_else(|| {
        ApiError::not_found(format!(
            "no {what} {n} (finished ones are kept only for a while)"
        ))
    })
}

fn job_brief(j: &Job) -> Value {
    let mut v = j.info.clone();
    v["id"] = json!(j.id);
    v["status"] = json!(j.status());
    v["events"] = json!(j.log.len());
    if let Some(next) = j.next.get() {
        v["next"] = json!(next);
    }
    let (last, _) = j.log.since(j.log.len().saturating_sub(1));
    if let Some(e) = last
        .last()
        .filter(|e| e.name == "end" || e.name == "failed")
    {
        v[e.name] = e.data.clone();
    }
    v
}

fn job_full(j: &Job) -> Value {
    let mut v = job_brief(j);
    let (events, _) = j.log.since(0);
    v["log"] = Value::Array(
        events
            .iter()
            .map(|e| json!({ "event": e.name, "data": e.data }))
            .collect(),
    );
    v
}

/// Starts a job on its own thread once `prepare` (run off the async threads) succeeds: takes a
/// running slot (429 when none is free), keeps it until the job ends.
async fn start_job<P: Send + 'static>(
    st: &AppState,
    store: Arc<Store>,
    what: &'static str,
    prepare: impl FnOnce() -> ApiResult<(Value, P)> + Send + 'static,
    play: impl FnOnce(P, &Job) + Send + 'static,
) -> ApiResult<Response> {
    let permit = st.running.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "every running slot is taken (--max-matches); wait for a match or episode to finish",
        )
    })?;
    let (info, prepared) = blocking(prepare).await?;
    let job = store.insert(info).ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("every kept {what} is still running; try again later"),
        )
    })?;
    let j = job.clone();
    std::thread::Builder::new()
        .name(format!("ember-{what}-{}", job.id))
        .spawn(move || {
            let _permit = permit;
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| play(prepared, &j)));
            if r.is_err() {
                j.log.push(
                    "failed",
                    json!({ "error": format!("the {what} stopped on an internal error") }),
                );
            }
            j.log.finish();
        })
        .map_err(|e| ApiError::internal(format!("could not start a thread: {e}")))?;
    Ok((StatusCode::CREATED, Json(job_brief(&job))).into_response())
}

async fn start_match(
    State(st): State<AppState>,
    b: Result<Json<MatchRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let req = body(b)?;
    let (runs, allow) = (st.runs.clone(), st.allow_engines);
    start_job(
        &st,
        st.matches.clone(),
        "match",
        move || {
            let p = matches::prepare(&req, &runs, allow)?;
            Ok((p.info, p.run))
        },
        |run, job| run(&job.log, &job.record, job.stop.clone()),
    )
    .await
}

/// `{KEY: [brief, …]}`, newest first.
fn job_list(store: &Store, key: &str) -> Json<Value> {
    let list: Vec<Value> = store.list().iter().map(|j| job_brief(j)).collect();
    Json(json!({ key: list }))
}

/// The job's brief with its whole log.
fn job_get(store: &Store, id: &str, what: &str) -> ApiResult<Json<Value>> {
    let j = job_id(id, store, what)?;
    Ok(Json(job_full(&j)))
}

/// The job's events as SSE, from the start or after `Last-Event-ID`.
fn job_events(store: &Store, id: &str, what: &str, headers: &HeaderMap) -> ApiResult<Response> {
    let j = job_id(id, store, what)?;
    Ok(sse_stream(j.log.clone(), resume_from(headers)).into_response())
}

/// Asks a running job to stop (it ends with a `failed` event at its next move or step):
/// 202 `{"id", "stopping": true}`, or 409 when it has already ended or is a game that
/// `ember match --serve` plays (it is stopped in its terminal).
fn job_stop(store: &Store, id: &str, what: &str) -> ApiResult<Response> {
    let j = job_id(id, store, what)?;
    if j.info.get("attached").is_some_and(|a| a.is_object()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{what} {} is played by `ember match --serve` in a terminal; stop it there (Ctrl-C)",
                j.id
            ),
        ));
    }
    if j.log.is_done() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{what} {} has already ended", j.id),
        ));
    }
    j.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": j.id, "stopping": true })),
    )
        .into_response())
}

async fn stop_match(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    job_stop(&st.matches, &id, "match")
}

async fn stop_episode(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    job_stop(&st.episodes, &id, "episode")
}

async fn list_matches(State(st): State<AppState>) -> Json<Value> {
    job_list(&st.matches, "matches")
}

async fn get_match(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    job_get(&st.matches, &id, "match")
}

async fn match_events(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    job_events(&st.matches, &id, "match", &headers)
}

async fn match_sgf(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let j = job_id(&id, &st.matches, "match")?;
    if j.info["game"] != "go" {
        return Err(ApiError::not_found("only Go matches have an SGF record"));
    }
    let sgf = j.record.lock().ok().and_then(|r| r.clone());
    match sgf {
        Some(s) => Ok((
            [
                (header::CONTENT_TYPE, "application/x-go-sgf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"ember-match-{}.sgf\"", j.id),
                ),
            ],
            s,
        )
            .into_response()),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "the game has not finished yet (or stopped on an error): no SGF",
        )),
    }
}

async fn start_episode(
    State(st): State<AppState>,
    b: Result<Json<EpisodeRequest>, JsonRejection>,
) -> ApiResult<Response> {
    let req = body(b)?;
    let (runs, allow) = (st.runs.clone(), st.allow_engines);
    start_job(
        &st,
        st.episodes.clone(),
        "episode",
        move || {
            let p = episodes::prepare(&req, &runs, allow)?;
            Ok((p.info.clone(), p))
        },
        |p, job| p.play(&job.log, &job.stop),
    )
    .await
}

async fn list_episodes(State(st): State<AppState>) -> Json<Value> {
    job_list(&st.episodes, "episodes")
}

async fn get_episode(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    job_get(&st.episodes, &id, "episode")
}

async fn episode_events(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    job_events(&st.episodes, &id, "episode", &headers)
}
