//! A pooled client's connection survives every refusal: after a request whose body Roster
//! refuses (wrong key, another workspace's key, unknown workspace or route, malformed, too
//! large), the same HTTP/1.1 connection carries the next request, or the answer said
//! `Connection: close`. Spoken over a raw socket so that no client library's retry hides
//! a silently closed connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::{cli_tenant, Server, ADMIN_TOKEN};

const LIMIT: usize = 2 * 1024 * 1024;

struct Answer {
    status: u16,
    close: bool,
}

/// One keep-alive HTTP/1.1 connection.
struct Connection {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(base: &str) -> Connection {
        let address = base.trim_start_matches("http://");
        let stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Connection {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// Sends a request and reads its answer; `None` if the connection was closed first.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Option<Answer> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: roster\r\nContent-Length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        // A server that answers early may stop reading; the answer still comes.
        let mut writer = self.writer.try_clone().unwrap();
        let sending = std::thread::spawn(move || writer.write_all(&request).is_ok());
        let answer = self.read_answer();
        let _ = sending.join();
        answer
    }

    fn read_answer(&mut self) -> Option<Answer> {
        let mut status_line = String::new();
        if self.reader.read_line(&mut status_line).ok()? == 0 {
            return None;
        }
        let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
        let mut length = 0;
        let mut close = false;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).ok()?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':')?;
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().ok()?,
                "connection" => close = value.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).ok()?;
        Some(Answer { status, close })
    }

    /// True when the peer has closed the connection.
    fn closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
    }
}

#[test]
fn refused_requests_leave_the_connection_usable_or_say_close() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Pool");
    let (other, other_key) = cli_tenant(dir.path(), None, "Elsewhere");
    let server = Server::start(dir.path(), None);
    let admin = format!("Bearer {ADMIN_TOKEN}");
    let bearer = format!("Bearer {key}");
    let other_bearer = format!("Bearer {other_key}");
    let json = ("content-type", "application/json");
    // (what, method, path, headers): each is refused, whatever the body.
    type Refusal<'a> = (&'a str, &'a str, String, Vec<(&'a str, &'a str)>);
    let refusals: Vec<Refusal> = vec![
        (
            "chatcaptain: no key",
            "POST",
            format!("/v1/chatbots/{workspace}/contacts"),
            vec![json],
        ),
        (
            "chatcaptain: another workspace's key",
            "POST",
            format!("/v1/chatbots/{workspace}/contacts"),
            vec![json, ("x-chatcaptain-key", &other_key)],
        ),
        (
            "chatcaptain: unknown workspace",
            "POST",
            "/v1/chatbots/999/contacts".into(),
            vec![json, ("x-chatcaptain-key", &key)],
        ),
        (
            "chatwoot: wrong token",
            "POST",
            format!("/api/v1/accounts/{workspace}/contacts"),
            vec![json, ("api_access_token", "rk_1_nope")],
        ),
        (
            "chatwoot: another account's token",
            "POST",
            format!("/api/v1/accounts/{other}/contacts"),
            vec![json, ("api_access_token", &key)],
        ),
        (
            "saleschat: no key",
            "POST",
            format!("/v2/org/{workspace}/contact"),
            vec![json],
        ),
        (
            "saleschat: another org's key",
            "POST",
            format!("/v2/org/{workspace}/contact"),
            vec![json, ("authorization", &other_bearer)],
        ),
        (
            "admin: wrong token",
            "POST",
            format!("/admin/v1/workspaces/{workspace}/users"),
            vec![json, ("authorization", &bearer)],
        ),
        (
            "admin: unknown workspace",
            "POST",
            "/admin/v1/workspaces/999/users".into(),
            vec![json, ("authorization", &admin)],
        ),
        ("unknown route", "POST", "/v9/nothing".into(), vec![json]),
        (
            "chatcaptain: malformed",
            "POST",
            format!("/v1/chatbots/{workspace}/contacts"),
            vec![json, ("x-chatcaptain-key", &key)],
        ),
        (
            "chatwoot: malformed",
            "POST",
            format!("/api/v1/accounts/{workspace}/contacts"),
            vec![json, ("api_access_token", &key)],
        ),
        (
            "saleschat: malformed",
            "POST",
            format!("/v2/org/{workspace}/contact"),
            vec![json, ("authorization", &bearer)],
        ),
        (
            "admin: malformed",
            "POST",
            format!("/admin/v1/workspaces/{workspace}/users"),
            vec![json, ("authorization", &admin)],
        ),
    ];
    // Bodies that are never valid: "[" followed by padding, from empty to past the limit.
    let sizes = [0, 1, 100 * 1024, LIMIT - 1, LIMIT, LIMIT + 1, 3 * LIMIT / 2];
    let mut connection = Connection::open(&server.base);
    for (what, method, path, headers) in &refusals {
        for &size in &sizes {
            let mut body = vec![b' '; size];
            if size > 0 {
                body[0] = b'[';
            }
            let answer = connection
                .send(method, path, headers, &body)
                .unwrap_or_else(|| {
                    panic!("{what}, {size} bytes: the connection closed without an answer")
                });
            assert!(
                (400..500).contains(&answer.status),
                "{what}, {size} bytes: {}",
                answer.status
            );
            if size > LIMIT && what.ends_with("malformed") {
                assert_eq!(answer.status, 413, "{what}, {size} bytes");
            }
            if answer.close {
                assert!(
                    connection.closed(),
                    "{what}: said close but kept the connection"
                );
                connection = Connection::open(&server.base);
                continue;
            }
            let next = connection
                .send("GET", "/healthz", &[], b"")
                .unwrap_or_else(|| {
                    panic!("{what}, {size} bytes: closed silently after the answer")
                });
            assert_eq!(next.status, 200, "{what}, {size} bytes");
        }
    }
}

#[tokio::test]
async fn a_pooled_client_alternating_refused_creates_and_reads_never_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (workspace, key) = cli_tenant(dir.path(), None, "Pool");
    let (_, other_key) = cli_tenant(dir.path(), None, "Elsewhere");
    let server = Server::start(dir.path(), None);
    // One connection at most, reused for every request, as `requests.Session` does.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .http1_only()
        .build()
        .unwrap();
    let contacts = format!("{}/v1/chatbots/{workspace}/contacts", server.base);
    for size in [100 * 1024, 3 * 1024 * 1024] {
        let body = format!(
            "{{\"name\": \"{}\", \"language\": \"EN\"}}",
            "x".repeat(size)
        );
        for round in 0..10 {
            let refused = client
                .post(&contacts)
                .header("x-chatcaptain-key", &other_key)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap_or_else(|err| panic!("{size} bytes, round {round}: {err}"));
            assert_eq!(refused.status(), 403);
            let listed = client
                .get(&contacts)
                .header("x-chatcaptain-key", &key)
                .send()
                .await
                .unwrap_or_else(|err| panic!("{size} bytes, round {round}: {err}"));
            assert_eq!(listed.status(), 200);
        }
    }
}
