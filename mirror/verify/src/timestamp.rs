//! RFC 3161 timestamps of a bundle (`rfc3161Timestamps[].signedTimestamp`,
//! each a DER `TimeStampResp`), checked against the timestamp authorities
//! of the trusted root.
//!
//! A timestamp verifies when: the response decodes strictly, its status is
//! granted, its token is SignedData over a version 1 TSTInfo whose imprint
//! (SHA-256/384/512) is the hash of the raw signature bytes; it has exactly
//! one SignerInfo, naming its certificate by issuer and serial, whose signed
//! attributes carry the TSTInfo content type and the TSTInfo's digest; a
//! TSA of the trusted root, valid at genTime, has that certificate as its
//! leaf (an embedded copy must be byte-identical); the leaf's key signed
//! the attributes; and the TSA's chain holds at genTime with a
//! timeStamping-only leaf. A timestamp that does not verify is ignored
//! with a warning (as sigstore-go and sigstore-python do); each TSA counts
//! once.

use std::time::SystemTime;

use cms::cert::CertificateChoices;
use cms::content_info::CmsVersion;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911::{ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNED_DATA};
use der::asn1::OctetString;
use der::{Decode, Encode, Tagged};
use x509_tsp::{TimeStampResp, TstInfo};

use crate::failure::{Check, Failure};
use crate::pki::{Cert, Hash, Key, Purpose, check_path, rfc3339};
use crate::trusted_root::{CertificateAuthority, TrustedRoot};

/// Most timestamps a bundle may carry (sigstore-go's and py's limit).
pub const MAX_TIMESTAMPS: usize = 32;

/// Largest `TimeStampResp` read.
pub const MAX_TIMESTAMP_BYTES: usize = 64 * 1024;

/// Most certificates a token may embed.
pub const MAX_EMBEDDED_CERTIFICATES: usize = 16;

/// id-ct-TSTInfo.
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");

/// Where a verified time comes from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimeSource {
    /// An RFC 3161 timestamp of this authority (its trusted-root `uri`).
    TimestampAuthority {
        /// The TSA's `uri`.
        uri: String,
    },
    /// The integrated time of a Rekor v1 entry whose SET verified.
    Tlog {
        /// The log's `baseUrl`.
        log: String,
        /// The entry's index.
        log_index: u64,
    },
}

/// A time the signature is known to have existed at.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifiedTime {
    /// The time (RFC 3339 in JSON).
    #[serde(serialize_with = "serialize_time")]
    pub time: SystemTime,
    /// Who vouches for it.
    pub source: TimeSource,
}

fn serialize_time<S: serde::Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// The timestamps that verified, and why the others did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimestampOutcome {
    /// One per TSA, in the bundle's order.
    pub verified: Vec<VerifiedTime>,
    /// One line per timestamp ignored.
    pub warnings: Vec<String>,
}

/// Verifies the timestamps `tokens` (DER `TimeStampResp`s) over the raw
/// `signature` bytes against the TSAs of `root`.
///
/// # Errors
/// [`Check::Timestamp`] when there are more than [`MAX_TIMESTAMPS`] or one
/// appears twice. A timestamp that does not verify is not an error: it is
/// left out with a warning.
pub fn verify_timestamps(
    root: &TrustedRoot,
    signature: &[u8],
    tokens: &[Vec<u8>],
) -> Result<TimestampOutcome, Failure> {
    if tokens.len() > MAX_TIMESTAMPS {
        return Err(Failure::new(
            Check::Timestamp,
            format!(
                "the bundle has {} timestamps, more than the {MAX_TIMESTAMPS} allowed",
                tokens.len()
            ),
        ));
    }
    for (i, t) in tokens.iter().enumerate() {
        if let Some(j) = tokens[..i].iter().position(|u| u == t) {
            return Err(Failure::new(
                Check::Timestamp,
                format!("timestamps {j} and {i} are the same"),
            ));
        }
    }
    let mut out = TimestampOutcome::default();
    for (i, token) in tokens.iter().enumerate() {
        match verify_token(root, signature, token) {
            Ok((time, uri)) => {
                let seen = out.verified.iter().any(
                    |v| matches!(&v.source, TimeSource::TimestampAuthority { uri: u } if *u == uri),
                );
                if seen {
                    out.warnings.push(format!(
                        "timestamp {i}: {uri} already gave a verified time; counted once"
                    ));
                } else {
                    out.verified.push(VerifiedTime {
                        time,
                        source: TimeSource::TimestampAuthority { uri },
                    });
                }
            }
            Err(reason) => out
                .warnings
                .push(format!("timestamp {i} does not verify, ignored: {reason}")),
        }
    }
    Ok(out)
}

