//! Per-key request rate limits: what a key may send, as configured when it is created
//! (or the server's default). Counting happens in the HTTP layer, per node.

use std::fmt;

use crate::error::{Error, Result};

/// How many requests a key may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// No limit, whatever the server's default.
    Unlimited,
    /// At most `requests` in every window of `window_secs` seconds, all endpoints together.
    Quota { requests: u32, window_secs: u32 },
    /// SalesChat's documented limits: 5 requests per second per key and endpoint, and 10
    /// per second per workspace (SalesChat's org) and endpoint.
    SalesChat,
}

/// One counter a request is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The policy's name in the `RateLimit` headers.
    pub name: &'static str,
    pub requests: u32,
    pub window_secs: u32,
    /// Whether the counter is per endpoint (method and route) rather than for all of them.
    pub per_endpoint: bool,
    /// Whether the counter is shared by the workspace's keys rather than the key's own.
    pub per_workspace: bool,
}

/// The longest window a quota may have: one day.
const MAX_WINDOW_SECS: u32 = 86_400;

impl RateLimit {
    /// The counters a request is counted against.
    pub fn policies(self) -> Vec<Policy> {
        match self {
            RateLimit::Unlimited => Vec::new(),
            RateLimit::Quota {
                requests,
                window_secs,
            } => vec![Policy {
                name: "key",
                requests,
                window_secs,
                per_endpoint: false,
                per_workspace: false,
            }],
            RateLimit::SalesChat => vec![
                Policy {
                    name: "key-endpoint",
                    requests: 5,
                    window_secs: 1,
                    per_endpoint: true,
                    per_workspace: false,
                },
                Policy {
                    name: "org-endpoint",
                    requests: 10,
                    window_secs: 1,
                    per_endpoint: true,
                    per_workspace: true,
                },
            ],
        }
    }

    /// Parses `none`, `saleschat` or `<requests>/<window>`, the window being `s`, `m`
    /// or `h` with an optional count (`100/s`, `600/10m`, `5000/h`); `field` names it in
    /// the error.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let invalid = || {
            Error::invalid(
                field,
                "must be none, saleschat or <requests>/<window> such as 100/s, 600/10m or 5000/h (requests 1 or more, window at most 24h)",
            )
        };
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(RateLimit::Unlimited),
            "saleschat" => Ok(RateLimit::SalesChat),
            quota => {
                let (requests, window) = quota.split_once('/').ok_or_else(invalid)?;
                let requests: u32 = requests.trim().parse().map_err(|_| invalid())?;
                let window = window.trim();
                let unit_at = window.len().checked_sub(1).ok_or_else(invalid)?;
                let (count, unit) = window.split_at(unit_at);
                let count: u32 = if count.is_empty() {
                    1
                } else {
                    count.parse().map_err(|_| invalid())?
                };
                let unit_secs = match unit {
                    "s" => 1,
                    "m" => 60,
                    "h" => 3600,
                    _ => return Err(invalid()),
                };
                let window_secs = count.checked_mul(unit_secs).ok_or_else(invalid)?;
                if requests == 0 || window_secs == 0 || window_secs > MAX_WINDOW_SECS {
                    return Err(invalid());
                }
                Ok(RateLimit::Quota {
                    requests,
                    window_secs,
                })
            }
        }
    }
}

/// The form `parse` reads back (`100/60s`).
impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimit::Unlimited => f.write_str("none"),
            RateLimit::SalesChat => f.write_str("saleschat"),
            RateLimit::Quota {
                requests,
                window_secs,
            } => write!(f, "{requests}/{window_secs}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_and_print_back() {
        let quota = |requests, window_secs| RateLimit::Quota {
            requests,
            window_secs,
        };
        for (text, limit) in [
            ("100/s", quota(100, 1)),
            ("600/10m", quota(600, 600)),
            ("5000/h", quota(5000, 3600)),
            ("7/90s", quota(7, 90)),
            ("none", RateLimit::Unlimited),
            ("SalesChat", RateLimit::SalesChat),
        ] {
            let parsed = RateLimit::parse("rate_limit", text).unwrap();
            assert_eq!(parsed, limit, "{text}");
            assert_eq!(
                RateLimit::parse("rate_limit", &parsed.to_string()),
                Ok(parsed)
            );
        }
        for bad in [
            "", "100", "0/s", "10/0s", "10/25h", "10/x", "-1/s", "ten/s", "10/s/s",
        ] {
            assert!(
                matches!(RateLimit::parse("rate_limit", bad), Err(Error::Invalid { field, .. }) if field == "rate_limit"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_saleschat_preset_counts_per_endpoint_by_key_and_by_org() {
        let policies = RateLimit::SalesChat.policies();
        assert_eq!(
            policies
                .iter()
                .map(|p| (p.requests, p.window_secs, p.per_endpoint, p.per_workspace))
                .collect::<Vec<_>>(),
            [(5, 1, true, false), (10, 1, true, true)]
        );
        assert!(RateLimit::Unlimited.policies().is_empty());
    }
}
