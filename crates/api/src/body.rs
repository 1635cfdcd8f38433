//! JSON request bodies for every dialect: parsed with the path of the offending field, so
//! a wrong type or an unknown field is reported as "which field, why" in the dialect's
//! own error format instead of axum's plain-text rejection.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use roster_core::Error;
use serde::de::DeserializeOwned;

/// The largest request body any JSON endpoint reads (CSV imports stream and have none).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The sentence for a body over the limit, as every API words it.
pub fn too_large_sentence(limit_bytes: usize) -> String {
    format!("The request body is larger than the limit of {limit_bytes} bytes")
}

/// The sentence for a body declared as something other than JSON.
pub fn not_json_sentence(content_type: &str) -> String {
    format!("The body must be JSON sent as Content-Type: application/json, not {content_type}")
}

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
        let bytes = json_bytes(req, state).await?;
        parse(&bytes)
            .map(|value| JsonBody(value, PhantomData))
            .map_err(E::from)
    }
}

/// The raw bytes of a body declared as JSON (or not declared at all), within
/// [`MAX_BODY_BYTES`]. A body declared as anything else (a form, text) is refused rather
/// than guessed at; an empty body passes whatever its declared type.
pub async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Error> {
    let declared = declared_type(req.headers());
    let bytes =
        Bytes::from_request(req, state)
            .await
            .map_err(|rejection| match rejection.status() {
                StatusCode::PAYLOAD_TOO_LARGE => Error::TooLarge {
                    limit_bytes: MAX_BODY_BYTES,
                },
                _ => Error::invalid("body", "could not be read completely"),
            })?;
    match declared {
        Some(content_type)
            if !is_json(&content_type) && !bytes.iter().all(u8::is_ascii_whitespace) =>
        {
            Err(Error::UnsupportedMediaType { content_type })
        }
        _ => Ok(bytes),
    }
}

fn declared_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?;
    Some(String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
}

/// `application/json`, `application/<anything>+json`, with or without parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses `bytes` as `T`, naming the field at fault, in the API's words (never serde's
/// names for Rust types).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
    match first {
        None => return Err(Error::invalid("body", "must be a JSON object")),
        Some(b'{') => {}
        Some(_) if serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok() => {
            return Err(Error::invalid(
                "body",
                "must be a JSON object ({\"field\": value, …})",
            ))
        }
        Some(_) => return Err(not_json(bytes)),
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            not_json(bytes)
        } else if path == "." || path == "?" {
            Error::invalid("body", in_plain_words(&without_position(&inner)))
        } else {
            Error::invalid(path, in_plain_words(&without_position(&inner)))
        }
    })?;
    deserializer.end().map_err(|_| not_json(bytes))?;
    Ok(value)
}

/// A body that is not JSON at all: where the parser stopped, not what it expected.
fn not_json(bytes: &[u8]) -> Error {
    let position = match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        Err(err) if err.line() > 0 => {
            format!(" (at line {}, column {})", err.line(), err.column())
        }
        _ => String::new(),
    };
    Error::invalid(
        "body",
        format!("must be a JSON object; this is not valid JSON{position}"),
    )
}

/// serde's wording of what it expected, in JSON's terms: `struct CreateContact with 14
/// elements` is "a JSON object", `u32` "a whole number", `sequence` "an array".
fn in_plain_words(message: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut tokens = message.split(' ').peekable();
    while let Some(token) = tokens.next() {
        match token {
            "struct" | "map" | "map," if words.last().is_some_and(|w| w == "expected") => {
                // `expected struct Name [with N elements]`
                if token == "struct" {
                    tokens.next();
                    if tokens.peek() == Some(&"with") {
                        tokens.next();
                        tokens.next();
                        tokens.next();
                    }
                }
                words.push("a JSON object".into());
            }
            "sequence" | "sequence," => words.push(token.replacen("sequence", "array", 1)),
            "map" | "map," => words.push(token.replacen("map", "object", 1)),
            "a" if tokens.peek() == Some(&"sequence") => {
                tokens.next();
                words.push("an array".into());
            }
            "a" if tokens.peek() == Some(&"map") => {
                tokens.next();
                words.push("a JSON object".into());
            }
            "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "usize" | "isize" => {
                words.push("a whole number".into())
            }
            "f32" | "f64" => words.push("a number".into()),
            "enum" if words.last().is_some_and(|w| w == "expected") => {
                tokens.next();
                words.push("one of the accepted values".into());
            }
            _ => words.push(token.to_owned()),
        }
    }
    let sentence = words.join(" ");
    // An array given for an object is reported by serde as a wrong length.
    if sentence.starts_with("invalid length ") && sentence.ends_with("expected a JSON object") {
        return "invalid type: array, expected a JSON object".to_owned();
    }
    sentence
        .replace(
            "data did not match any variant of untagged enum",
            "is not of an accepted shape:",
        )
        .trim_end_matches(':')
        .to_owned()
}

/// serde_json's message without its " at line 1 column 7" suffix.
fn without_position(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match message.find(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

/// A nested JSON object read as `T`. serde would also read a struct from an array of its
/// fields in order (so `{"contact": []}` would pass as an empty patch); this refuses
/// anything but an object, naming the field, and keeps the paths of errors inside it.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(ObjectVisitor(PhantomData))
            .map(Object)
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

    #[test]
    fn errors_use_the_apis_words_not_rusts() {
        for body in [&b"[]"[..], b"\"text\"", b"5", b"null"] {
            assert_eq!(
                parse::<Outer>(body).unwrap_err(),
                Error::invalid("body", "must be a JSON object ({\"field\": value, …})")
            );
        }
        let Error::Invalid { field, reason } = parse::<Outer>(b"name=Max&email=x").unwrap_err()
        else {
            panic!("expected Invalid")
        };
        assert_eq!(field, "body");
        assert_eq!(
            reason,
            "must be a JSON object; this is not valid JSON (at line 1, column 2)"
        );
        let err = parse::<Outer>(br#"{"contact": []}"#).unwrap_err();
        assert_eq!(
            err,
            Error::invalid("contact", "invalid type: array, expected a JSON object")
        );
    }

    #[test]
    fn json_media_types_are_recognised() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("multipart/form-data; boundary=x"));
    }
}