/// What a token says, decoded and checked on its own (before any TSA).
struct Token {
    gen_time: SystemTime,
    signer: SignerInfo,
    /// The embedded certificates.
    embedded: Vec<Vec<u8>>,
}

/// One token: its genTime and the URI of the TSA that signed it.
fn verify_token(
    root: &TrustedRoot,
    signature: &[u8],
    der: &[u8],
) -> Result<(SystemTime, String), String> {
    let token = decode(signature, der)?;
    let SignerIdentifier::IssuerAndSerialNumber(sid) = &token.signer.sid else {
        return Err(
            "the SignerInfo names its certificate by key identifier, not issuer and serial".into(),
        );
    };
    let sid_issuer = sid
        .issuer
        .to_der()
        .map_err(|e| format!("the SignerInfo issuer does not encode: {e}"))?;
    let sid_serial = sid.serial_number.as_bytes();
    let mut reasons = Vec::new();
    for tsa in &root.timestamp_authorities {
        let Some(leaf_der) = tsa.chain.first() else {
            continue;
        };
        let leaf = Cert::parse(leaf_der)?;
        if leaf.issuer_der()? != sid_issuer || leaf.serial() != sid_serial {
            continue;
        }
        match check_tsa(tsa, &leaf, &token) {
            Ok(()) => return Ok((token.gen_time, tsa.uri.clone())),
            Err(e) => reasons.push(format!("{}: {e}", tsa.uri)),
        }
    }
    if reasons.is_empty() {
        Err(format!(
            "no timestamp authority of the trusted root has the signer's certificate (issuer {}, serial {})",
            sid.issuer,
            hex::encode(sid_serial)
        ))
    } else {
        Err(reasons.join("; "))
    }
}

/// Checks the token against one TSA whose leaf is the signer's.
fn check_tsa(tsa: &CertificateAuthority, leaf: &Cert, token: &Token) -> Result<(), String> {
    if !tsa.valid_at(token.gen_time) {
        return Err(format!(
            "genTime {} is outside the authority's validFor ({} to {})",
            rfc3339(token.gen_time),
            rfc3339(tsa.valid_from),
            tsa.valid_until.map_or("(no end)".into(), rfc3339)
        ));
    }
    // An embedded certificate naming the same issuer and serial must be
    // the trusted leaf itself.
    for e in &token.embedded {
        let c = Cert::parse(e).map_err(|x| format!("an embedded certificate: {x}"))?;
        if c.issuer_der()? == leaf.issuer_der()? && c.serial() == leaf.serial() && *e != leaf.der {
            return Err("the embedded signer certificate is not the trusted one".into());
        }
    }
    let attrs = token
        .signer
        .signed_attrs
        .as_ref()
        .ok_or("the SignerInfo has no signed attributes")?
        .to_der()
        .map_err(|e| format!("the signed attributes do not encode: {e}"))?;
    Key::from_spki(&leaf.cert.tbs_certificate.subject_public_key_info)?
        .verify_oid(
            &token.signer.signature_algorithm.oid,
            &attrs,
            token.signer.signature.as_bytes(),
        )
        .map_err(|e| format!("the signed attributes: {e}"))?;
    let chain = tsa
        .chain
        .get(1..)
        .unwrap_or_default()
        .iter()
        .map(|c| Cert::parse(c))
        .collect::<Result<Vec<_>, _>>()?;
    check_path(leaf, &chain, token.gen_time, Purpose::TimeStamping)
        .map(|_| ())
        .map_err(|e| format!("at genTime {}: {e}", rfc3339(token.gen_time)))
}

/// The digest algorithm of an AlgorithmIdentifier, with NULL or absent
/// parameters.
fn digest_algorithm(
    alg: &x509_cert::spki::AlgorithmIdentifierOwned,
    what: &str,
) -> Result<Hash, String> {
    let null_or_absent = alg
        .parameters
        .as_ref()
        .is_none_or(|p| p.tag() == der::Tag::Null && p.value().is_empty());
    match Hash::from_digest_oid(&alg.oid) {
        Some(h) if null_or_absent => Ok(h),
        Some(_) => Err(format!("the {what} algorithm has parameters")),
        None => Err(format!(
            "the {what} algorithm {} is not SHA-256, SHA-384 or SHA-512",
            alg.oid
        )),
    }
}

