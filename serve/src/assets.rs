//! The page's files, embedded in the binary at build time (no Node, no files read at run time):
//! `index.html`, `app.js`, `app.css`, and the vendored uPlot (MIT; see `assets/vendor/uplot/`).
//! Only these names are served, so an asset path can name nothing else.

use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::error::ApiError;

/// The page.
pub const INDEX_HTML: &str = include_str!("../assets/index.html");

/// `(name, content type, bytes)` of every asset under `/assets/`.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "board.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/board.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "uPlot.iife.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/vendor/uplot/uPlot.iife.min.js"),
    ),
    (
        "uPlot.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/vendor/uplot/uPlot.min.css"),
    ),
    (
        "uPlot.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/vendor/uplot/LICENSE"),
    ),
];

pub async fn index() -> Html<&'static str> {
    Html(INDEX_HTML)
}

pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, bytes)) => ([(header::CONTENT_TYPE, *ct)], *bytes).into_response(),
        None => ApiError::not_found(format!("no asset `{name}`")).into_response(),
    }
}
