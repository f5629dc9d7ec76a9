//! The authority: answers a POST to `/api/v1/timestamp` completely (status,
//! content type, body), so an HTTP server only copies the three out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use der::asn1::ObjectIdentifier;

use crate::chain::{self, Chain};
use crate::error::Error;
use crate::hash::HashAlg;
use crate::key::{TsaKey, TsaKeyType};
use crate::media::{self, Form};
use crate::refusal::{GENERIC_MESSAGE, Refusal, RefusalReason, fail_bit};
use crate::reply::{self, BuildError, TokenInput};
use crate::request::{self, MAX_DER_REQUEST_BYTES, MAX_JSON_REQUEST_BYTES, Request};
use crate::serial::SerialNumber;

/// Sigstore's timestamp policy arc, the upstream default policy.
pub const DEFAULT_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2");
/// Content type of every DER reply, granted or rejected.
pub const CONTENT_TYPE_REPLY: &str = "application/timestamp-reply";
/// Content type of the JSON error bodies.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// Content type of `GET /api/v1/timestamp/certchain` ([`TimestampAuthority::chain_pem`]).
pub const CONTENT_TYPE_CHAIN: &str = "application/pem-certificate-chain";

/// How the authority issues tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsaConfig {
    /// The TSTInfo policy when the request names none
    /// (default [`DEFAULT_POLICY`]); always accepted when requested.
    pub policy: ObjectIdentifier,
    /// Further policies a request may ask for (default none besides
    /// `policy`); any other requested policy is refused.
    pub accepted_policies: Vec<ObjectIdentifier>,
    /// TSTInfo accuracy in seconds (default 1; 0 omits the field).
    pub accuracy_seconds: u32,
    /// With certReq, embed the whole chain (true) or only the leaf
    /// (false, the default, as upstream).
    pub include_chain: bool,
}

impl Default for TsaConfig {
    fn default() -> Self {
        TsaConfig {
            policy: DEFAULT_POLICY,
            accepted_policies: Vec::new(),
            accuracy_seconds: 1,
            include_chain: false,
        }
    }
}

/// The complete HTTP answer to a timestamp request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// 200 issued; 400 refused; 415 Content-Type not `application/*`;
    /// 503 the clock or the chain does not allow issuing now; 500 signing
    /// failed.
    pub http_status: u16,
    /// [`CONTENT_TYPE_REPLY`] for DER requests (granted or rejection) and
    /// every granted reply, [`CONTENT_TYPE_JSON`] for JSON-form and
    /// Content-Type errors.
    pub content_type: &'static str,
    /// The DER `TimeStampResp`, or `{"code":…,"message":…}`.
    pub body: Vec<u8>,
    /// What happened, for metrics and logs.
    pub outcome: Outcome,
}

/// What an answer did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A token was issued.
    Issued {
        /// The imprint's hash algorithm.
        hash: HashAlg,
        /// Whether the request used the JSON form.
        json: bool,
        /// The token's genTime.
        gen_time: SystemTime,
    },
    /// The request was refused.
    Refused {
        /// Why.
        reason: RefusalReason,
        /// Whether the request used the JSON form (false also when the
        /// Content-Type selected neither form).
        json: bool,
        /// A precise description (also the DER status string).
        detail: String,
    },
    /// The authority failed (signing or encoding): HTTP 500.
    Failed {
        /// What failed.
        detail: String,
    },
}

/// An RFC 3161 timestamp authority with one key and its checked chain.
pub struct TimestampAuthority {
    key: TsaKey,
    chain: Chain,
    config: TsaConfig,
    /// The latest genTime issued (or the floor set), seconds since 1970.
    last_gen: AtomicU64,
}

