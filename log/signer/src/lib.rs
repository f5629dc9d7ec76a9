//! # islet-signer
//!
//! The keys islet signs notes with: Ed25519 log keys (type 0x01), ECDSA
//! P-256 log keys (type 0x02, as Rekor v2 logs with ECDSA keys sign) and
//! Ed25519 `cosignature/v1` keys (type 0x04) for mirrors and witnesses;
//! their key files (PKCS#8 PEM or DER, Go-style `PRIVATE+KEY+` signer keys)
//! and key generation.
//!
//! Signing needs what the spec crate `islet-tlog` must never have: the
//! system's randomness (key generation, ECDSA) and clock (cosignature
//! timestamps). Everything else about notes (syntax, verifiers, key IDs)
//! lives there; this crate depends on it and on nothing of storage or HTTP.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use islet_tlog::error::{Error, Result};
use islet_tlog::note::{
    Note, NoteSignature, NoteSigner, NoteVerifier, PublicKey, TYPE_COSIGNATURE_V1, TYPE_ECDSA,
    TYPE_ED25519, cosignature_v1_message, ed25519_key, ed25519_spki, is_valid_key_name,
    standard_key_id,
};

/// An Ed25519 note signer (type 0x01): what islet logs sign checkpoints with.
pub struct Ed25519Signer {
    name: String,
    key_id: u32,
    pair: Ed25519KeyPair,
    public: [u8; 32],
    verifier: NoteVerifier,
}

impl std::fmt::Debug for Ed25519Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ed25519Signer({}+{:08x})", self.name, self.key_id)
    }
}

fn ed25519_pair_from_seed(seed: &[u8]) -> Result<(Ed25519KeyPair, [u8; 32])> {
    let pair = Ed25519KeyPair::from_seed_unchecked(seed).map_err(|_| Error::BadKey {
        key_type: TYPE_ED25519,
        reason: "Ed25519 seed must be 32 bytes".into(),
    })?;
    let public = ed25519_key(TYPE_ED25519, pair.public_key().as_ref())?;
    Ok((pair, public))
}

fn check_signer_name(name: &str) -> Result<()> {
    if is_valid_key_name(name) {
        Ok(())
    } else {
        Err(Error::MalformedKey {
            reason: format!("invalid key name {name:?}"),
        })
    }
}

impl Ed25519Signer {
    fn from_pair(name: &str, pair: Ed25519KeyPair, public: [u8; 32]) -> Result<Self> {
        let verifier = NoteVerifier::new(name, PublicKey::Ed25519(public))?;
        Ok(Self {
            name: name.to_owned(),
            key_id: verifier.key_id(),
            pair,
            public,
            verifier,
        })
    }

    /// A signer from a 32-byte RFC 8032 seed.
    ///
    /// # Errors
    /// [`Error::MalformedKey`] for an invalid name, [`Error::BadKey`] for a
    /// seed that is not 32 bytes.
    pub fn from_seed(name: &str, seed: &[u8]) -> Result<Self> {
        check_signer_name(name)?;
        let (pair, public) = ed25519_pair_from_seed(seed)?;
        Self::from_pair(name, pair, public)
    }

