//! The crate's errors: [`ServeError`] for starting the server, [`ApiError`] for one request
//! (a status code and a message, sent as `{"error": "…"}`).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use thiserror::Error;

/// What can stop the server from starting or serving.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("--runs {path}: {why}")]
    Runs { path: String, why: String },
    #[error("--host {host}: {why}")]
    Host { host: String, why: String },
    #[error("--max-matches must be at least 1")]
    MaxMatches,
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("could not draw an access token from the operating system: {0}")]
    Token(String),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// A request that failed: the status and a message naming the problem and what is accepted.
#[derive(Debug, Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// `Result` of a request handler.
pub type ApiResult<T> = Result<T, ApiError>;
