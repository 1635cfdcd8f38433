//! Webhook endpoints: what a workspace subscribes to, the secrets deliveries are signed
//! with (sealed at rest with the server's webhook key, so a database dump alone cannot
//! forge a signature), which addresses may be called, and when a failed delivery is
//! tried again. Sending is `roster-webhooks`' work; the queue lives in the store.

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::domain::{Timestamp, WorkspaceId};
use crate::error::{Error, Resource};
use crate::events::{Event, EventType};
use crate::service::Roster;
use crate::Result;

/// What a delivery's body looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFormat {
    /// The event as the feed shows it, signed as Standard Webhooks say.
    Roster,
    /// SalesChat's `{"type", "version", "payload"}` envelope, signed the same way.
    SalesChat,
    /// Chatwoot's account webhooks: its payloads and its signature headers.
    Chatwoot,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Roster => "roster",
            WebhookFormat::SalesChat => "saleschat",
            WebhookFormat::Chatwoot => "chatwoot",
        }
    }

    pub fn parse(text: &str) -> Option<WebhookFormat> {
        [
            WebhookFormat::Roster,
            WebhookFormat::SalesChat,
            WebhookFormat::Chatwoot,
        ]
        .into_iter()
        .find(|format| format.as_str() == text)
    }
}

/// Delivery attempts this node made since it started, for metrics.
#[derive(Debug, Default)]
pub struct DeliveryCounts {
    pub delivered: std::sync::atomic::AtomicU64,
    pub failed: std::sync::atomic::AtomicU64,
}

/// The outbox and the delivery queue, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Events written since the installation began (the highest event seq).
    pub events_written: i64,
    /// Deliveries waiting to be sent (or retried).
    pub queued: u64,
    /// When the oldest of them happened.
    pub oldest_queued: Option<Timestamp>,
}

/// A webhook endpoint as its workspace sees it (never its secret).
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    pub id: i64,
    pub workspace: WorkspaceId,
    pub url: String,
    pub format: WebhookFormat,
    /// The event types sent; `None` is every type.
    pub events: Option<Vec<EventType>>,
    /// `contact.updated` is sent only when one of these fields changed.
    pub fields: Option<Vec<String>>,
    /// A Chatwoot webhook's subscriptions, as its client named them.
    pub subscriptions: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why Roster disabled it (`410 Gone`, three days of failures); `None` if it did not.
    pub disabled_reason: Option<String>,
    /// When its current run of failed deliveries began.
    pub failing_since: Option<Timestamp>,
    pub created: Timestamp,
    pub updated: Timestamp,
}

impl Webhook {
    /// Whether this endpoint is sent `event` (its type subscribed, its fields filter met).
    pub fn wants(&self, event: &Event) -> bool {
        if let Some(events) = &self.events {
            if !events.contains(&event.event_type) {
                return false;
            }
        }
        match (&self.fields, event.event_type) {
            (Some(fields), EventType::ContactUpdated) => event
                .changed_fields()
                .any(|changed| fields.iter().any(|field| field == changed)),
            _ => true,
        }
    }
}

/// A new endpoint as the store receives it: the secret already sealed.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub format: WebhookFormat,
    pub events: Option<Vec<EventType>>,
    pub fields: Option<Vec<String>>,
    pub subscriptions: Option<Vec<String>>,
    pub description: Option<String>,
    pub sealed_secret: Vec<u8>,
}

/// A change to an endpoint; `None` leaves a value as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Option<Vec<EventType>>>,
    pub fields: Option<Option<Vec<String>>>,
    pub subscriptions: Option<Option<Vec<String>>>,
    pub description: Option<Option<String>>,
    /// Enabling also forgets why it was disabled and its failures.
    pub enabled: Option<bool>,
}

/// One event due to one endpoint, taken from the queue under a lease.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub webhook: Webhook,
    pub sealed_secret: Vec<u8>,
    pub event: Event,
    /// This attempt's number, from 1.
    pub attempt: i64,
}

