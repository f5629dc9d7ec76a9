//! TLS to the database: rustls, the server's certificate checked against
//! the configured roots, and never plaintext to a host off this machine.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use islet_pgstore::{Error, PgOptions, PgStore};
use islet_testkit::pg::PgCluster;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

fn offset(t: SystemTime) -> time::OffsetDateTime {
    let secs = t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap()).unwrap()
}

/// A CA (PEM) and a server certificate and key it issued for 127.0.0.1.
fn pki(name: &str) -> (String, String, String) {
    let day = Duration::from_secs(86_400);
    let now = SystemTime::now();
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    ca.distinguished_name = dn;
    ca.not_before = offset(now - day);
    ca.not_after = offset(now + day);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf = CertificateParams::default();
    leaf.not_before = offset(now - day);
    leaf.not_after = offset(now + day);
    leaf.subject_alt_names = vec![SanType::IpAddress("127.0.0.1".parse().unwrap())];
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
}

#[test]
fn tls_is_spoken_checked_and_required_off_this_machine() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = PgCluster::start();
    let url = cluster.create_db("tls");
    let (ca, cert, key) = pki("islet test database CA");
    cluster.require_tls(&cert, &key);
    let ca_file = tmp.path().join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let secure = format!("{url}?sslmode=require");
    let options = PgOptions::new(2).with_ca_file(&ca_file);

    // Over TLS, with the right roots: the schema goes in and reads work,
    // and the server says the session is encrypted.
    let pg = PgStore::create(&secure, &options).unwrap();
    let ssl: bool = pg
        .pool()
        .get()
        .unwrap()
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(ssl);
    assert!(pg.logs().unwrap().is_empty());

    // Plaintext is refused by the server (hostnossl reject).
    let e = PgStore::open(&url, &PgOptions::new(1)).unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e}");

    // A certificate from another CA is refused by islet.
    let (other_ca, _, _) = pki("someone else's CA");
    let other = tmp.path().join("other.pem");
    std::fs::write(&other, other_ca).unwrap();
    let e = PgStore::open(&secure, &PgOptions::new(1).with_ca_file(&other)).unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e}");
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");

    // Roots that are not certificates are refused before connecting.
    let junk = tmp.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let e = PgStore::open(&secure, &PgOptions::new(1).with_ca_file(&junk)).unwrap_err();
    assert!(matches!(e, Error::Url { .. }), "{e}");
}

#[test]
fn a_database_off_this_machine_is_reached_only_over_tls() {
    for url in [
        "postgres://islet@db.example/islet",
        "postgres://islet@db.example/islet?sslmode=prefer",
        "postgres://islet@db.example/islet?sslmode=disable",
        "postgres://islet@127.0.0.1,db.example/islet",
        "postgres://islet@10.0.0.7:5433/islet",
    ] {
        let e = PgStore::open(url, &PgOptions::new(1)).unwrap_err();
        assert!(
            matches!(e, Error::Url { .. }) && e.to_string().contains("sslmode=require"),
            "{url}: {e}"
        );
    }
    // Pool sizes at the limits and one past.
    let max = islet_pgstore::pool::MAX_POOL_SIZE;
    for size in [0, max + 1] {
        let e =
            PgStore::open("postgres://islet@127.0.0.1:1/islet", &PgOptions::new(size)).unwrap_err();
        assert!(matches!(e, Error::Url { .. }), "{size}: {e}");
    }
    for size in [1, max] {
        let e =
            PgStore::open("postgres://islet@127.0.0.1:1/islet", &PgOptions::new(size)).unwrap_err();
        assert!(matches!(e, Error::Connect { .. }), "{size}: {e}");
    }
}
