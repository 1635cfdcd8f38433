//! JSON request bodies for every dialect: parsed with the path of the offending field, so
//! a wrong type or an unknown field is reported as "which field, why" in the dialect's
//! own error format instead of axum's plain-text rejection.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::IntoResponse;
use roster_core::Error;
use serde::de::DeserializeOwned;

/// A JSON body of type `T`; a body that does not parse becomes `E::from(Error::Invalid)`.
pub struct JsonBody<T, E>(pub T, pub PhantomData<E>);

impl<S, T, E> FromRequest<S> for JsonBody<T, E>
where
    S: Send + Sync,
    T: DeserializeOwned,
    E: From<Error> + IntoResponse,
{
    type Rejection = E;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            E::from(Error::invalid("body", rejection.body_text().to_lowercase()))
        })?;
        parse(&bytes)
            .map(|value| JsonBody(value, PhantomData))
            .map_err(E::from)
    }
}

/// Parses `bytes` as `T`, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid("body", "must be a JSON object"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() || path == "." || path == "?" {
            Error::invalid(
                "body",
                format!(
                    "is not valid JSON of the expected shape ({})",
                    without_position(&inner)
                ),
            )
        } else {
            Error::invalid(path, without_position(&inner))
        }
    })?;
    deserializer.end().map_err(|err| {
        Error::invalid(
            "body",
            format!(
                "is not valid JSON of the expected shape ({})",
                without_position(&err)
            ),
        )
    })?;
    Ok(value)
}

/// serde_json's message without its " at line 1 column 7" suffix.
fn without_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match message.find(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// Deserializes a field that may be absent (`None`), `null` (`Some(None)`) or a value,
/// which is what PATCH semantics need. Use with `#[serde(default, deserialize_with = …)]`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[allow(dead_code)]
        contact: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[allow(dead_code)]
        name: Option<String>,
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let err = parse::<Outer>(br#"{"contact": {"name": 5}}"#).unwrap_err();
        assert_eq!(
            err,
            Error::invalid(
                "contact.name",
                "invalid type: integer `5`, expected a string"
            )
        );
        let Error::Invalid { field, reason } =
            parse::<Outer>(br#"{"contact": {"nam": "x"}}"#).unwrap_err()
        else {
            panic!("expected Invalid")
        };
        assert_eq!(field, "contact.nam");
        assert!(reason.starts_with("unknown field `nam`"), "{reason}");
        assert_eq!(
            parse::<Outer>(b"").unwrap_err(),
            Error::invalid("body", "must be a JSON object")
        );
        let Error::Invalid { field, .. } =
            parse::<Outer>(b"{\"contact\": {}} trailing").unwrap_err()
        else {
            panic!("expected Invalid")
        };
        assert_eq!(field, "body");
    }
}
