//! Helpers shared by the TSA tests: a fresh chain, an authority, OpenSSL,
//! and an independent reader of replies (RustCrypto's x509-tsp and cms
//! types plus aws-lc-rs verification; none of the crate's own code).

#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA384_ASN1, EcdsaVerificationAlgorithm, UnparsedPublicKey,
};
use cms::cert::CertificateChoices;
use cms::content_info::CmsVersion;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec, UtcTime};
use der::{Decode, Encode, Sequence};
use islet_tsa::{
    ChainParams, IssuedChain, SerialNumber, TimestampAuthority, TsaConfig, TsaKeyType, issue_chain,
};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber as CertSerial;
use x509_tsp::{TimeStampResp, TstInfo};

pub const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
pub const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
pub const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
pub const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
pub const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
pub const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub const SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
pub const SIGNING_CERT_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
pub const SIGSTORE_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2");

/// A fresh chain valid from an hour ago for a year.
pub fn fresh_chain(key_type: TsaKeyType) -> IssuedChain {
    issue_chain(&ChainParams {
        organization: "islet test".into(),
        common_name: "islet test TSA".into(),
        not_before: SystemTime::now() - Duration::from_secs(3600),
        validity: Duration::from_secs(365 * 86400),
        key_type,
    })
    .expect("issue a chain")
}

/// An authority over `chain` with `config`.
pub fn authority(chain: &IssuedChain, config: TsaConfig) -> TimestampAuthority {
    TimestampAuthority::new(chain.key_pem.as_bytes(), chain.chain_pem.as_bytes(), config)
        .expect("the issued chain passes the checks")
}

/// Serial number `n` (distinct per test call).
pub fn serial(n: u8) -> SerialNumber {
    let mut b = [0u8; 20];
    b[0] = 0x12;
    b[19] = n;
    SerialNumber::from_bytes(b)
}

/// The digest of `data` with the hash named by `oid`.
pub fn hash(oid: &ObjectIdentifier, data: &[u8]) -> Vec<u8> {
    let alg = if *oid == SHA256 {
        &digest::SHA256
    } else if *oid == SHA384 {
        &digest::SHA384
    } else if *oid == SHA512 {
        &digest::SHA512
    } else {
        panic!("no hash {oid}")
    };
    digest::digest(alg, data).as_ref().to_vec()
}

/// Runs `openssl` with `args` in `dir`. A missing openssl fails the test.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (Debian openssl 3): it is the independent checker")
}

/// stdout and stderr of an OpenSSL run, as one string.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// ESSCertIDv2 with the hashAlgorithm omitted (decoding fails if it is
/// present, which is what the tests want: SHA-256 is the DER default).
#[derive(Sequence)]
pub struct EssCertIdV2Default {
    pub cert_hash: OctetString,
    pub issuer_serial: IssuerSerial,
}

/// IssuerSerial (RFC 5035).
#[derive(Sequence)]
pub struct IssuerSerial {
    pub issuer: Vec<GeneralName>,
    pub serial: CertSerial,
}

/// SigningCertificateV2 (RFC 5035), without policies.
#[derive(Sequence)]
pub struct SigningCertificateV2 {
    pub certs: Vec<EssCertIdV2Default>,
}

/// What a granted reply held, read independently.
pub struct Reply {
    pub tst: TstInfo,
    pub tst_der: Vec<u8>,
    pub signed_data: SignedData,
    pub signer: SignerInfo,
    pub certs: Vec<Vec<u8>>,
    pub signing_time: UtcTime,
}

