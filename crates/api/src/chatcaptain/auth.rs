//! ChatCaptain authentication: the `x-chatcaptain-key` header and the `chatbotId` path
//! parameter.

use axum::http::HeaderMap;

use super::error::CcError;
pub use crate::auth::*;

pub const KEY_HEADER: &str = "x-chatcaptain-key";

pub struct ChatCaptain;

impl Dialect for ChatCaptain {
    type Error = CcError;
    const NAME: &'static str = "chatcaptain";
    const WORKSPACE_PARAM: &'static str = "chatbotId";
    // The console's admin browses any workspace's contacts through this API.
    const ADMIN_TOKEN_ACTS: bool = true;

    fn presented_key(headers: &HeaderMap) -> Option<String> {
        headers
            .get(KEY_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    }
}

/// A ChatCaptain caller holding permission `P`.
pub type Auth<P> = Authorized<P, ChatCaptain>;