    /// A signer from a PKCS#8 Ed25519 private key (PEM or DER).
    ///
    /// # Errors
    /// [`Error::BadKey`] when the key is not a PKCS#8 Ed25519 key.
    pub fn from_pkcs8(name: &str, pem_or_der: &[u8]) -> Result<Self> {
        check_signer_name(name)?;
        let der = pem_contents(pem_or_der, "PRIVATE KEY", TYPE_ED25519)?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|e| Error::BadKey {
            key_type: TYPE_ED25519,
            reason: format!("not a PKCS#8 Ed25519 private key: {e}"),
        })?;
        let public = ed25519_key(TYPE_ED25519, pair.public_key().as_ref())?;
        Self::from_pair(name, pair, public)
    }

    /// A new random key.
    ///
    /// # Errors
    /// [`Error::Signing`] when the system RNG fails.
    pub fn generate(name: &str) -> Result<(Self, Vec<u8>)> {
        check_signer_name(name)?;
        let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|e| Error::Signing(e.to_string()))?;
        let signer = Self::from_pkcs8(name, doc.as_ref())?;
        Ok((signer, doc.as_ref().to_vec()))
    }

    /// Parses a Go-style signer key `PRIVATE+KEY+<name>+<id>+<base64(0x01 || seed)>`.
    ///
    /// # Errors
    /// [`Error::MalformedKey`], [`Error::KeyIdMismatch`] or
    /// [`Error::UnsupportedKeyType`] for a key of another type.
    pub fn from_skey(skey: &str) -> Result<Self> {
        let (name, seed) = parse_skey(skey, TYPE_ED25519)?;
        Self::from_seed(&name, &seed)
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The public key as a DER SubjectPublicKeyInfo (what trusted roots
    /// carry as `publicKey.rawBytes`).
    pub fn spki(&self) -> Vec<u8> {
        ed25519_spki(&self.public)
    }
}

/// Parses `PRIVATE+KEY+<name>+<id>+<base64(type || 32-byte seed)>` for an
/// Ed25519-based key type, checking the key ID against the derived key.
fn parse_skey(skey: &str, want_type: u8) -> Result<(String, [u8; 32])> {
    let bad = |reason: &str| Error::MalformedKey {
        reason: reason.into(),
    };
    let rest = skey
        .strip_prefix("PRIVATE+KEY+")
        .ok_or_else(|| bad("signer key does not start with PRIVATE+KEY+"))?;
    let mut parts = rest.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected PRIVATE+KEY+<name>+<key ID>+<key>"));
    };
    check_signer_name(name)?;
    let given = u32::from_str_radix(id_hex, 16).map_err(|_| bad("key ID is not hex"))?;
    let raw = B64
        .decode(key_b64)
        .map_err(|_| bad("key is not canonical base64"))?;
    let Some((&key_type, seed)) = raw.split_first() else {
        return Err(bad("empty key"));
    };
    if key_type != want_type {
        return Err(Error::UnsupportedKeyType { key_type });
    }
    let (_, public) = ed25519_pair_from_seed(seed)?;
    let computed = standard_key_id(name, key_type, &public);
    if computed != given {
        return Err(Error::KeyIdMismatch {
            name: name.to_owned(),
            given,
            computed,
        });
    }
    let seed = seed.try_into().map_err(|_| bad("seed is not 32 bytes"))?;
    Ok((name.to_owned(), seed))
}

fn pem_contents(pem_or_der: &[u8], tag_suffix: &str, key_type: u8) -> Result<Vec<u8>> {
    match pem::parse(pem_or_der) {
        Ok(p) if p.tag().ends_with(tag_suffix) => Ok(p.into_contents()),
        Ok(p) => Err(Error::BadKey {
            key_type,
            reason: format!("PEM block is {:?}, expected {tag_suffix}", p.tag()),
        }),
        Err(_) => Ok(pem_or_der.to_vec()),
    }
}

impl NoteSigner for Ed25519Signer {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, text: &str) -> Result<Vec<u8>> {
        Ok(self.pair.sign(text.as_bytes()).as_ref().to_vec())
    }
    fn verifier(&self) -> NoteVerifier {
        self.verifier.clone()
    }
}

/// An ECDSA P-256 note signer (type 0x02 key ID rule; ASN.1 DER signature
/// over SHA-256 of the text), as Rekor v2 logs with ECDSA keys sign.
pub struct EcdsaP256Signer {
    name: String,
    key_id: u32,
    pair: EcdsaKeyPair,
    spki: Vec<u8>,
    verifier: NoteVerifier,
}

impl std::fmt::Debug for EcdsaP256Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EcdsaP256Signer({}+{:08x})", self.name, self.key_id)
    }
}

impl EcdsaP256Signer {
    /// A signer from a PKCS#8 P-256 private key (PEM or DER).
    ///
    /// # Errors
    /// [`Error::BadKey`] when the key is not a PKCS#8 P-256 key.
    pub fn from_pkcs8(name: &str, pem_or_der: &[u8]) -> Result<Self> {
        check_signer_name(name)?;
        let der = pem_contents(pem_or_der, "PRIVATE KEY", TYPE_ECDSA)?;
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der).map_err(|e| {
                Error::BadKey {
                    key_type: TYPE_ECDSA,
                    reason: format!("not a PKCS#8 P-256 private key: {e}"),
                }
            })?;
        let spki = pair
            .public_key()
            .as_der()
            .map_err(|e| Error::Signing(e.to_string()))?
            .as_ref()
            .to_vec();
        let point = pair.public_key().as_ref().to_vec();
        let verifier = NoteVerifier::new(
            name,
            PublicKey::EcdsaP256 {
                spki: spki.clone(),
                point,
            },
        )?;
        Ok(Self {
            name: name.to_owned(),
            key_id: verifier.key_id(),
            pair,
            spki,
            verifier,
        })
    }

    /// A new random key; returns the signer and its PKCS#8 DER.
    ///
    /// # Errors
    /// [`Error::Signing`] when the system RNG fails.
    pub fn generate(name: &str) -> Result<(Self, Vec<u8>)> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .map_err(|e| Error::Signing(e.to_string()))?;
        let signer = Self::from_pkcs8(name, doc.as_ref())?;
        Ok((signer, doc.as_ref().to_vec()))
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }
}

