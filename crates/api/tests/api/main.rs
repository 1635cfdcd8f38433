//! API tests: the real router on port 0, spoken to over HTTP.

mod admin;
mod chatcaptain;
mod chatwoot;
mod docs;
mod helpers;
mod isolation;
mod layers;
mod saleschat;
mod search;
mod telemetry;
