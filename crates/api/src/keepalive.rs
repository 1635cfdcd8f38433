//! Keeps HTTP/1.1 connections usable after a refused request. A handler that answers
//! before reading the whole body (a 401 for a wrong key, a 404, a 413 past the limit) leaves
//! the rest of the body on the connection; hyper then closes it after the answer without
//! saying so, and a pooled client's next request on it fails. This layer takes the body
//! back when the handler is done with it and reads what is left (up to [`DRAIN_LIMIT`],
//! within [`DRAIN_TIMEOUT`]) so the connection can carry the next request; when that is too
//! much or too slow, the answer says `Connection: close` so the client opens a new one.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};

use crate::body::MAX_BODY_BYTES;

/// How long the rest of a refused body may take to arrive before the connection is closed.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Most bytes read and discarded after a handler: twice the body limit, so that a body
/// refused unread, up to well past the limit, still leaves the connection usable.
pub const DRAIN_LIMIT: usize = 2 * MAX_BODY_BYTES;

/// Where a request body returns when the handler drops it.
type Slot = Arc<Mutex<Option<Body>>>;

/// A request body that hands itself back to `slot` when dropped.
struct Returning {
    inner: Option<Body>,
    slot: Slot,
}

impl HttpBody for Returning {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(inner);
        }
    }
}

/// The middleware: see the module documentation.
pub async fn drain_unread_bodies(request: Request, next: Next) -> Response {
    let slot: Slot = Arc::default();
    let request = request.map(|body| {
        Body::new(Returning {
            inner: Some(body),
            slot: Arc::clone(&slot),
        })
    });
    let mut response = next.run(request).await;
    // A body still held elsewhere (a streamed import goes on reading) is not ours to drain.
    let unread = slot
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .filter(|body| !body.is_end_stream());
    if let Some(body) = unread {
        if !drained(body).await {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}

/// Reads and discards the rest of `body`; false if it is more than [`DRAIN_LIMIT`], fails
/// or takes longer than [`DRAIN_TIMEOUT`].
async fn drained(body: Body) -> bool {
    let mut stream = body.into_data_stream();
    let read_all = async {
        let mut left = DRAIN_LIMIT;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) if bytes.len() <= left => left -= bytes.len(),
                _ => return false,
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIMEOUT, read_all)
        .await
        .unwrap_or(false)
}