/// How an attempt ended, as the sender reports it to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryOutcome {
    pub webhook_id: i64,
    pub event_seq: i64,
    pub attempt: i64,
    pub at: Timestamp,
    /// The endpoint's status code, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
    /// Sent (a 2xx), or skipped because the endpoint does not want it.
    pub delivered: bool,
    /// When to try again; `None` once delivered or given up.
    pub next_retry: Option<Timestamp>,
    /// Disable the endpoint, saying why.
    pub disable: Option<String>,
    /// Nothing was sent (the endpoint's filters left the event out): no attempt to log.
    pub skipped: bool,
}

/// One logged attempt, for an endpoint's delivery log.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub event_id: String,
    pub event_type: EventType,
    pub attempt: i64,
    pub at: Timestamp,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub next_retry: Option<Timestamp>,
}

/// How long a delivery is retried, from the event on; an endpoint failing this long is
/// disabled.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);
/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry's delay; each next one doubles, up to [`MAX_RETRY_DELAY`].
pub const FIRST_RETRY_DELAY: Duration = Duration::from_secs(5);
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(6 * 3600);

/// When to try again after failed attempt number `attempt` (from 1): 5 s, 10 s, 20 s, …
/// doubling up to 6 h, each moved by up to ±20% (`jitter` in -1..=1) so that endpoints
/// coming back are not hit by every retry at once. `None` past [`GIVE_UP_AFTER`] from
/// `occurred`.
pub fn next_retry(
    attempt: i64,
    occurred: Timestamp,
    now: Timestamp,
    jitter: f64,
) -> Option<Timestamp> {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(20);
    let delay = FIRST_RETRY_DELAY
        .saturating_mul(1 << doublings)
        .min(MAX_RETRY_DELAY)
        .mul_f64(1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
    let at = now.micros() + i64::try_from(delay.as_micros()).unwrap_or(i64::MAX);
    let give_up = occurred.micros() + GIVE_UP_AFTER.as_micros() as i64;
    (at <= give_up).then(|| Timestamp::from_micros(at))
}

/// Whether deliveries may go to `address` when private addresses are not allowed:
/// never loopback, private, link-local (cloud metadata lives there), unspecified,
/// multicast, shared (CGNAT) or documentation ranges, nor their IPv6 forms.
pub fn public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8)
        }
    }
}

/// The key webhook secrets are sealed with; kept outside the database (see the README).
#[derive(Clone)]
pub struct WebhookKey(Key);

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey(…)")
    }
}

const NONCE_LEN: usize = 12;

impl WebhookKey {
    /// A key from 32 bytes of key material.
    pub fn from_bytes(bytes: [u8; 32]) -> WebhookKey {
        WebhookKey(Key::from(bytes))
    }

    /// A key from a configured passphrase or encoded key: its SHA-256.
    pub fn from_text(text: &str) -> WebhookKey {
        use sha2::Digest;
        WebhookKey::from_bytes(sha2::Sha256::digest(text.as_bytes()).into())
    }

    /// A fresh random key, for a new installation.
    pub fn generate() -> Result<[u8; 32]> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(Error::internal)?;
        Ok(bytes)
    }

    /// `secret` encrypted and authenticated: a random nonce, then the ciphertext.
    pub fn seal(&self, secret: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(Error::internal)?;
        let sealed = ChaCha20Poly1305::new(&self.0)
            .encrypt(Nonce::from_slice(&nonce), secret)
            .map_err(|_| Error::internal("sealing a webhook secret failed"))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// The secret `seal` sealed; an error if it was sealed with another key.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return Err(Error::internal("a sealed webhook secret is too short"));
        }
        let (nonce, sealed) = sealed.split_at(NONCE_LEN);
        ChaCha20Poly1305::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| {
                Error::internal(
                    "cannot open a webhook secret: it was sealed with another webhook key \
                     (every node must be given the same ROSTER_WEBHOOK_KEY)",
                )
            })
    }
}

