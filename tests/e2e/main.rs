//! End-to-end tests: the real `islet` binary, real files, real HTTP on
//! 127.0.0.1.

#![allow(missing_docs, clippy::unwrap_used)]

mod auth;
mod cluster;
mod durability;
mod faults;
mod fsck;
mod hostile;
mod http_limits;
mod mirror;
mod oci;
mod pg;
mod pki;
mod relay;
mod serve;
mod shard;
mod snapshot;
mod support;
mod tls;
mod tsa;
mod verify;
mod witness;
