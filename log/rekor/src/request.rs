//! Decoding `POST /api/v2/log/entries` bodies: the protojson of
//! `dev.sigstore.rekor.v2.CreateEntryRequest` with the rules Go's protojson
//! applies (`../shared/specs/rekor-v2.md` §1.2):
//!
//! - every field by its lowerCamelCase JSON name or its snake_case proto
//!   name (both at once is a duplicate field);
//! - `bytes` as standard or URL-safe base64, padded or not;
//! - enums by name or number;
//! - `null` means "not set";
//! - unknown fields and duplicate keys are errors.
//!
//! Types here are syntax only; [`super::entry`] validates them.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::keys::KeyDetails;

/// Largest accepted request body (rekor-tiles' `--max-request-body-size`
/// default).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// Deepest JSON nesting serde_json accepts before failing (its built-in
/// recursion limit; never disabled here). A valid request nests 6 deep.
pub const MAX_JSON_DEPTH: usize = 128;

/// `CreateEntryRequest`: exactly one of its members must be set.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEntryRequest {
    /// hashedrekord v0.0.2.
    #[serde(
        rename = "hashedRekordRequestV002",
        alias = "hashed_rekord_request_v002",
        default
    )]
    pub hashed_rekord: Option<HashedRekordRequest>,
    /// dsse v0.0.2 (historic; rekor-tiles v2.0 to v2.2).
    #[serde(rename = "dsseRequestV002", alias = "dsse_request_v002", default)]
    pub dsse: Option<DsseRequest>,
}

/// `HashedRekordRequestV002`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashedRekordRequest {
    /// The artifact digest the signature covers.
    #[serde(default)]
    pub digest: Bytes,
    /// Signature and verifier.
    #[serde(default)]
    pub signature: Option<Signature>,
}

/// `Signature`: content plus the verifier that checks it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// The signature bytes.
    #[serde(default)]
    pub content: Bytes,
    /// Who signed.
    #[serde(default)]
    pub verifier: Option<Verifier>,
}

/// `Verifier`: a public key or a certificate, plus its key details.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verifier {
    /// A DER SubjectPublicKeyInfo.
    #[serde(rename = "publicKey", alias = "public_key", default)]
    pub public_key: Option<RawBytes>,
    /// A DER X.509 certificate.
    #[serde(rename = "x509Certificate", alias = "x509_certificate", default)]
    pub x509_certificate: Option<RawBytes>,
    /// The algorithm the client declares.
    #[serde(rename = "keyDetails", alias = "key_details", default)]
    pub key_details: KeyDetailsField,
}

/// `PublicKey` / `X509Certificate`: `{ "rawBytes": … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBytes {
    /// The DER bytes.
    #[serde(rename = "rawBytes", alias = "raw_bytes", default)]
    pub raw_bytes: Bytes,
}

/// `DSSERequestV002`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DsseRequest {
    /// The envelope.
    #[serde(default)]
    pub envelope: Option<Envelope>,
    /// Keys that may have signed it.
    #[serde(default)]
    pub verifiers: Option<Vec<Verifier>>,
}

/// `io.intoto.Envelope`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The payload.
    #[serde(default)]
    pub payload: Bytes,
    /// Its type.
    #[serde(rename = "payloadType", alias = "payload_type", default)]
    pub payload_type: Option<String>,
    /// Its signatures.
    #[serde(default)]
    pub signatures: Option<Vec<EnvelopeSignature>>,
}

/// `io.intoto.Signature`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    /// The signature over PAE(payloadType, payload).
    #[serde(default)]
    pub sig: Bytes,
    /// A key hint (not logged).
    #[serde(default)]
    pub keyid: Option<String>,
}

/// A protojson `bytes` field: base64 in any of its four variants; `null`
/// or absent is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(false);
const STANDARD_ANY_PADDING: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE_ANY_PADDING: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// Decodes protojson base64: standard or URL-safe alphabet, with or without
/// padding. Mixed alphabets are refused.
pub fn decode_proto_base64(s: &str) -> Option<Vec<u8>> {
    STANDARD_ANY_PADDING
        .decode(s)
        .or_else(|_| URL_SAFE_ANY_PADDING.decode(s))
        .ok()
}

