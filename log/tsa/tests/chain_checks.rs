//! The start-up checks of spec §1.4: chains built here with rcgen, each
//! wrong in one way, are refused with the named reason; the right one,
//! and the sigstage chain's shape, pass.

use islet_tsa::{Error, TimestampAuthority, TsaConfig};
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// extKeyUsage = timeStamping only.
const EKU_TS: [u8; 12] = [
    0x30, 0x0A, 0x06, 0x08, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08,
];
/// extKeyUsage = timeStamping, codeSigning.
const EKU_TS_CS: [u8; 22] = [
    0x30, 0x14, 0x06, 0x08, 0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08, 0x06, 0x08, 0x2B, 0x06,
    0x01, 0x05, 0x05, 0x07, 0x03, 0x03,
];

fn eku(content: &[u8], critical: bool) -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(&[2, 5, 29, 37], content.to_vec());
    ext.set_criticality(critical);
    ext
}

fn params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.remove(DnType::CommonName);
    p.distinguished_name
        .push(DnType::OrganizationName, "chain test");
    p.distinguished_name.push(DnType::CommonName, cn);
    p
}

fn root_params() -> CertificateParams {
    let mut p = params("root");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn leaf_params() -> CertificateParams {
    let mut p = params("leaf");
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.custom_extensions = vec![eku(&EKU_TS, true)];
    p
}

fn key() -> KeyPair {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("key")
}

fn pem_of(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()))
}

/// Leaf (signed by an optional intermediate) signed by root; returns the
/// leaf key PEM and the chain PEM leaf → root.
fn build(
    leaf: CertificateParams,
    intermediate: Option<CertificateParams>,
    root: CertificateParams,
) -> (String, String) {
    let root_key = key();
    let root_cert = root.self_signed(&root_key).expect("root");
    let root_issuer = Issuer::new(root, root_key);
    let leaf_key = key();
    let mut chain = Vec::new();
    if let Some(mid) = intermediate {
        let mid_key = key();
        let mid_cert = mid.signed_by(&mid_key, &root_issuer).expect("intermediate");
        let mid_issuer = Issuer::new(mid, mid_key);
        chain.push(
            leaf.signed_by(&leaf_key, &mid_issuer)
                .expect("leaf")
                .der()
                .to_vec(),
        );
        chain.push(mid_cert.der().to_vec());
    } else {
        chain.push(
            leaf.signed_by(&leaf_key, &root_issuer)
                .expect("leaf")
                .der()
                .to_vec(),
        );
    }
    chain.push(root_cert.der().to_vec());
    let key_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", leaf_key.serialize_der()));
    (key_pem, chain.iter().map(|d| pem_of(d)).collect())
}

fn load(key_pem: &str, chain_pem: &str) -> Result<TimestampAuthority, Error> {
    TimestampAuthority::new(
        key_pem.as_bytes(),
        chain_pem.as_bytes(),
        TsaConfig::default(),
    )
}

#[test]
fn a_good_chain_passes_with_and_without_intermediate() {
    let (key, chain) = build(leaf_params(), None, root_params());
    load(&key, &chain).expect("two certificates");
    let mut mid = params("intermediate");
    mid.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    mid.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    mid.custom_extensions = vec![eku(&EKU_TS, false)];
    let (key, chain) = build(leaf_params(), Some(mid), root_params());
    let tsa = load(&key, &chain).expect("three certificates");
    assert_eq!(tsa.chain_der().len(), 3);
}

#[test]
fn non_critical_eku_is_refused() {
    let mut leaf = leaf_params();
    leaf.custom_extensions.clear();
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::TimeStamping]; // rcgen: non-critical
    let (key, chain) = build(leaf, None, root_params());
    assert!(matches!(load(&key, &chain), Err(Error::LeafEkuNotCritical)));
}