/// A new signing secret: 24 random bytes.
fn new_secret() -> Result<Vec<u8>> {
    let mut secret = vec![0u8; 24];
    getrandom::fill(&mut secret).map_err(Error::internal)?;
    Ok(secret)
}

/// A secret as Standard Webhooks print it: `whsec_<base64>`.
pub fn secret_text(secret: &[u8]) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(secret)
    )
}

/// A secret as Chatwoot shows it (and keys its signatures with): URL-safe base64.
pub fn chatwoot_secret_text(secret: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
}

/// What a webhook request names, checked (see [`Roster::create_webhook`]).
#[derive(Debug, Clone)]
pub struct WebhookRequest {
    pub url: String,
    pub format: WebhookFormat,
    pub events: Option<Vec<EventType>>,
    pub fields: Option<Vec<String>>,
    pub subscriptions: Option<Vec<String>>,
    pub description: Option<String>,
}

/// Event type names as a request lists them: at least one, each known.
pub fn parse_event_types(names: &[String]) -> Result<Vec<EventType>> {
    if names.is_empty() {
        return Err(Error::invalid(
            "events",
            "must name at least one event type",
        ));
    }
    let mut types = Vec::with_capacity(names.len());
    for name in names {
        let event_type = EventType::parse(name).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            Error::invalid(
                "events",
                format!(
                    "{name:?} is not an event type (one of {})",
                    known.join(", ")
                ),
            )
        })?;
        if !types.contains(&event_type) {
            types.push(event_type);
        }
    }
    Ok(types)
}

/// Contact fields a `contact.updated` filter may name: the top-level fields of the
/// record events carry.
pub fn parse_fields(names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Err(Error::invalid("fields", "must name at least one field"));
    }
    for name in names {
        if !crate::view::CONTACT_FIELDS.contains(&name.as_str()) {
            return Err(Error::invalid(
                "fields",
                format!(
                    "{name:?} is not a contact field (one of {})",
                    crate::view::CONTACT_FIELDS.join(", ")
                ),
            ));
        }
    }
    Ok(names.to_vec())
}

/// The longest description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 255;

/// The longest URL accepted.
const MAX_URL_LEN: usize = 2_048;

/// Checks a webhook URL: absolute `http` or `https`, with a host.
pub fn parse_url(text: &str) -> Result<url::Url> {
    let invalid = |reason: &str| Error::invalid("url", reason);
    if text.len() > MAX_URL_LEN {
        return Err(invalid("must be at most 2048 characters"));
    }
    let url =
        url::Url::parse(text).map_err(|_| invalid("must be an absolute http or https URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("must be an http or https URL"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must name a host"));
    }
    Ok(url)
}

/// The addresses `url` resolves to, refused unless public (or private ones allowed).
pub async fn resolve_allowed(
    url: &url::Url,
    allow_private: bool,
) -> Result<Vec<std::net::SocketAddr>> {
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(80);
    let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|err| Error::invalid("url", format!("its host does not resolve ({err})")))?
        .collect();
    if allow_private {
        return Ok(addresses);
    }
    let allowed: Vec<_> = addresses
        .iter()
        .copied()
        .filter(|address| public_address(address.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(Error::invalid(
            "url",
            "resolves to a loopback, private, link-local or metadata address, which \
             webhooks may not call (set webhook_allow_private to allow it)",
        ));
    }
    Ok(allowed)
}

impl Roster {
    fn webhook_key(&self) -> Result<&WebhookKey> {
        self.webhook_key
            .as_deref()
            .ok_or_else(|| Error::internal("no webhook key is configured on this server"))
    }

    /// This node's delivery counts (the sender adds to them, metrics read them).
    pub fn delivery_counts(&self) -> &DeliveryCounts {
        &self.delivery_counts
    }

    /// Whether webhooks may call loopback and private addresses.
    pub fn webhooks_allow_private(&self) -> bool {
        self.webhook_allow_private
    }

