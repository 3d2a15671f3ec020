//! Integration tests: one binary, one fresh database per test, real
//! PostgreSQL, real HTTP (in-process or on a socket) and real WebSocket.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] functions fail loudly on a broken setup"
)]

mod helpers;

mod accounts;
mod audit;
mod bench_batch;
mod bench_signing;
mod certification;
mod client_examples;
mod events;
mod fields;
mod fill;
mod follow_up_orders;
mod handwriting;
mod hardening;
mod inbox;
mod lifecycle;
mod membership;
mod migrations;
mod outbox;
mod pades;
mod page_codes;
mod pki;
mod real_name;
mod schema;
mod seals;
mod server;
mod sheets;
mod signing;
mod signing_parties;
mod signing_sm2;
mod task_events;
mod tasks;
mod templates;
mod tsa;
mod ukey;
mod verification;
mod websocket;