#[test]
fn two_ekus_are_refused() {
    let mut leaf = leaf_params();
    leaf.custom_extensions = vec![eku(&EKU_TS_CS, true)];
    let (key, chain) = build(leaf, None, root_params());
    let err = load(&key, &chain).expect_err("refused");
    assert!(
        matches!(err, Error::LeafEkuNotTimeStampingOnly { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("1.3.6.1.5.5.7.3.3"), "{err}");
}

#[test]
fn missing_eku_is_refused() {
    let mut leaf = leaf_params();
    leaf.custom_extensions.clear();
    let (key, chain) = build(leaf, None, root_params());
    assert!(matches!(load(&key, &chain), Err(Error::LeafEkuMissing)));
}

#[test]
fn a_ca_leaf_is_refused() {
    let mut leaf = leaf_params();
    leaf.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let (key, chain) = build(leaf, None, root_params());
    assert!(matches!(load(&key, &chain), Err(Error::LeafIsCa)));
}

#[test]
fn a_leaf_with_more_key_usage_is_refused() {
    let mut leaf = leaf_params();
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    let (key, chain) = build(leaf, None, root_params());
    assert!(matches!(load(&key, &chain), Err(Error::LeafKeyUsage)));
}

#[test]
fn a_key_that_does_not_match_is_refused() {
    let (_, chain) = build(leaf_params(), None, root_params());
    let (other_key, _) = build(leaf_params(), None, root_params());
    assert!(matches!(load(&other_key, &chain), Err(Error::KeyMismatch)));
    // A P-256 key against a P-384 leaf too.
    let p256 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
    let p256_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", p256.serialize_der()));
    assert!(matches!(load(&p256_pem, &chain), Err(Error::KeyMismatch)));
}

#[test]
fn a_single_certificate_is_refused() {
    let (key, chain) = build(leaf_params(), None, root_params());
    let first = pem::parse_many(&chain).expect("pem").remove(0);
    let single = pem::encode(&first);
    assert!(matches!(
        load(&key, &single),
        Err(Error::ChainTooShort { count: 1 })
    ));
    assert!(matches!(
        load(&key, ""),
        Err(Error::ChainTooShort { count: 0 })
    ));
}

#[test]
fn a_non_ca_issuer_is_refused() {
    let mut root = root_params();
    root.is_ca = IsCa::NoCa;
    root.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let (key, chain) = build(leaf_params(), None, root);
    assert!(matches!(
        load(&key, &chain),
        Err(Error::IssuerNotCa { index: 1 })
    ));
}

#[test]
fn an_intermediate_without_time_stamping_is_refused() {
    let mut mid = params("intermediate");
    mid.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    mid.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    mid.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let (key, chain) = build(leaf_params(), Some(mid), root_params());
    assert!(matches!(
        load(&key, &chain),
        Err(Error::IssuerEku { index: 1 })
    ));
}

#[test]
fn a_chain_in_the_wrong_order_or_with_a_foreign_root_is_refused() {
    let (key, chain) = build(leaf_params(), None, root_params());
    let mut blocks = pem::parse_many(&chain).expect("pem");
    let (_, other) = build(leaf_params(), None, root_params());
    let other_root = pem::parse_many(&other).expect("pem").remove(1);
    // Same names, different root key: the signature does not verify.
    let foreign = format!("{}{}", pem::encode(&blocks[0]), pem::encode(&other_root));
    let err = load(&key, &foreign).expect_err("refused");
    assert!(
        matches!(err, Error::NotSignedByNext { index: 0, .. }),
        "{err}"
    );
    blocks.reverse();
    let reversed: String = blocks.iter().map(pem::encode).collect();
    assert!(matches!(
        load(&key, &reversed),
        Err(Error::NotSignedByNext { index: 0, .. })
    ));
}

#[test]
fn unusable_key_files_are_refused() {
    let (_, chain) = build(leaf_params(), None, root_params());
    assert!(matches!(load("not PEM", &chain), Err(Error::KeyPem(_))));
    let cert_block = pem::parse_many(&chain).expect("pem").remove(0);
    assert!(matches!(
        load(&pem::encode(&cert_block), &chain),
        Err(Error::KeyPem(_))
    ));
    let ed = KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
    let ed_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", ed.serialize_der()));
    assert!(matches!(load(&ed_pem, &chain), Err(Error::KeyType)));
}

#[test]
fn the_sigstage_chain_has_the_checked_shape() {
    // The real sigstage chain passes every check but the key match (its
    // key is not ours): the checks accept what upstream serves.
    let dir = islet_testkit::vectors_dir(&["sigstore/rfc3161-client/sigstage/ts_chain.pem"]);
    let chain =
        std::fs::read(dir.join("sigstore/rfc3161-client/sigstage/ts_chain.pem")).expect("chain");
    let p384 = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("key");
    let key_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", p384.serialize_der()));
    let err = TimestampAuthority::new(key_pem.as_bytes(), &chain, TsaConfig::default())
        .expect_err("not our key");
    assert!(matches!(err, Error::KeyMismatch), "{err}");
}
