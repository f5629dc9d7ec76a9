//! The crate's one error type: what can go wrong while setting the
//! authority up (key, chain, serial state) or issuing a chain. Refusals of
//! client requests are not errors: they are answers (see
//! [`crate::RefusalReason`]).

use std::path::PathBuf;

/// Why the authority, its serial numbers or a new chain could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The private key file is not one PEM `PRIVATE KEY` (PKCS#8) block.
    #[error("TSA key: {0}")]
    KeyPem(String),
    /// The PKCS#8 key is neither ECDSA P-384 nor ECDSA P-256.
    #[error("TSA key: not an ECDSA P-384 or P-256 PKCS#8 private key")]
    KeyType,
    /// The chain file holds no usable PEM `CERTIFICATE` blocks.
    #[error("TSA chain: {0}")]
    ChainPem(String),
    /// The chain holds fewer than two certificates (leaf … root).
    #[error("TSA chain: {count} certificate(s); at least 2 are needed (leaf first, root last)")]
    ChainTooShort {
        /// How many certificates the chain holds.
        count: usize,
    },
    /// A certificate of the chain does not parse as X.509 DER.
    #[error("TSA chain: certificate {index} does not parse: {detail}")]
    CertificateParse {
        /// Position in the chain (0 = leaf).
        index: usize,
        /// The parser's message.
        detail: String,
    },
    /// Certificate `index` is not issued by certificate `index + 1` (name
    /// or signature).
    #[error("TSA chain: certificate {index} is not signed by certificate {}: {detail}", index + 1)]
    NotSignedByNext {
        /// Position of the issued certificate in the chain.
        index: usize,
        /// What did not match.
        detail: String,
    },
    /// A certificate is signed with an algorithm this crate cannot check.
    #[error("TSA chain: certificate {index} uses unsupported signature algorithm {oid}")]
    UnsupportedSignatureAlgorithm {
        /// Position in the chain.
        index: usize,
        /// The algorithm's OID.
        oid: String,
    },
    /// A certificate after the leaf is not a CA (basicConstraints cA).
    #[error("TSA chain: certificate {index} is not a CA but issues certificate {}", index - 1)]
    IssuerNotCa {
        /// Position in the chain.
        index: usize,
    },
    /// A CA certificate's key usage does not allow keyCertSign.
    #[error("TSA chain: CA certificate {index} has a key usage without keyCertSign")]
    IssuerKeyUsage {
        /// Position in the chain.
        index: usize,
    },
    /// The leaf is a CA certificate.
    #[error("TSA chain: the leaf certificate is a CA (basicConstraints cA=TRUE)")]
    LeafIsCa,
    /// The leaf has no extended key usage extension.
    #[error("TSA chain: the leaf certificate has no extended key usage (timeStamping is required)")]
    LeafEkuMissing,
    /// The leaf's extended key usage extension is not critical.
    #[error("TSA chain: the leaf certificate's extended key usage is not critical")]
    LeafEkuNotCritical,
    /// The leaf's extended key usage is not exactly `timeStamping`.
    #[error(
        "TSA chain: the leaf certificate's extended key usage must be exactly timeStamping (1.3.6.1.5.5.7.3.8), found [{found}]"
    )]
    LeafEkuNotTimeStampingOnly {
        /// The purposes found, dotted OIDs separated by ", ".
        found: String,
    },
    /// The leaf's key usage allows more than digitalSignature and nonRepudiation.
    #[error(
        "TSA chain: the leaf certificate's key usage allows more than digitalSignature/nonRepudiation"
    )]
    LeafKeyUsage,
    /// A CA certificate's extended key usage excludes timeStamping.
    #[error(
        "TSA chain: CA certificate {index} has an extended key usage without timeStamping or anyExtendedKeyUsage"
    )]
    IssuerEku {
        /// Position in the chain.
        index: usize,
    },
    /// A certificate carries the same extension twice, or an extension
    /// that does not parse.
    #[error("TSA chain: certificate {index}: extension {oid}: {detail}")]
    BadExtension {
        /// Position in the chain.
        index: usize,
        /// The extension's OID.
        oid: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A certificate carries a critical extension this crate does not know.
    #[error("TSA chain: certificate {index} has an unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// Position in the chain.
        index: usize,
        /// The extension's OID.
        oid: String,
    },
    /// The leaf's public key is not an ECDSA P-256 or P-384 key.
    #[error("TSA chain: the leaf certificate's key is not ECDSA P-256 or P-384")]
    LeafKeyType,
    /// The private key does not belong to the leaf certificate.
    #[error("TSA key does not match the leaf certificate's public key")]
    KeyMismatch,
    /// The validity periods of the chain do not overlap.
    #[error("TSA chain: the certificates' validity periods do not overlap")]
    NoCommonValidity,
    /// Configuration refused (for example an empty policy list).
    #[error("TSA configuration: {0}")]
    Config(String),
    /// Reading or writing the serial-number state file failed.
    #[error("TSA serial state {}: {source}", path.display())]
    StateIo {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The serial-number state file holds something else than a boot second.
    #[error("TSA serial state {}: not a boot second: {detail}", path.display())]
    StateCorrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The clock is earlier than the boot second a previous run recorded.
    #[error(
        "TSA serial state: the clock ({now} s since 1970) is earlier than the boot second a previous run recorded ({previous}); fix the system clock"
    )]
    ClockBehindState {
        /// The previous boot second.
        previous: u64,
        /// The clock now, in seconds since 1970.
        now: u64,
    },
    /// The clock is still in the boot second a previous run recorded
    /// (restart within the same second); retry after it.
    #[error("TSA serial state: the previous run started in this same second ({second}); retry")]
    SameBootSecond {
        /// The second.
        second: u64,
    },
    /// The clock is before 1970.
    #[error("the system clock is before 1970")]
    ClockBeforeEpoch,
    /// The per-process serial counter is exhausted (2^64 serials).
    #[error("TSA serial numbers exhausted for this run; restart")]
    SerialsExhausted,
    /// The system random generator failed.
    #[error("system random generator failed")]
    Random,
    /// Certificate generation (rcgen) failed.
    #[error("TSA chain generation: {0}")]
    Generate(String),
    /// A chain-generation parameter is out of range.
    #[error("TSA chain generation: {0}")]
    Params(String),
}
