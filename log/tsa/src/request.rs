//! Requests, in both forms the upstream service accepts: a DER
//! `TimeStampReq` (RFC 3161 §2.4.1) and the JSON form of
//! sigstore/timestamp-authority (`artifactHash`, `hashAlgorithm`,
//! `certificates`, `nonce`, `tsaPolicyOID`). Both parse into a
//! [`Request`], or into a [`Refusal`] that says why not.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use der::asn1::{AnyRef, Null, ObjectIdentifier, OctetStringRef};
use der::{Decode, DecodeValue, EncodeValue, FixedTag, Header, Reader, Sequence, Tag};
use serde::Deserialize;
use serde_json::value::RawValue;
use x509_cert::ext::Extension;
use x509_cert::spki::AlgorithmIdentifierRef;

use crate::encode;
use crate::hash::HashAlg;
use crate::oids;
use crate::refusal::{Refusal, RefusalReason};

/// Largest DER `TimeStampReq` accepted, in octets (a SHA-512 request with
/// a 64-octet nonce and a policy is well under 200).
pub const MAX_DER_REQUEST_BYTES: usize = 4096;
/// Largest JSON request accepted, in octets (as upstream).
pub const MAX_JSON_REQUEST_BYTES: usize = 1024;
/// Largest nonce accepted, in octets of its INTEGER content (clients send
/// 8; RFC 3161 suggests 64 bits).
pub const MAX_NONCE_BYTES: usize = 64;

/// A request both forms reduce to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// The imprint's hash algorithm.
    pub(crate) hash: HashAlg,
    /// The MessageImprint to copy into the TSTInfo (whole DER).
    pub(crate) imprint: Vec<u8>,
    /// The requested policy, if any.
    pub(crate) policy: Option<ObjectIdentifier>,
    /// The nonce's INTEGER content octets (minimal two's complement), if any.
    pub(crate) nonce: Option<Vec<u8>>,
    /// Whether the client asked for the signing certificate.
    pub(crate) cert_req: bool,
}

/// An INTEGER kept as its exact content octets (checked to be minimal),
/// of any size.
#[derive(Clone, Copy, Debug)]
struct RawInt<'a>(&'a [u8]);

impl<'a> DecodeValue<'a> for RawInt<'a> {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let bytes = reader.read_slice(header.length)?;
        if !minimal_integer(bytes) {
            return Err(Tag::Integer.non_canonical_error());
        }
        Ok(RawInt(bytes))
    }
}

impl EncodeValue for RawInt<'_> {
    fn value_len(&self) -> der::Result<der::Length> {
        der::Length::try_from(self.0.len())
    }

    fn encode_value(&self, writer: &mut impl der::Writer) -> der::Result<()> {
        writer.write(self.0)
    }
}

impl FixedTag for RawInt<'_> {
    const TAG: Tag = Tag::Integer;
}

/// Whether `content` is a DER INTEGER content: non-empty, no redundant
/// leading 0x00 or 0xFF octet.
fn minimal_integer(content: &[u8]) -> bool {
    match content {
        [] => false,
        [0x00, next, ..] => *next >= 0x80,
        [0xFF, next, ..] => *next < 0x80,
        _ => true,
    }
}

/// `TimeStampReq` as on the wire; the imprint is kept whole for copying.
#[derive(Sequence)]
struct TimeStampReq<'a> {
    version: RawInt<'a>,
    message_imprint: AnyRef<'a>,
    #[asn1(optional = "true")]
    req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    nonce: Option<RawInt<'a>>,
    #[asn1(default = "Default::default")]
    cert_req: bool,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

/// `MessageImprint`.
#[derive(Sequence)]
struct MessageImprint<'a> {
    hash_algorithm: AlgorithmIdentifierRef<'a>,
    hashed_message: OctetStringRef<'a>,
}

/// Parses a DER `TimeStampReq` (the body is at most
/// [`MAX_DER_REQUEST_BYTES`], checked by the caller).
pub(crate) fn parse_der(body: &[u8]) -> Result<Request, Refusal> {
    let req = TimeStampReq::from_der(body).map_err(|e| {
        Refusal::new(
            RefusalReason::Malformed,
            format!("the body is not a DER TimeStampReq: {e}"),
        )
    })?;
    if req.version.0 != [1] {
        return Err(Refusal::new(
            RefusalReason::BadVersion,
            "the TimeStampReq version must be 1".into(),
        ));
    }
    let imprint: MessageImprint<'_> = req.message_imprint.decode_as().map_err(|e| {
        Refusal::new(
            RefusalReason::Malformed,
            format!("the messageImprint is not a MessageImprint: {e}"),
        )
    })?;
    let hash = imprint_algorithm(&imprint.hash_algorithm)?;
    check_digest_len(hash, imprint.hashed_message.as_bytes().len())?;
    if let Some(exts) = &req.extensions {
        let oids: Vec<String> = exts.iter().map(|e| e.extn_id.to_string()).collect();
        return Err(Refusal::new(
            RefusalReason::UnacceptedExtension,
            format!("unaccepted extension: [{}]", oids.join(", ")),
        ));
    }
    let nonce = req.nonce.map(|n| n.0.to_vec());
    check_nonce(nonce.as_deref())?;
    let whole = encode::tlv(0x30, &[req.message_imprint.value()]);
    Ok(Request {
        hash,
        imprint: whole,
        policy: req.req_policy,
        nonce,
        cert_req: req.cert_req,
    })
}

