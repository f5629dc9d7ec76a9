//! The identity a Fulcio certificate binds (its SAN and OIDC issuer), and
//! the policy it must match.
//!
//! SAN: the first URI, else the first email, else the first otherName of
//! type 1.3.6.1.4.1.57264.1.7 (a UTF8String), as sigstore-go summarizes a
//! certificate. Issuer: extension 1.3.6.1.4.1.57264.1.8 (a DER
//! UTF8String), else the deprecated 1.3.6.1.4.1.57264.1.1 (raw bytes).
//! Regular expressions have RE2 semantics (the `regex` crate) and match
//! anywhere in the value, as cosign's do.

use const_oid::ObjectIdentifier;
use der::Decode;
use der::asn1::Utf8StringRef;
use regex::{Regex, RegexBuilder};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::failure::{Check, Failure};
use crate::pki::Cert;

/// Longest regular expression accepted (characters).
pub const MAX_REGEX_LENGTH: usize = 1024;

/// Most memory a compiled regular expression may take (bytes).
pub const REGEX_SIZE_LIMIT: usize = 1024 * 1024;

/// otherName type of a Fulcio username SAN.
const OTHERNAME_USERNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// OIDC issuer (V2, DER UTF8String).
const ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// OIDC issuer (deprecated, raw bytes).
const ISSUER_V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");

/// What a certificate says about its subject.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    /// The SAN value.
    pub san: String,
    /// The OIDC issuer, when the certificate names one.
    pub issuer: Option<String>,
}

/// Reads the identity of the certificate `leaf_der`.
///
/// # Errors
/// [`Check::Identity`]: the certificate does not parse, has no usable SAN,
/// or an issuer extension that is not a string.
pub fn identity(leaf_der: &[u8]) -> Result<Identity, Failure> {
    let fail = |r: String| Failure::new(Check::Identity, r);
    let leaf = Cert::parse(leaf_der).map_err(|e| fail(format!("the signing certificate: {e}")))?;
    let tbs = &leaf.cert.tbs_certificate;
    let (_, SubjectAltName(names)) = tbs
        .get::<SubjectAltName>()
        .map_err(|e| fail(format!("the subjectAltName extension does not parse: {e}")))?
        .ok_or_else(|| fail("the certificate has no subjectAltName".into()))?;
    let uri = names.iter().find_map(|n| match n {
        GeneralName::UniformResourceIdentifier(u) => Some(u.to_string()),
        _ => None,
    });
    let email = || {
        names.iter().find_map(|n| match n {
            GeneralName::Rfc822Name(e) => Some(e.to_string()),
            _ => None,
        })
    };
    let other = || {
        names.iter().find_map(|n| match n {
            GeneralName::OtherName(o) if o.type_id == OTHERNAME_USERNAME => Some(
                o.value
                    .decode_as::<Utf8StringRef<'_>>()
                    .map(|s| s.to_string())
                    .map_err(|e| fail(format!("the username SAN is not a UTF8String: {e}"))),
            ),
            _ => None,
        })
    };
    let san = match uri.or_else(email) {
        Some(s) => s,
        None => other()
            .transpose()?
            .ok_or_else(|| fail("the certificate has no URI, email or username SAN".into()))?,
    };
    let exts = tbs.extensions.as_deref().unwrap_or(&[]);
    let issuer = if let Some(e) = exts.iter().find(|e| e.extn_id == ISSUER_V2) {
        Some(
            Utf8StringRef::from_der(e.extn_value.as_bytes())
                .map_err(|x| {
                    fail(format!(
                        "the OIDC issuer extension is not a UTF8String: {x}"
                    ))
                })?
                .to_string(),
        )
    } else if let Some(e) = exts.iter().find(|e| e.extn_id == ISSUER_V1) {
        Some(
            String::from_utf8(e.extn_value.as_bytes().to_vec())
                .map_err(|_| fail("the OIDC issuer extension (v1) is not UTF-8".into()))?,
        )
    } else {
        None
    };
    Ok(Identity { san, issuer })
}

/// The identity a certificate must have: for the SAN and for the issuer,
/// an exact value, a regular expression, or both (then both must hold).
#[derive(Debug, Clone)]
pub struct IdentityPolicy {
    identity: Option<String>,
    identity_regexp: Option<Regex>,
    issuer: Option<String>,
    issuer_regexp: Option<Regex>,
}

fn compile(pattern: &str, flag: &str) -> Result<Regex, Failure> {
    if pattern.chars().count() > MAX_REGEX_LENGTH {
        return Err(Failure::new(
            Check::Policy,
            format!("{flag} is longer than {MAX_REGEX_LENGTH} characters"),
        ));
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| Failure::new(Check::Policy, format!("{flag} {pattern:?}: {e}")))
}

impl IdentityPolicy {
    /// A policy. It needs a SAN criterion (`identity` or
    /// `identity_regexp`) and an issuer criterion (`issuer` or
    /// `issuer_regexp`), as sigstore-go does; a certificate without an
    /// issuer matches only an issuer regular expression that matches the
    /// empty string (such as `.*`).
    ///
    /// # Errors
    /// [`Check::Policy`]: a missing criterion, a regular expression that
    /// does not compile, is longer than [`MAX_REGEX_LENGTH`] or needs more
    /// than [`REGEX_SIZE_LIMIT`].
    pub fn new(
        identity: Option<String>,
        identity_regexp: Option<&str>,
        issuer: Option<String>,
        issuer_regexp: Option<&str>,
    ) -> Result<IdentityPolicy, Failure> {
        if identity.is_none() && identity_regexp.is_none() {
            return Err(Failure::new(
                Check::Policy,
                "an identity policy needs --certificate-identity or --certificate-identity-regexp",
            ));
        }
        if issuer.is_none() && issuer_regexp.is_none() {
            return Err(Failure::new(
                Check::Policy,
                "an identity policy needs --certificate-oidc-issuer or --certificate-oidc-issuer-regexp",
            ));
        }
        Ok(IdentityPolicy {
            identity,
            identity_regexp: identity_regexp
                .map(|p| compile(p, "--certificate-identity-regexp"))
                .transpose()?,
            issuer,
            issuer_regexp: issuer_regexp
                .map(|p| compile(p, "--certificate-oidc-issuer-regexp"))
                .transpose()?,
        })
    }

    /// Checks `id` against the policy.
    ///
    /// # Errors
    /// [`Check::Identity`], naming what was expected and what the
    /// certificate has.
    pub fn check(&self, id: &Identity) -> Result<(), Failure> {
        let fail = |r: String| Failure::new(Check::Identity, r);
        if let Some(want) = &self.identity
            && *want != id.san
        {
            return Err(fail(format!(
                "the certificate's identity is {:?}, the policy expects {want:?}",
                id.san
            )));
        }
        if let Some(re) = &self.identity_regexp
            && !re.is_match(&id.san)
        {
            return Err(fail(format!(
                "the certificate's identity {:?} does not match {:?}",
                id.san,
                re.as_str()
            )));
        }
        let issuer = id.issuer.as_deref();
        let shown = issuer.map_or("no OIDC issuer".to_owned(), |i| format!("{i:?}"));
        if let Some(want) = &self.issuer
            && Some(want.as_str()) != issuer
        {
            return Err(fail(format!(
                "the certificate's OIDC issuer is {shown}, the policy expects {want:?}"
            )));
        }
        if let Some(re) = &self.issuer_regexp
            && !re.is_match(issuer.unwrap_or(""))
        {
            return Err(fail(format!(
                "the certificate's OIDC issuer ({shown}) does not match {:?}",
                re.as_str()
            )));
        }
        Ok(())
    }
}
