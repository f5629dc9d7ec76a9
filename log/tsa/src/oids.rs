//! The object identifiers of RFC 3161, RFC 5652, RFC 5035 and RFC 5280
//! that the authority reads or writes.

use der::asn1::ObjectIdentifier as Oid;

/// id-sha256 (NIST).
pub(crate) const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
/// id-sha384 (NIST).
pub(crate) const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
/// id-sha512 (NIST).
pub(crate) const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
/// id-sha1 (OIW): weak, always refused.
pub(crate) const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
/// ecdsa-with-SHA256.
pub(crate) const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
/// ecdsa-with-SHA384.
pub(crate) const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
/// id-ecPublicKey.
pub(crate) const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
/// The NIST P-256 curve (secp256r1).
pub(crate) const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
/// The NIST P-384 curve (secp384r1).
pub(crate) const P384: Oid = Oid::new_unwrap("1.3.132.0.34");
/// id-signedData (CMS).
pub(crate) const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
/// id-ct-TSTInfo.
pub(crate) const TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// id-contentType attribute.
pub(crate) const ATTR_CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
/// id-messageDigest attribute.
pub(crate) const ATTR_MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
/// id-signingTime attribute.
pub(crate) const ATTR_SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
/// id-aa-signingCertificateV2 attribute (RFC 5035).
pub(crate) const ATTR_SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// id-kp-timeStamping.
pub(crate) const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
/// anyExtendedKeyUsage.
pub(crate) const ANY_EKU: Oid = Oid::new_unwrap("2.5.29.37.0");
/// Extension: basicConstraints.
pub(crate) const EXT_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
/// Extension: keyUsage.
pub(crate) const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
/// Extension: extKeyUsage.
pub(crate) const EXT_EXTENDED_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
/// Extensions a certificate of the chain may mark critical besides the
/// three above (RFC 5280 §4.2): SAN, name constraints, policies, policy
/// constraints and mappings, inhibitAnyPolicy.
pub(crate) const OTHER_KNOWN_CRITICAL: [Oid; 6] = [
    Oid::new_unwrap("2.5.29.17"),
    Oid::new_unwrap("2.5.29.30"),
    Oid::new_unwrap("2.5.29.32"),
    Oid::new_unwrap("2.5.29.36"),
    Oid::new_unwrap("2.5.29.33"),
    Oid::new_unwrap("2.5.29.54"),
];