/// The accepted hash algorithm of an imprint's AlgorithmIdentifier
/// (parameters absent or NULL).
fn imprint_algorithm(alg: &AlgorithmIdentifierRef<'_>) -> Result<HashAlg, Refusal> {
    if alg.oid == oids::SHA1 {
        return Err(Refusal::new(
            RefusalReason::WeakAlgorithm,
            "SHA-1 imprints are refused as weak".into(),
        ));
    }
    let Some(hash) = HashAlg::from_oid(&alg.oid) else {
        return Err(Refusal::new(
            RefusalReason::BadAlgorithm,
            format!(
                "unsupported imprint hash algorithm {} (only SHA-256, SHA-384, SHA-512)",
                alg.oid
            ),
        ));
    };
    match alg.parameters {
        None => Ok(hash),
        Some(p) if p.decode_as::<Null>().is_ok() => Ok(hash),
        Some(_) => Err(Refusal::new(
            RefusalReason::BadAlgorithm,
            format!(
                "the {} AlgorithmIdentifier has parameters other than NULL",
                hash.name()
            ),
        )),
    }
}

/// The digest has the algorithm's length.
fn check_digest_len(hash: HashAlg, len: usize) -> Result<(), Refusal> {
    if len == hash.digest_len() {
        return Ok(());
    }
    Err(Refusal::new(
        RefusalReason::BadDigestLength,
        format!(
            "the {} digest has {len} octets, expected {}",
            hash.name(),
            hash.digest_len()
        ),
    ))
}

/// The nonce fits [`MAX_NONCE_BYTES`].
fn check_nonce(nonce: Option<&[u8]>) -> Result<(), Refusal> {
    match nonce {
        Some(n) if n.len() > MAX_NONCE_BYTES => Err(Refusal::new(
            RefusalReason::NonceTooLarge,
            format!(
                "the nonce has {} octets, at most {MAX_NONCE_BYTES} are accepted",
                n.len()
            ),
        )),
        _ => Ok(()),
    }
}

/// The JSON form (upstream `JSONRequest`); unknown members are ignored,
/// as upstream does.
#[derive(Deserialize)]
struct JsonRequest<'a> {
    #[serde(rename = "artifactHash")]
    artifact_hash: String,
    #[serde(rename = "hashAlgorithm")]
    hash_algorithm: String,
    #[serde(default)]
    certificates: Option<bool>,
    #[serde(borrow, default)]
    nonce: Option<&'a RawValue>,
    #[serde(rename = "tsaPolicyOID", default)]
    tsa_policy_oid: Option<String>,
}

/// Parses the JSON form (the body is at most [`MAX_JSON_REQUEST_BYTES`],
/// checked by the caller).
pub(crate) fn parse_json(body: &[u8]) -> Result<Request, Refusal> {
    // JSON is UTF-8 (RFC 8259 §8.1). serde_json skips the strings of
    // unknown members without checking them, so the whole body is checked
    // here: a request that is not UTF-8 is refused, wherever its bad octet.
    let text = std::str::from_utf8(body).map_err(|e| {
        Refusal::new(
            RefusalReason::Malformed,
            format!("the body is not a JSON timestamp request: it is not UTF-8 ({e})"),
        )
    })?;
    let req: JsonRequest<'_> = serde_json::from_str(text).map_err(|e| {
        Refusal::new(
            RefusalReason::Malformed,
            format!("the body is not a JSON timestamp request: {e}"),
        )
    })?;
    let Some(hash) = HashAlg::from_name(&req.hash_algorithm) else {
        let (reason, detail) = if req.hash_algorithm.eq_ignore_ascii_case("sha1") {
            (
                RefusalReason::WeakAlgorithm,
                "SHA-1 imprints are refused as weak".into(),
            )
        } else {
            (
                RefusalReason::BadAlgorithm,
                format!(
                    "unsupported hashAlgorithm {:?} (only sha256, sha384, sha512)",
                    req.hash_algorithm
                ),
            )
        };
        return Err(Refusal::new(reason, detail));
    };
    let digest = B64.decode(req.artifact_hash.as_bytes()).map_err(|e| {
        Refusal::new(
            RefusalReason::Malformed,
            format!("artifactHash is not standard base64: {e}"),
        )
    })?;
    check_digest_len(hash, digest.len())?;
    let nonce = match req.nonce {
        None => None,
        Some(raw) if raw.get() == "null" => None,
        Some(raw) => Some(decimal_to_integer(raw.get()).ok_or_else(|| {
            Refusal::new(
                RefusalReason::Malformed,
                format!("nonce {} is not a JSON integer", raw.get()),
            )
        })?),
    };
    check_nonce(nonce.as_deref())?;
    let policy = match req.tsa_policy_oid.as_deref() {
        None | Some("") => None,
        Some(text) => Some(ObjectIdentifier::new(text).map_err(|_| {
            Refusal::new(
                RefusalReason::Malformed,
                format!("tsaPolicyOID {text:?} is not a dotted object identifier"),
            )
        })?),
    };
    let null = [0x05, 0x00];
    let alg = encode::sequence(&[&encode::oid(&hash.oid()), &null]);
    let imprint = encode::sequence(&[&alg, &encode::tlv(encode::OCTET_STRING, &[&digest])]);
    Ok(Request {
        hash,
        imprint,
        policy,
        nonce,
        cert_req: req.certificates.unwrap_or(false),
    })
}