impl std::fmt::Debug for TimestampAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimestampAuthority")
            .field("key_type", &self.key.key_type())
            .field("chain_len", &self.chain.ders.len())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TimestampAuthority {
    /// Loads the PKCS#8 PEM key and the PEM chain (leaf first, root last)
    /// and runs the checks of spec §1.4; any failure is a precise
    /// [`Error`] and the authority must not start.
    pub fn new(key_pem: &[u8], chain_pem: &[u8], config: TsaConfig) -> Result<Self, Error> {
        let key = TsaKey::from_pem(key_pem)?;
        let chain = chain::load(chain_pem, &key)?;
        Ok(TimestampAuthority {
            key,
            chain,
            config,
            last_gen: AtomicU64::new(0),
        })
    }

    /// The PEM chain, leaf first, root last: the body of
    /// `GET /api/v1/timestamp/certchain` (content type [`CONTENT_TYPE_CHAIN`]).
    pub fn chain_pem(&self) -> &str {
        &self.chain.pem
    }

    /// The DER certificates, leaf first, root last (for a trusted root's
    /// `certChain`).
    pub fn chain_der(&self) -> &[Vec<u8>] {
        &self.chain.ders
    }

    /// The signing key's kind.
    pub fn key_type(&self) -> TsaKeyType {
        self.key.key_type()
    }

    /// The configuration.
    pub fn config(&self) -> &TsaConfig {
        &self.config
    }

    /// The period in which every certificate of the chain is valid;
    /// outside it requests are refused ([`RefusalReason::CertificateNotValid`]).
    pub fn validity(&self) -> (SystemTime, SystemTime) {
        (self.chain.not_before, self.chain.not_after)
    }

    /// The latest genTime issued (or floor set), `None` before any.
    pub fn last_gen_time(&self) -> Option<SystemTime> {
        match self.last_gen.load(Ordering::Relaxed) {
            0 => None,
            s => Some(SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
        }
    }

    /// Refuses genTimes earlier than `floor` from now on (for example
    /// [`crate::Serials::boot_time`], or a genTime persisted by a
    /// previous run). Never lowers the floor.
    pub fn raise_clock_floor(&self, floor: SystemTime) {
        let secs = floor
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last_gen.fetch_max(secs, Ordering::Relaxed);
    }

    /// Answers `POST /api/v1/timestamp` with body `body` sent as
    /// `content_type` at time `now`, numbering a token `serial`.
    pub fn answer(
        &self,
        content_type: &str,
        body: &[u8],
        now: SystemTime,
        serial: SerialNumber,
    ) -> Answer {
        let json = match media::form(content_type) {
            Form::Der => false,
            Form::Json => true,
            Form::Unsupported => {
                let detail = format!("unsupported Content-Type {content_type:?}");
                return json_error(
                    415,
                    Refusal::new(RefusalReason::UnsupportedMediaType, detail),
                    false,
                );
            }
            Form::OtherApplication => {
                let detail = format!(
                    "Content-Type {content_type:?} is neither application/timestamp-query nor application/json"
                );
                return json_error(
                    400,
                    Refusal::new(RefusalReason::UnsupportedMediaType, detail),
                    false,
                );
            }
        };
        let result = self
            .parse(json, body)
            .and_then(|request| self.issue(&request, now, &serial).map(|r| (request, r)));
        match result {
            Ok((request, Ok((body, gen_time)))) => Answer {
                http_status: 200,
                content_type: CONTENT_TYPE_REPLY,
                body,
                outcome: Outcome::Issued {
                    hash: request.hash,
                    json,
                    gen_time,
                },
            },
            Ok((_, Err(detail))) => failed(json, detail),
            Err(refusal) if json => {
                let status = refusal.reason.http_status();
                json_error(status, refusal, true)
            }
            Err(refusal) => Answer {
                http_status: refusal.reason.http_status(),
                content_type: CONTENT_TYPE_REPLY,
                body: reply::rejection(&refusal.detail, refusal.reason.fail_bit()),
                outcome: Outcome::Refused {
                    reason: refusal.reason,
                    json: false,
                    detail: refusal.detail,
                },
            },
        }
    }

    /// The request, size-checked and parsed in its form.
    fn parse(&self, json: bool, body: &[u8]) -> Result<Request, Refusal> {
        let limit = if json {
            MAX_JSON_REQUEST_BYTES
        } else {
            MAX_DER_REQUEST_BYTES
        };
        if body.len() > limit {
            return Err(Refusal::new(
                RefusalReason::TooLarge,
                format!(
                    "timestamp request is too large: {} octets, at most {limit}",
                    body.len()
                ),
            ));
        }
        if json {
            request::parse_json(body)
        } else {
            request::parse_der(body)
        }
    }

    /// Checks policy, clock and chain validity, then builds the signed
    /// reply. The outer error is a refusal; the inner one a failure.
    #[allow(clippy::type_complexity)]
    fn issue(
        &self,
        request: &Request,
        now: SystemTime,
        serial: &SerialNumber,
    ) -> Result<Result<(Vec<u8>, SystemTime), String>, Refusal> {
        let policy = match &request.policy {
            None => &self.config.policy,
            Some(p) if *p == self.config.policy || self.config.accepted_policies.contains(p) => p,
            Some(p) => {
                return Err(Refusal::new(
                    RefusalReason::UnacceptedPolicy,
                    format!("unaccepted policy: {p}"),
                ));
            }
        };
        let seconds = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| {
                Refusal::new(
                    RefusalReason::TimeNotAvailable,
                    "the authority's clock is before 1970".into(),
                )
            })?
            .as_secs();
        let gen_time = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
        if gen_time < self.chain.not_before || gen_time > self.chain.not_after {
            return Err(Refusal::new(
                RefusalReason::CertificateNotValid,
                format!("the authority's certificate chain is not valid at {seconds} s since 1970"),
            ));
        }
        let previous = self.last_gen.fetch_max(seconds, Ordering::Relaxed);
        if previous > seconds {
            return Err(Refusal::new(
                RefusalReason::TimeNotAvailable,
                format!(
                    "the authority's clock ({seconds} s since 1970) is earlier than a time it already issued or its floor ({previous})"
                ),
            ));
        }
        let input = TokenInput {
            request,
            policy,
            serial,
            seconds,
            accuracy_seconds: self.config.accuracy_seconds,
            chain: &self.chain,
            include_chain: self.config.include_chain,
            key: &self.key,
        };
        match reply::granted(&input) {
            Ok(body) => Ok(Ok((body, gen_time))),
            Err(BuildError::Time) => Err(Refusal::new(
                RefusalReason::TimeNotAvailable,
                format!("{seconds} s since 1970 cannot be written as a GeneralizedTime"),
            )),
            Err(BuildError::Signing) => Ok(Err("ECDSA signing failed".into())),
        }
    }
}

/// A JSON error body `{"code":…,"message":…}` as upstream writes them.
fn json_error(status: u16, refusal: Refusal, json: bool) -> Answer {
    let body = serde_json::json!({"code": status, "message": refusal.json_message()});
    Answer {
        http_status: status,
        content_type: CONTENT_TYPE_JSON,
        body: body.to_string().into_bytes(),
        outcome: Outcome::Refused {
            reason: refusal.reason,
            json,
            detail: refusal.detail,
        },
    }
}

/// HTTP 500: a DER rejection with systemFailure, or the upstream JSON.
fn failed(json: bool, detail: String) -> Answer {
    let (content_type, body) = if json {
        let body = serde_json::json!({"code": 500, "message": GENERIC_MESSAGE});
        (CONTENT_TYPE_JSON, body.to_string().into_bytes())
    } else {
        (
            CONTENT_TYPE_REPLY,
            reply::rejection(&detail, fail_bit::SYSTEM_FAILURE),
        )
    };
    Answer {
        http_status: 500,
        content_type,
        body,
        outcome: Outcome::Failed { detail },
    }
}