    /// Creates an endpoint; answers it with its secret, which is never shown again.
    pub async fn create_webhook(
        &self,
        workspace: WorkspaceId,
        request: WebhookRequest,
    ) -> Result<(Webhook, String)> {
        let url = parse_url(&request.url)?;
        resolve_allowed(&url, self.webhook_allow_private).await?;
        let secret = new_secret()?;
        let new = NewWebhook {
            url: request.url,
            format: request.format,
            events: request.events,
            fields: request.fields,
            subscriptions: request.subscriptions,
            description: request.description,
            sealed_secret: self.webhook_key()?.seal(&secret)?,
        };
        let webhook = self.store.create_webhook(workspace, &new).await?;
        Ok((webhook, secret_text(&secret)))
    }

    pub async fn update_webhook(
        &self,
        workspace: WorkspaceId,
        id: i64,
        patch: WebhookPatch,
    ) -> Result<Webhook> {
        if let Some(url) = &patch.url {
            let url = parse_url(url)?;
            resolve_allowed(&url, self.webhook_allow_private).await?;
        }
        self.store.update_webhook(workspace, id, &patch).await
    }

    /// A new secret for the endpoint (the old one stops signing at once).
    pub async fn rotate_webhook_secret(
        &self,
        workspace: WorkspaceId,
        id: i64,
    ) -> Result<(Webhook, String)> {
        let secret = new_secret()?;
        let sealed = self.webhook_key()?.seal(&secret)?;
        let webhook = self
            .store
            .set_webhook_secret(workspace, id, &sealed)
            .await?;
        Ok((webhook, secret_text(&secret)))
    }

    /// An endpoint's secret, as deliveries sign with it (Chatwoot shows it on every read).
    pub fn open_secret(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        self.webhook_key()?.open(sealed)
    }

    pub async fn webhook(&self, workspace: WorkspaceId, id: i64) -> Result<Webhook> {
        self.store
            .webhook(workspace, id)
            .await?
            .map(|(webhook, _)| webhook)
            .ok_or(Error::NotFound(Resource::Webhook))
    }

    /// Sends `event_id` to the endpoint again (now, whatever happened before).
    pub async fn redeliver(&self, workspace: WorkspaceId, id: i64, event_id: &str) -> Result<()> {
        self.webhook(workspace, id).await?;
        self.store
            .redeliver(workspace, id, event_id, self.clock.now())
            .await?;
        self.events_written.notify_waiters();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_not_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!public_address(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(public_address(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn retries_double_up_to_six_hours_and_stop_after_three_days() {
        let start = Timestamp::from_micros(0);
        let after = |attempt, jitter| {
            next_retry(attempt, start, start, jitter).map(|at| at.micros() / 1_000_000)
        };
        assert_eq!(after(1, 0.0), Some(5));
        assert_eq!(after(2, 0.0), Some(10));
        assert_eq!(after(3, 0.0), Some(20));
        assert_eq!(after(30, 0.0), Some(6 * 3600));
        assert_eq!(after(1, 1.0), Some(6));
        assert_eq!(after(1, -1.0), Some(4));
        let late = Timestamp::from_micros(GIVE_UP_AFTER.as_micros() as i64 - 1_000_000);
        assert_eq!(next_retry(3, start, late, 0.0), None);
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key() {
        let key = WebhookKey::from_text("one");
        let sealed = key.seal(b"secret").unwrap();
        assert_ne!(&sealed[12..], b"secret");
        assert_eq!(key.open(&sealed).unwrap(), b"secret");
        assert!(WebhookKey::from_text("two").open(&sealed).is_err());
        assert!(secret_text(b"\x01\x02").starts_with("whsec_"));
    }

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(parse_url("https://example.com/hook").is_ok());
        for bad in [
            "ftp://example.com",
            "example.com/hook",
            "http://",
            "file:///etc/passwd",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
