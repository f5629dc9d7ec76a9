//! Why a request is refused, and how each reason is told to the client:
//! the PKIFailureInfo bit of a DER rejection (RFC 3161 §2.4.2), the
//! upstream JSON message, the HTTP status.

/// Why a request was refused (for metrics and logs; the client sees the
/// HTTP status and either a DER rejection or an upstream JSON message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusalReason {
    /// The Content-Type is not a media type, not `application/*`, or an
    /// `application/*` type other than `timestamp-query` and `json`.
    UnsupportedMediaType,
    /// The body is larger than [`crate::MAX_DER_REQUEST_BYTES`] or
    /// [`crate::MAX_JSON_REQUEST_BYTES`].
    TooLarge,
    /// The body does not parse (DER, JSON, base64, nonce or policy text).
    Malformed,
    /// The `TimeStampReq` version is not 1.
    BadVersion,
    /// The imprint uses SHA-1.
    WeakAlgorithm,
    /// The imprint uses an algorithm other than SHA-256/384/512, or
    /// parameters other than NULL.
    BadAlgorithm,
    /// The digest's length is not the algorithm's.
    BadDigestLength,
    /// The nonce is longer than [`crate::MAX_NONCE_BYTES`].
    NonceTooLarge,
    /// The requested policy is not accepted.
    UnacceptedPolicy,
    /// The request carries extensions.
    UnacceptedExtension,
    /// The clock is earlier than a genTime already issued, or before
    /// 1970: the authority cannot tell the time.
    TimeNotAvailable,
    /// The clock is outside the validity of the certificate chain:
    /// tokens issued now would not verify.
    CertificateNotValid,
}

/// Bits of PKIFailureInfo (RFC 3161 §2.4.2), numbered as there.
pub(crate) mod fail_bit {
    /// Unrecognized or unsupported algorithm identifier.
    pub(crate) const BAD_ALG: u8 = 0;
    /// Transaction not permitted or supported.
    pub(crate) const BAD_REQUEST: u8 = 2;
    /// The data submitted has the wrong format.
    pub(crate) const BAD_DATA_FORMAT: u8 = 5;
    /// The TSA's time source is not available.
    pub(crate) const TIME_NOT_AVAILABLE: u8 = 14;
    /// The requested TSA policy is not supported.
    pub(crate) const UNACCEPTED_POLICY: u8 = 15;
    /// The requested extension is not supported.
    pub(crate) const UNACCEPTED_EXTENSION: u8 = 16;
    /// The request cannot be handled due to system failure.
    pub(crate) const SYSTEM_FAILURE: u8 = 25;
}

/// The upstream JSON message for failures with no more specific one.
pub(crate) const GENERIC_MESSAGE: &str = "Error generating timestamp response";

impl RefusalReason {
    /// The PKIFailureInfo bit of a DER rejection.
    pub(crate) fn fail_bit(self) -> u8 {
        use fail_bit::*;
        match self {
            RefusalReason::WeakAlgorithm | RefusalReason::BadAlgorithm => BAD_ALG,
            RefusalReason::UnsupportedMediaType
            | RefusalReason::TooLarge
            | RefusalReason::BadVersion
            | RefusalReason::NonceTooLarge => BAD_REQUEST,
            RefusalReason::Malformed | RefusalReason::BadDigestLength => BAD_DATA_FORMAT,
            RefusalReason::UnacceptedPolicy => UNACCEPTED_POLICY,
            RefusalReason::UnacceptedExtension => UNACCEPTED_EXTENSION,
            RefusalReason::TimeNotAvailable | RefusalReason::CertificateNotValid => {
                TIME_NOT_AVAILABLE
            }
        }
    }

    /// The HTTP status: 400 for the client's faults, 415 for a
    /// Content-Type that is not `application/*` (set by the caller), 503
    /// for the authority's clock or certificate (clients retry 5xx).
    pub(crate) fn http_status(self) -> u16 {
        match self {
            RefusalReason::TimeNotAvailable | RefusalReason::CertificateNotValid => 503,
            _ => 400,
        }
    }

    /// A short stable name for metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            RefusalReason::UnsupportedMediaType => "unsupported_media_type",
            RefusalReason::TooLarge => "too_large",
            RefusalReason::Malformed => "malformed",
            RefusalReason::BadVersion => "bad_version",
            RefusalReason::WeakAlgorithm => "weak_algorithm",
            RefusalReason::BadAlgorithm => "bad_algorithm",
            RefusalReason::BadDigestLength => "bad_digest_length",
            RefusalReason::NonceTooLarge => "nonce_too_large",
            RefusalReason::UnacceptedPolicy => "unaccepted_policy",
            RefusalReason::UnacceptedExtension => "unaccepted_extension",
            RefusalReason::TimeNotAvailable => "time_not_available",
            RefusalReason::CertificateNotValid => "certificate_not_valid",
        }
    }
}

/// A refusal: the reason and a precise description (the DER status
/// string; the JSON message where upstream has no fixed one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) reason: RefusalReason,
    pub(crate) detail: String,
}

impl Refusal {
    pub(crate) fn new(reason: RefusalReason, detail: String) -> Refusal {
        Refusal { reason, detail }
    }

    /// The message of the JSON error body: upstream's fixed texts where it
    /// has one, else the detail.
    pub(crate) fn json_message(&self) -> String {
        match self.reason {
            RefusalReason::WeakAlgorithm => "Weak hash algorithm in timestamp request".into(),
            RefusalReason::BadDigestLength => {
                "Message digest has incorrect length for specified algorithm".into()
            }
            RefusalReason::TooLarge => "timestamp request is too large".into(),
            RefusalReason::UnacceptedPolicy | RefusalReason::UnacceptedExtension => {
                self.detail.clone()
            }
            _ => format!("{GENERIC_MESSAGE}: {}", self.detail),
        }
    }
}