/// Decodes a response and checks what it says on its own: status, content
/// types, imprint, one SignerInfo with contentType and messageDigest.
fn decode(signature: &[u8], der: &[u8]) -> Result<Token, String> {
    if der.len() > MAX_TIMESTAMP_BYTES {
        return Err(format!(
            "it has {} bytes, more than the {MAX_TIMESTAMP_BYTES} allowed",
            der.len()
        ));
    }
    let resp = TimeStampResp::from_der(der).map_err(|e| format!("not a DER TimeStampResp: {e}"))?;
    if resp.status.status != cmpv2::status::PkiStatus::Accepted {
        return Err(format!(
            "its status is {:?}, not granted",
            resp.status.status
        ));
    }
    let token = resp
        .time_stamp_token
        .ok_or("the response has no timestamp token")?;
    if token.content_type != ID_SIGNED_DATA {
        return Err(format!(
            "the token is {}, not SignedData",
            token.content_type
        ));
    }
    let signed: SignedData = token
        .content
        .decode_as()
        .map_err(|e| format!("the token's SignedData: {e}"))?;
    if signed.version != CmsVersion::V3 {
        return Err(format!(
            "its SignedData is {:?}, not V3 (as content other than id-data needs)",
            signed.version
        ));
    }
    let encap = &signed.encap_content_info;
    if encap.econtent_type != ID_CT_TST_INFO {
        return Err(format!(
            "the signed content is {}, not TSTInfo",
            encap.econtent_type
        ));
    }
    let tst_der = encap
        .econtent
        .as_ref()
        .ok_or("the token has no TSTInfo")?
        .decode_as::<OctetString>()
        .map_err(|e| format!("the TSTInfo is not in an OCTET STRING: {e}"))?;
    let tst_der = tst_der.as_bytes();
    let tst = TstInfo::from_der(tst_der).map_err(|e| format!("the TSTInfo: {e}"))?;
    let imprint = &tst.message_imprint;
    let hash = digest_algorithm(&imprint.hash_algorithm, "imprint")?;
    if hash.digest(signature) != imprint.hashed_message.as_bytes() {
        return Err("its imprint is not the hash of the signature".into());
    }
    let [signer] = signed.signer_infos.0.as_slice() else {
        return Err(format!(
            "it has {} SignerInfos, not one",
            signed.signer_infos.0.len()
        ));
    };
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or("the SignerInfo has no signed attributes")?;
    let single = |oid: ObjectIdentifier, name: &str| {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        match (found.next(), found.next()) {
            (Some(a), None) => match a.values.as_slice() {
                [v] => Ok(v.clone()),
                _ => Err(format!(
                    "the {name} attribute has {} values",
                    a.values.len()
                )),
            },
            (None, _) => Err(format!("the signed attributes have no {name}")),
            (Some(_), Some(_)) => Err(format!("the signed attributes have {name} twice")),
        }
    };
    let content_type: ObjectIdentifier = single(ID_CONTENT_TYPE, "contentType")?
        .decode_as()
        .map_err(|e| format!("the contentType attribute: {e}"))?;
    if content_type != ID_CT_TST_INFO {
        return Err(format!(
            "the contentType attribute is {content_type}, not TSTInfo"
        ));
    }
    let digest: OctetString = single(ID_MESSAGE_DIGEST, "messageDigest")?
        .decode_as()
        .map_err(|e| format!("the messageDigest attribute: {e}"))?;
    let signer_hash = digest_algorithm(&signer.digest_alg, "SignerInfo digest")?;
    if signer.version != CmsVersion::V1 {
        return Err(format!(
            "its SignerInfo is {:?}, not V1 (as issuerAndSerialNumber needs)",
            signer.version
        ));
    }
    if !signed
        .digest_algorithms
        .iter()
        .any(|a| a.oid == signer.digest_alg.oid)
    {
        return Err("the SignerInfo's digest algorithm is not among the SignedData's".into());
    }
    if signer_hash.digest(tst_der) != digest.as_bytes() {
        return Err("the messageDigest attribute is not the digest of the TSTInfo".into());
    }
    let mut embedded = Vec::new();
    if let Some(set) = &signed.certificates {
        if set.0.len() > MAX_EMBEDDED_CERTIFICATES {
            return Err(format!(
                "it embeds {} certificates, more than the {MAX_EMBEDDED_CERTIFICATES} allowed",
                set.0.len()
            ));
        }
        for c in set.0.iter() {
            if let CertificateChoices::Certificate(c) = c {
                embedded.push(
                    c.to_der()
                        .map_err(|e| format!("an embedded certificate: {e}"))?,
                );
            }
        }
    }
    Ok(Token {
        gen_time: tst.gen_time.to_system_time(),
        signer: signer.clone(),
        embedded,
    })
}
