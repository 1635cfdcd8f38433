//! Path and query-string parameters for every API, rejected in the API's own error format
//! (axum's own rejections are plain text). Each dialect names them with its error type,
//! as it does `JsonBody`: `PathParams<(String, String), CcError>`, `QueryPairs<CwError>`.

use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use percent_encoding::percent_decode_str;
use roster_core::Error;
use serde::de::DeserializeOwned;

/// Why a path whose parameters do not decode is refused.
pub const PATH_REASON: &str = "is not a valid path: every parameter must be percent-encoded UTF-8";

/// Path parameters of type `T`; a path that does not decode (bytes that are not UTF-8)
/// becomes `E::from(Error::Invalid)` naming `path`.
pub struct PathParams<T, E>(pub T, pub PhantomData<E>);

impl<S, T, E> FromRequestParts<S> for PathParams<T, E>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
    E: From<Error> + IntoResponse,
{
    type Rejection = E;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, E> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParams(value, PhantomData)),
            Err(_) => Err(E::from(Error::invalid("path", PATH_REASON))),
        }
    }
}

/// The query string as its `(name, value)` pairs, in order, decoded strictly: a value
/// that is not percent-encoded UTF-8 is refused (naming it), never silently replaced.
pub struct QueryPairs<E>(pub Vec<(String, String)>, pub PhantomData<E>);

impl<S, E> FromRequestParts<S> for QueryPairs<E>
where
    S: Send + Sync,
    E: From<Error> + IntoResponse,
{
    type Rejection = E;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, E> {
        let raw = parts.uri.query().unwrap_or_default();
        decode_query(raw)
            .map(|pairs| QueryPairs(pairs, PhantomData))
            .map_err(E::from)
    }
}

impl<E> QueryPairs<E> {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space) that refuses bytes that
/// are not UTF-8.
pub fn decode_query(raw: &str) -> Result<Vec<(String, String)>, Error> {
    let decode = |part: &str, what: &str| -> Result<String, Error> {
        let spaced = part.replace('+', " ");
        percent_decode_str(&spaced)
            .decode_utf8()
            .map(|text| text.into_owned())
            .map_err(|_| Error::invalid(what.to_owned(), "is not percent-encoded UTF-8"))
    };
    let mut pairs = Vec::new();
    for piece in raw.split('&').filter(|piece| !piece.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = decode(name, "query")?;
        let value = decode(value, &name)?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_like_forms() {
        assert_eq!(
            decode_query("q=max+mustermann&page=2&labels[]=a&labels%5B%5D=b&flag").unwrap(),
            vec![
                ("q".to_owned(), "max mustermann".to_owned()),
                ("page".to_owned(), "2".to_owned()),
                ("labels[]".to_owned(), "a".to_owned()),
                ("labels[]".to_owned(), "b".to_owned()),
                ("flag".to_owned(), String::new()),
            ]
        );
        assert_eq!(
            decode_query("q=%C3%BC%2B").unwrap(),
            vec![("q".to_owned(), "ü+".to_owned())]
        );
    }

    #[test]
    fn query_values_that_are_not_utf8_are_refused_by_name() {
        assert_eq!(
            decode_query("page=1&q=%FF").unwrap_err(),
            Error::invalid("q", "is not percent-encoded UTF-8")
        );
        assert_eq!(
            decode_query("%FF=1").unwrap_err(),
            Error::invalid("query", "is not percent-encoded UTF-8")
        );
    }
}