impl NoteSigner for EcdsaP256Signer {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, text: &str) -> Result<Vec<u8>> {
        self.pair
            .sign(&SystemRandom::new(), text.as_bytes())
            .map(|s| s.as_ref().to_vec())
            .map_err(|e| Error::Signing(e.to_string()))
    }
    fn verifier(&self) -> NoteVerifier {
        self.verifier.clone()
    }
}

/// An Ed25519 `cosignature/v1` signer (type 0x04), for mirrors and witnesses.
pub struct CosignatureV1Signer {
    inner: Ed25519Signer,
    key_id: u32,
    clock: fn() -> u64,
    verifier: NoteVerifier,
}

impl std::fmt::Debug for CosignatureV1Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CosignatureV1Signer({}+{:08x})",
            self.inner.name, self.key_id
        )
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl CosignatureV1Signer {
    fn wrap(inner: Ed25519Signer) -> Result<Self> {
        let verifier = NoteVerifier::new(&inner.name, PublicKey::CosignatureV1(inner.public))?;
        Ok(Self {
            key_id: verifier.key_id(),
            inner,
            clock: unix_now,
            verifier,
        })
    }

    /// A cosigner from a 32-byte Ed25519 seed, timestamping with the system
    /// clock.
    ///
    /// # Errors
    /// As [`Ed25519Signer::from_seed`].
    pub fn from_seed(name: &str, seed: &[u8]) -> Result<Self> {
        let inner = Ed25519Signer::from_seed(name, seed)?;
        Self::wrap(inner)
    }

    /// A cosigner from a PKCS#8 Ed25519 private key (PEM or DER).
    ///
    /// # Errors
    /// As [`Ed25519Signer::from_pkcs8`].
    pub fn from_pkcs8(name: &str, pem_or_der: &[u8]) -> Result<Self> {
        let inner = Ed25519Signer::from_pkcs8(name, pem_or_der)?;
        Self::wrap(inner)
    }

    /// Adds this cosigner's signature line (as of now) to a signed note,
    /// after the lines it has.
    ///
    /// # Errors
    /// [`Error::MalformedNote`] when `note` does not parse.
    pub fn cosign(&self, note: &[u8]) -> Result<Vec<u8>> {
        let mut parsed = Note::parse(note)?;
        let sig = self.sign_at(&parsed.text, (self.clock)());
        parsed.signatures.push(NoteSignature {
            name: self.inner.name.clone(),
            key_id: self.key_id,
            signature: sig,
        });
        Ok(parsed.to_bytes())
    }

    /// Parses a Go-style cosigner key `PRIVATE+KEY+<name>+<id>+<base64(0x04 || seed)>`.
    ///
    /// # Errors
    /// As [`Ed25519Signer::from_skey`].
    pub fn from_skey(skey: &str) -> Result<Self> {
        let (name, seed) = parse_skey(skey, TYPE_COSIGNATURE_V1)?;
        Self::from_seed(&name, &seed)
    }

    /// Signs `text` as of `timestamp`: returns timestamp (u64 BE) || signature.
    pub fn sign_at(&self, text: &str, timestamp: u64) -> Vec<u8> {
        let sig = self
            .inner
            .pair
            .sign(&cosignature_v1_message(text, timestamp));
        let mut out = timestamp.to_be_bytes().to_vec();
        out.extend_from_slice(sig.as_ref());
        out
    }
}

impl NoteSigner for CosignatureV1Signer {
    fn name(&self) -> &str {
        &self.inner.name
    }
    fn key_id(&self) -> u32 {
        self.key_id
    }
    fn sign(&self, text: &str) -> Result<Vec<u8>> {
        Ok(self.sign_at(text, (self.clock)()))
    }
    fn verifier(&self) -> NoteVerifier {
        self.verifier.clone()
    }
}
