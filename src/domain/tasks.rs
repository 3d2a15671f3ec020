//! Signing tasks (签署任务): batches made from rows of values, one
//! task per row with one document per template, paid from the contract
//! quota; documents are filled in the background.
//!
//! - `values`: a typed value of a row as the field stores it.
//! - `plan`: checking a batch and its rows before anything is written.
//! - `sheet`: the Excel template and reading filled sheets.
//! - `initiate`: writing a checked batch, idempotently, with the quota debit.
//! - `fill`: the job that fills documents and makes tasks ready.
//! - `lifecycle`: refusal, revocation with refunds, reminders, expiry.
//! - `parties`: who may act for a signer.
//! - `intent`: intent codes (意愿认证) before signing.
//! - `signing`: signing in crash-safe phases, the signing order, completion.
//! - `events`: task events and the inbox boxes they move tasks between.
//! - `inbox`: who sees a task, the boxes, search and counts.

pub mod events;
pub mod fill;
pub mod inbox;
pub mod initiate;
pub mod intent;
pub mod lifecycle;
pub mod parties;
pub mod plan;
pub mod sheet;
pub mod signing;
pub mod values;