/// The DER INTEGER content octets of a JSON integer (`-?[0-9]+`, any
/// size; fractions and exponents refused, as Go's big.Int does).
fn decimal_to_integer(text: &str) -> Option<Vec<u8>> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Magnitude, big-endian, by repeated multiply-and-add.
    let mut magnitude: Vec<u8> = Vec::new();
    for d in digits.bytes() {
        let mut carry = u32::from(d - b'0');
        for byte in magnitude.iter_mut().rev() {
            let v = u32::from(*byte) * 10 + carry;
            *byte = (v & 0xff) as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            magnitude.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let skip = magnitude.iter().take_while(|b| **b == 0).count();
    let mut magnitude = magnitude.split_off(skip);
    if magnitude.is_empty() {
        return Some(vec![0]);
    }
    if !negative {
        if magnitude[0] & 0x80 != 0 {
            magnitude.insert(0, 0);
        }
        return Some(magnitude);
    }
    // Two's complement of the magnitude, one octet wider, then trimmed.
    magnitude.insert(0, 0);
    for byte in magnitude.iter_mut() {
        *byte = !*byte;
    }
    for byte in magnitude.iter_mut().rev() {
        let (v, overflow) = byte.overflowing_add(1);
        *byte = v;
        if !overflow {
            break;
        }
    }
    while magnitude.len() > 1 && magnitude[0] == 0xFF && magnitude[1] & 0x80 != 0 {
        magnitude.remove(0);
    }
    Some(magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_nonces_are_exact() {
        // Expected octets written out by hand (two's complement, minimal).
        assert_eq!(decimal_to_integer("0"), Some(vec![0]));
        assert_eq!(decimal_to_integer("-0"), Some(vec![0]));
        assert_eq!(decimal_to_integer("127"), Some(vec![0x7f]));
        assert_eq!(decimal_to_integer("128"), Some(vec![0x00, 0x80]));
        assert_eq!(decimal_to_integer("256"), Some(vec![0x01, 0x00]));
        assert_eq!(decimal_to_integer("-1"), Some(vec![0xff]));
        assert_eq!(decimal_to_integer("-128"), Some(vec![0x80]));
        assert_eq!(decimal_to_integer("-129"), Some(vec![0xff, 0x7f]));
        assert_eq!(decimal_to_integer("-256"), Some(vec![0xff, 0x00]));
        // 2^64 + 1 and 18446744073709551615 = 2^64 - 1.
        assert_eq!(
            decimal_to_integer("18446744073709551617"),
            Some(vec![1, 0, 0, 0, 0, 0, 0, 0, 1])
        );
        assert_eq!(
            decimal_to_integer("18446744073709551615"),
            Some(vec![0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        );
        for bad in ["", "-", "1.0", "1e3", "0x10", " 1", "+1"] {
            assert_eq!(decimal_to_integer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_json_body_that_is_not_utf8_is_refused_even_in_an_unknown_member() {
        // Found by the tsa_request fuzz target: serde_json skips the string
        // of an unknown member without checking its octets.
        let good = br#"{"artifactHash":"LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=","hashAlgorithm":"sha256","x":"1.2"}"#;
        assert!(parse_json(good).is_ok());
        let mut bad = good.to_vec();
        let at = bad.len() - 4; // the '.' of "1.2"
        bad[at] = 0xda;
        let Err(refusal) = parse_json(&bad) else {
            panic!("a body that is not UTF-8 was accepted");
        };
        assert_eq!(refusal.reason, RefusalReason::Malformed);
        assert!(refusal.detail.contains("not UTF-8"), "{}", refusal.detail);
    }

    #[test]
    fn minimal_integers() {
        assert!(minimal_integer(&[0]));
        assert!(minimal_integer(&[0, 0x80]));
        assert!(minimal_integer(&[0xff, 0x7f]));
        assert!(!minimal_integer(&[]));
        assert!(!minimal_integer(&[0, 0x7f]));
        assert!(!minimal_integer(&[0xff, 0x80]));
    }
}