/// Reads a granted reply and checks everything that does not depend on
/// the request: status, CMS structure, signed attributes (sorted,
/// contentType, messageDigest, signingCertificateV2 against the leaf DER,
/// issuer bytes), the ECDSA signature with the leaf's key, TSTInfo
/// version, accuracy, ordering and tsa name.
pub fn read_reply(body: &[u8], leaf_der: &[u8]) -> Reply {
    let resp = TimeStampResp::from_der(body).expect("a DER TimeStampResp");
    assert_eq!(resp.status.status as u8, 0, "status granted");
    assert!(resp.status.fail_info.is_none());
    let token = resp.time_stamp_token.expect("a token");
    assert_eq!(token.content_type, SIGNED_DATA);
    let sd: SignedData = token.content.decode_as().expect("SignedData");
    assert_eq!(sd.version, CmsVersion::V3);
    assert!(sd.crls.is_none());
    assert_eq!(sd.encap_content_info.econtent_type, TST_INFO);
    let econtent = sd.encap_content_info.econtent.as_ref().expect("eContent");
    let tst_der = econtent
        .decode_as::<OctetString>()
        .expect("eContent OCTET STRING")
        .as_bytes()
        .to_vec();
    let tst = TstInfo::from_der(&tst_der).expect("TSTInfo");
    assert_eq!(sd.signer_infos.0.len(), 1, "exactly one SignerInfo");
    let signer = sd.signer_infos.0.get(0).expect("signer").clone();
    assert_eq!(signer.version, CmsVersion::V1);
    assert!(signer.unsigned_attrs.is_none());

    let leaf = Certificate::from_der(leaf_der).expect("leaf");
    // sid: issuerAndSerialNumber with the leaf's issuer bytes and serial.
    let SignerIdentifier::IssuerAndSerialNumber(sid) = &signer.sid else {
        panic!("sid must be issuerAndSerialNumber")
    };
    assert_eq!(
        sid.issuer.to_der().expect("issuer"),
        leaf.tbs_certificate.issuer.to_der().expect("leaf issuer"),
        "sid issuer bytes are the leaf's issuer bytes"
    );
    assert_eq!(sid.serial_number, leaf.tbs_certificate.serial_number);

    // Digest and signature algorithms follow the leaf's curve.
    let spki = &leaf.tbs_certificate.subject_public_key_info;
    let curve: ObjectIdentifier = spki
        .algorithm
        .parameters
        .as_ref()
        .expect("curve")
        .decode_as()
        .expect("curve OID");
    let (digest_oid, sig_oid, verify_alg): (_, _, &EcdsaVerificationAlgorithm) =
        if curve == ObjectIdentifier::new_unwrap("1.3.132.0.34") {
            (SHA384, ECDSA_SHA384, &ECDSA_P384_SHA384_ASN1)
        } else {
            (SHA256, ECDSA_SHA256, &ECDSA_P256_SHA256_ASN1)
        };
    assert_eq!(sd.digest_algorithms.len(), 1);
    let digest_alg = sd.digest_algorithms.get(0).expect("digest alg");
    assert_eq!(digest_alg.oid, digest_oid);
    assert!(digest_alg.parameters.is_none(), "digest parameters absent");
    assert_eq!(signer.digest_alg.oid, digest_oid);
    assert!(signer.digest_alg.parameters.is_none());
    assert_eq!(signer.signature_algorithm.oid, sig_oid);
    assert!(signer.signature_algorithm.parameters.is_none());

    // Signed attributes: sorted by encoding, the four expected ones.
    let attrs = signer.signed_attrs.as_ref().expect("signedAttrs present");
    let encodings: Vec<Vec<u8>> = attrs
        .iter()
        .map(|a| a.to_der().expect("attribute"))
        .collect();
    let mut sorted = encodings.clone();
    sorted.sort();
    assert_eq!(encodings, sorted, "signed attributes DER-sorted");
    let oids: Vec<ObjectIdentifier> = attrs.iter().map(|a| a.oid).collect();
    assert_eq!(
        oids,
        [CONTENT_TYPE, SIGNING_TIME, MESSAGE_DIGEST, SIGNING_CERT_V2],
        "attribute order as in the sigstage replies"
    );
    let value = |oid: ObjectIdentifier| {
        let attr = attrs.iter().find(|a| a.oid == oid).expect("attribute");
        assert_eq!(attr.values.len(), 1);
        attr.values.get(0).expect("value").clone()
    };
    let content_type: ObjectIdentifier = value(CONTENT_TYPE).decode_as().expect("contentType");
    assert_eq!(content_type, TST_INFO);
    let message_digest: OctetString = value(MESSAGE_DIGEST).decode_as().expect("messageDigest");
    assert_eq!(message_digest.as_bytes(), hash(&digest_oid, &tst_der));
    let signing_time: UtcTime = value(SIGNING_TIME).decode_as().expect("UTCTime");
    let scv2: SigningCertificateV2 = value(SIGNING_CERT_V2)
        .decode_as()
        .expect("SigningCertificateV2 with the default (omitted) hashAlgorithm");
    assert_eq!(scv2.certs.len(), 1);
    let id = &scv2.certs[0];
    assert_eq!(id.cert_hash.as_bytes(), hash(&SHA256, leaf_der));
    assert_eq!(id.issuer_serial.issuer.len(), 1);
    let GeneralName::DirectoryName(issuer) = &id.issuer_serial.issuer[0] else {
        panic!("issuerSerial issuer must be a directoryName")
    };
    assert_eq!(issuer, &leaf.tbs_certificate.issuer);
    assert_eq!(id.issuer_serial.serial, leaf.tbs_certificate.serial_number);

    // The signature covers the attributes encoded as a SET (0x31).
    let set: &SetOfVec<_> = attrs;
    let signed_bytes = set.to_der().expect("attributes as SET");
    assert_eq!(signed_bytes[0], 0x31);
    UnparsedPublicKey::new(
        verify_alg,
        spki.subject_public_key.as_bytes().expect("key bits"),
    )
    .verify(&signed_bytes, signer.signature.as_bytes())
    .expect("the ECDSA signature verifies with the leaf key");

    // TSTInfo fields that do not depend on the request.
    assert_eq!(tst.version as u8, 1);
    let accuracy = tst.accuracy.as_ref().expect("accuracy");
    assert_eq!(accuracy.seconds, Some(1));
    assert!(accuracy.millis.is_none() && accuracy.micros.is_none());
    assert!(!tst.ordering);
    assert!(tst.extensions.is_none());
    let Some(GeneralName::DirectoryName(tsa)) = &tst.tsa else {
        panic!("tsa must be a directoryName")
    };
    assert_eq!(tsa, &leaf.tbs_certificate.subject);
    let serial = tst.serial_number.as_bytes();
    assert!(serial[0] & 0x80 == 0, "serial is positive");

    let certs = sd
        .certificates
        .as_ref()
        .map(|set| {
            set.0
                .iter()
                .map(|c| match c {
                    CertificateChoices::Certificate(cert) => cert.to_der().expect("cert"),
                    CertificateChoices::Other(_) => panic!("only certificates"),
                })
                .collect()
        })
        .unwrap_or_default();
    Reply {
        tst,
        tst_der,
        signed_data: sd.clone(),
        signer,
        certs,
        signing_time,
    }
}
