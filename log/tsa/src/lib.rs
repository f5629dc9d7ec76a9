//! # islet-tsa
//!
//! An RFC 3161 timestamp authority (with RFC 5816's ESSCertIDv2),
//! wire-compatible with Sigstore's timestamp-authority service: the DER
//! and JSON request forms of `POST /api/v1/timestamp`, its replies and
//! error bodies, and the PEM chain of `GET /api/v1/timestamp/certchain`.
//! Tokens have the shape of the real sigstage replies, so sigstore-go,
//! sigstore-python, sigstore-js and `openssl ts -verify` accept them.
//!
//! - [`TimestampAuthority`]: built from a PKCS#8 key and its chain, which
//!   it checks as upstream does before starting; [`TimestampAuthority::answer`]
//!   turns a request (Content-Type, body, time, serial) into the complete
//!   HTTP [`Answer`] and an [`Outcome`] for metrics.
//! - [`Serials`]: serial numbers that never repeat, across restarts too.
//! - [`issue_chain`]: a new key and chain for `islet init`.
//!
//! The crate is pure: no HTTP types, no async runtime, no storage engine,
//! no other islet crate. It must never depend on tokio, axum, hyper,
//! reqwest or rocksdb; the server wires it in.

mod authority;
mod chain;
mod encode;
mod error;
mod hash;
mod issue;
mod key;
mod media;
mod oids;
mod rawcert;
mod refusal;
mod reply;
mod request;
mod serial;

pub use authority::{
    Answer, CONTENT_TYPE_CHAIN, CONTENT_TYPE_JSON, CONTENT_TYPE_REPLY, DEFAULT_POLICY, Outcome,
    TimestampAuthority, TsaConfig,
};
pub use der::asn1::ObjectIdentifier;
pub use error::Error;
pub use hash::HashAlg;
pub use issue::{ChainParams, IssuedChain, issue_chain};
pub use key::TsaKeyType;
pub use refusal::RefusalReason;
pub use request::{MAX_DER_REQUEST_BYTES, MAX_JSON_REQUEST_BYTES, MAX_NONCE_BYTES};
pub use serial::{MAX_BOOT_WAIT, SerialNumber, Serials};