/// Standard padded base64, as protojson writes `bytes`.
pub fn encode_base64(bytes: &[u8]) -> String {
    general_purpose::STANDARD.encode(bytes)
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Bytes, E> {
                decode_proto_base64(s)
                    .map(Bytes)
                    .ok_or_else(|| E::custom(format!("invalid base64 {:.40?}", s)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Bytes, E> {
                Ok(Bytes::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// The `keyDetails` enum field: by name or number; unset is
/// `PUBLIC_KEY_DETAILS_UNSPECIFIED`. Names and numbers islet does not
/// support are kept so the error can say which one was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KeyDetailsField {
    /// Not set (or 0).
    #[default]
    Unspecified,
    /// A value islet knows.
    Known(KeyDetails),
    /// Another enum value, by name or number.
    Other(String),
}

impl<'de> Deserialize<'de> for KeyDetailsField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyDetailsField;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a PublicKeyDetails name or number")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<KeyDetailsField, E> {
                Ok(match KeyDetails::from_name(s) {
                    Some(k) => KeyDetailsField::Known(k),
                    None if s == "PUBLIC_KEY_DETAILS_UNSPECIFIED" => KeyDetailsField::Unspecified,
                    None => KeyDetailsField::Other(format!("{s:.64}")),
                })
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<KeyDetailsField, E> {
                Ok(match KeyDetails::from_number(n) {
                    Some(k) => KeyDetailsField::Known(k),
                    None if n == 0 => KeyDetailsField::Unspecified,
                    None => KeyDetailsField::Other(n.to_string()),
                })
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<KeyDetailsField, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Ok(KeyDetailsField::Other(n.to_string())),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyDetailsField, E> {
                Ok(KeyDetailsField::Unspecified)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses a request body.
///
/// # Errors
/// [`crate::Error::BadRequest`] with serde_json's message (which names the
/// field and position).
pub fn parse_request(body: &[u8]) -> crate::Result<CreateEntryRequest> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(crate::Error::BadRequest {
            message: format!(
                "request body of {} bytes is over the {MAX_REQUEST_BYTES}-byte limit",
                body.len()
            ),
        });
    }
    serde_json::from_slice(body).map_err(|e| crate::Error::BadRequest {
        message: format!("invalid request: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_base64_variant_decodes_to_the_same_bytes() {
        let bytes = [0xfb_u8, 0xff, 0x01, 0x02];
        for s in ["+/8BAg==", "+/8BAg", "-_8BAg==", "-_8BAg"] {
            assert_eq!(decode_proto_base64(s).as_deref(), Some(&bytes[..]), "{s}");
        }
        assert!(decode_proto_base64("+_8BAg==").is_none(), "mixed alphabets");
        assert!(decode_proto_base64("not base64!").is_none());
    }

    #[test]
    fn both_field_name_styles_parse_and_both_at_once_do_not() {
        let camel = br#"{"hashedRekordRequestV002":{"digest":"AAAA","signature":{"content":"AAAA","verifier":{"publicKey":{"rawBytes":"AAAA"},"keyDetails":"PKIX_ECDSA_P256_SHA_256"}}}}"#;
        let snake = br#"{"hashed_rekord_request_v002":{"digest":"AAAA","signature":{"content":"AAAA","verifier":{"public_key":{"raw_bytes":"AAAA"},"key_details":5}}}}"#;
        let a = parse_request(camel).expect("camel");
        let b = parse_request(snake).expect("snake");
        let ka = &a
            .hashed_rekord
            .as_ref()
            .and_then(|h| h.signature.as_ref())
            .and_then(|s| s.verifier.as_ref())
            .expect("v")
            .key_details;
        let kb = &b
            .hashed_rekord
            .as_ref()
            .and_then(|h| h.signature.as_ref())
            .and_then(|s| s.verifier.as_ref())
            .expect("v")
            .key_details;
        assert_eq!(ka, kb);
        let both = br#"{"hashedRekordRequestV002":{"digest":"AAAA","digest":"AAAA"}}"#;
        assert!(parse_request(both).is_err());
        let both_styles =
            br#"{"hashedRekordRequestV002":{"signature":{"content":"AAAA","content":"AAAA"}}}"#;
        assert!(parse_request(both_styles).is_err());
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        let err = parse_request(br#"{"hashedRekordRequestV002":{"digest":"AAAA","extra":1}}"#)
            .expect_err("unknown");
        assert!(
            matches!(&err, crate::Error::BadRequest { message } if message.contains("extra")),
            "{err:?}"
        );
    }

    #[test]
    fn a_body_at_the_limit_is_parsed_and_one_byte_more_is_refused_unparsed() {
        let pad = MAX_REQUEST_BYTES - br#"{"hashedRekordRequestV002":{"digest":""}}"#.len();
        let at = format!(
            r#"{{"hashedRekordRequestV002":{{"digest":"{}"}}}}"#,
            "A".repeat(pad)
        );
        assert_eq!(at.len(), MAX_REQUEST_BYTES);
        assert!(parse_request(at.as_bytes()).is_ok());
        let over = format!(
            r#"{{"hashedRekordRequestV002":{{"digest":"{}"}}}}"#,
            "A".repeat(pad + 1)
        );
        let err = parse_request(over.as_bytes()).expect_err("over");
        assert!(
            matches!(&err, crate::Error::BadRequest { message } if message.contains("limit")),
            "{err:?}"
        );
    }
}
