//! Every tuning limit of `islet.toml`, at the limit and one past it.

#![allow(missing_docs, clippy::unwrap_used)]

use islet_store::Error;
use islet_store::config::{RawConfig, RawUpstream, RawWitnessedLog, limits};

/// True when `e` is [`Error::Config`] and its reason says every one of
/// `want`: validation refuses every field with that one variant, so the
/// reason is what tells which field was refused.
fn config_error(e: &Error, want: &[&str]) -> bool {
    matches!(e, Error::Config { reason } if want.iter().all(|w| reason.contains(w)))
}

fn base() -> RawConfig {
    RawConfig::parse(
        r#"
origin = "log.example.org"
public_url = "https://log.example.org"
listen = "127.0.0.1:3000"
key = "keys/log.pem"
key_type = "ed25519"
valid_from = "2026-01-01T00:00:00Z"
"#,
    )
    .unwrap()
}

/// Checks that `set(value)` validates for every `ok` value and is refused,
/// naming `field`, for every `bad` one.
fn check<T: Copy + std::fmt::Debug>(field: &str, set: fn(&mut RawConfig, T), ok: &[T], bad: &[T]) {
    for v in ok {
        let mut c = base();
        set(&mut c, *v);
        assert!(c.validate().is_ok(), "{field} = {v:?} must be accepted");
    }
    for v in bad {
        let mut c = base();
        set(&mut c, *v);
        let e = c.validate().unwrap_err();
        assert!(config_error(&e, &[field]), "{field} = {v:?}: {e:?}");
    }
}

#[test]
fn the_defaults_validate() {
    let c = base().validate().unwrap();
    assert_eq!(c.sequencer.batch_max_size, 512);
    assert_eq!(c.http.max_connections, 2048);
}

#[test]
fn sequencer_limits_hold_at_the_limit_and_one_past() {
    check(
        "sequencer.batch_max_size",
        |c, v| c.sequencer.batch_max_size = v,
        &[1, limits::MAX_BATCH_SIZE],
        &[0, limits::MAX_BATCH_SIZE + 1],
    );
    check(
        "sequencer.batch_max_age_ms",
        |c, v| c.sequencer.batch_max_age_ms = v,
        &[0, limits::MAX_BATCH_AGE_MS],
        &[limits::MAX_BATCH_AGE_MS + 1],
    );
    check(
        "sequencer.max_pending",
        |c, v| c.sequencer.max_pending = v,
        &[1, limits::MAX_PENDING],
        &[0, limits::MAX_PENDING + 1],
    );
}

#[test]
fn request_and_client_limits_hold_at_the_limit_and_one_past() {
    check(
        "max_request_bytes",
        |c, v| c.max_request_bytes = v,
        &[limits::MIN_REQUEST_BYTES, limits::MAX_REQUEST_BYTES],
        &[limits::MIN_REQUEST_BYTES - 1, limits::MAX_REQUEST_BYTES + 1],
    );
    let timeouts = (
        &[limits::MIN_TIMEOUT_MS, limits::MAX_TIMEOUT_MS][..],
        &[limits::MIN_TIMEOUT_MS - 1, limits::MAX_TIMEOUT_MS + 1][..],
    );
    check(
        "http.header_read_timeout_ms",
        |c, v| c.http.header_read_timeout_ms = v,
        timeouts.0,
        timeouts.1,
    );
    check(
        "http.body_read_timeout_ms",
        |c, v| c.http.body_read_timeout_ms = v,
        timeouts.0,
        timeouts.1,
    );
    check(
        "http.max_connections",
        |c, v| c.http.max_connections = v,
        &[1, limits::MAX_CONNECTIONS],
        &[0, limits::MAX_CONNECTIONS + 1],
    );
}

#[test]
fn unknown_keys_and_bad_values_are_refused_with_their_place() {
    let text = base()
        .to_toml()
        .unwrap()
        .replace("[http]", "[http]\nheader_timeout = 5");
    let e = RawConfig::parse(&text).unwrap_err();
    assert!(
        config_error(&e, &["unknown field", "header_timeout"]),
        "{e:?}"
    );
    let mut c = base();
    c.listen = "localhost".into();
    let e = c.validate().unwrap_err();
    assert!(config_error(&e, &["listen"]), "{e:?}");
    let mut c = base();
    c.origin = Some("has space".into());
    let e = c.validate().unwrap_err();
    assert!(config_error(&e, &["origin"]), "{e:?}");
}

fn upstream_vkey() -> String {
    use islet_tlog::note::NoteSigner;
    islet_signer::Ed25519Signer::from_seed("upstream.example", &[1; 32])
        .unwrap()
        .verifier()
        .to_vkey()
}

fn upstream(origin_override: Option<&str>) -> RawUpstream {
    RawUpstream {
        url: "https://upstream.example/api/v2".into(),
        vkey: Some(upstream_vkey()),
        log_key: None,
        origin: origin_override.map(str::to_owned),
        interval_secs: 60,
        token_file: None,
    }
}

#[test]
fn mirror_upstreams_hold_at_the_limit_and_one_past() {
    check(
        "mirror.upstream[0].interval_secs",
        |c, v| {
            let mut u = upstream(None);
            u.interval_secs = v;
            c.mirror.upstreams = vec![u];
        },
        &[
            limits::MIN_FOLLOW_INTERVAL_SECS,
            limits::MAX_FOLLOW_INTERVAL_SECS,
        ],
        &[
            limits::MIN_FOLLOW_INTERVAL_SECS - 1,
            limits::MAX_FOLLOW_INTERVAL_SECS + 1,
        ],
    );
    // Distinct origins, so only the count can fail.
    check(
        "mirror.upstream",
        |c, n: usize| {
            c.mirror.upstreams = (0..n)
                .map(|i| upstream(Some(&format!("log{i}.example"))))
                .collect();
        },
        &[0, limits::MAX_UPSTREAMS],
        &[limits::MAX_UPSTREAMS + 1],
    );
}

#[test]
fn mirror_settings_are_checked() {
    let c = base().validate().unwrap();
    assert_eq!(c.mirror_name, "log.example.org/mirror");
    assert!(c.upstreams.is_empty());
    let mut c = base();
    c.mirror.upstreams = vec![upstream(None), upstream(None)];
    let e = c.validate().unwrap_err();
    assert!(config_error(&e, &["followed twice"]), "{e:?}");
    let mut c = base();
    c.mirror.upstreams = vec![upstream(Some("log.example.org"))];
    let e = c.validate().unwrap_err();
    assert!(config_error(&e, &["own log"]), "{e:?}");
    let mut c = base();
    let mut u = upstream(None);
    u.vkey = None;
    c.mirror.upstreams = vec![u];
    let e = c.validate().unwrap_err();
    assert!(config_error(&e, &["log_key with origin"]), "{e:?}");
    let mut c = base();
    c.mirror.name = Some("log.example.org".into());
    let e = c.validate().unwrap_err();
    assert!(config_error(&e, &["mirror.name"]), "{e:?}");
    let mut c = base();
    c.mirror.name = Some("bad name".into());
    let e = c.validate().unwrap_err();
    assert!(config_error(&e, &["mirror.name"]), "{e:?}");
    // The section parses from TOML, unknown keys refused.
    let text = format!(
        "{}\n[[mirror.upstream]]\nurl = \"https://u.example/api/v2\"\nvkey = \"{}\"\n",
        base().to_toml().unwrap(),
        upstream_vkey()
    );
    let c = RawConfig::parse(&text).unwrap().validate().unwrap();
    assert_eq!(c.upstreams[0].origin, "upstream.example");
    assert_eq!(c.upstreams[0].interval.as_secs(), 60);
    let e = RawConfig::parse(&text.replace("vkey =", "vkee =")).unwrap_err();
    assert!(config_error(&e, &["vkee"]), "{e:?}");
}

#[test]
fn the_timestamp_authority_is_on_by_default_with_its_files_under_keys() {
    let c = base().validate().unwrap();
    let tsa = c.tsa.expect("the TSA is on unless turned off");
    assert_eq!(tsa.key, std::path::Path::new("keys/tsa.pem"));
    assert_eq!(tsa.chain, std::path::Path::new("keys/tsa-chain.pem"));
    assert_eq!((tsa.rate_per_second, tsa.burst), (1000, 2000));
    let mut off = base();
    off.tsa.enabled = false;
    assert!(off.validate().unwrap().tsa.is_none());
}

#[test]
fn tsa_rates_hold_at_the_limit_and_one_past() {
    check(
        "tsa.rate_per_second",
        |c, v| c.tsa.rate_per_second = v,
        &[1, limits::MAX_TSA_RATE],
        &[0, limits::MAX_TSA_RATE + 1],
    );
    check(
        "tsa.burst",
        |c, v| c.tsa.burst = v,
        &[1, limits::MAX_TSA_RATE],
        &[0, limits::MAX_TSA_RATE + 1],
    );
}

#[test]
fn a_tsa_policy_must_be_a_dotted_object_identifier() {
    for ok in ["1.3.6.1.4.1.57264.2", "2.5", "0.0"] {
        let mut c = base();
        c.tsa.policy = Some(ok.into());
        assert!(c.validate().is_ok(), "{ok}");
    }
    for bad in [
        "",
        "1",
        "3.1",
        "1..2",
        "1.2.x",
        "1.3.6.1.4.1.57264.2.",
        " 1.2",
    ] {
        let mut c = base();
        c.tsa.policy = Some(bad.into());
        let e = c.validate().unwrap_err();
        assert!(config_error(&e, &["tsa.policy"]), "{bad:?}: {e:?}");
    }
}

#[test]
fn trust_entries_hold_at_the_limit_and_one_past() {
    let ctlog = |i: usize| islet_store::config::RawCtlog {
        key: format!("trust/ct-{i}.pem").into(),
        url: format!("https://ct{i}.example.org"),
        valid_from: None,
    };
    let mut c = base();
    c.trust.ca = (0..limits::MAX_TRUST_ENTRIES)
        .map(|i| format!("trust/ca-{i}.pem").into())
        .collect();
    c.trust.ctlog = (0..limits::MAX_TRUST_ENTRIES).map(ctlog).collect();
    assert!(c.clone().validate().is_ok());
    let mut more = c.clone();
    more.trust.ca.push("trust/one-more.pem".into());
    assert!(config_error(
        &more.validate().unwrap_err(),
        &["trust", "at most"]
    ));
    let mut more = c;
    more.trust.ctlog.push(ctlog(999));
    assert!(config_error(
        &more.validate().unwrap_err(),
        &["trust", "at most"]
    ));
}

#[test]
fn trust_urls_and_times_are_checked() {
    let mut c = base();
    c.trust.ca_url = Some("ftp://fulcio.example.org".into());
    assert!(config_error(
        &c.validate().unwrap_err(),
        &["trust.ca_url", "http"]
    ));
    let mut c = base();
    c.trust.ca_url = Some("https://fulcio.example.org".into());
    assert!(c.validate().is_ok());
    let mut c = base();
    c.trust.ctlog.push(islet_store::config::RawCtlog {
        key: "ct.pem".into(),
        url: "https://ct.example.org".into(),
        valid_from: Some("yesterday".into()),
    });
    assert!(config_error(
        &c.validate().unwrap_err(),
        &["trust.ctlog[0].valid_from"]
    ));
}

/// Log vkeys for `[[witness_service.log]]`: Ed25519 keys of distinct
/// origins, made here.
fn log_vkeys(n: usize) -> Vec<RawWitnessedLog> {
    (0..n)
        .map(|i| {
            let (signer, _) =
                islet_signer::Ed25519Signer::generate(&format!("log{i}.example")).unwrap();
            RawWitnessedLog {
                vkey: islet_tlog::note::NoteSigner::verifier(&signer).to_vkey(),
                origin: None,
            }
        })
        .collect()
}

#[test]
fn witness_limits_hold_at_the_limit_and_one_past() {
    check(
        "witness.timeout_ms",
        |c, v| c.witness.timeout_ms = v,
        &[limits::MIN_TIMEOUT_MS, limits::MAX_TIMEOUT_MS],
        &[limits::MIN_TIMEOUT_MS - 1, limits::MAX_TIMEOUT_MS + 1],
    );
    let logs = log_vkeys(limits::MAX_WITNESSED_LOGS + 1);
    let mut c = base();
    c.witness_service.logs = logs[..limits::MAX_WITNESSED_LOGS].to_vec();
    assert_eq!(
        c.validate().unwrap().witness_service.logs.len(),
        limits::MAX_WITNESSED_LOGS
    );
    let mut c = base();
    c.witness_service.logs = logs;
    let e = c.validate().unwrap_err();
    assert!(
        config_error(&e, &["witness_service.log", "at most"]),
        "{e:?}"
    );
}

#[test]
fn a_witness_is_an_identity_of_its_own() {
    // Its name may not be the log's origin or the mirror's name.
    for name in ["log.example.org", "log.example.org/mirror"] {
        let mut c = base();
        c.witness_service.name = Some(name.into());
        let e = c.validate().unwrap_err();
        assert!(
            config_error(&e, &["witness_service.name", "differ"]),
            "{name}: {e:?}"
        );
    }
    // A witnessed log is named by a log key, never a cosigner key.
    let mut c = base();
    c.witness_service.logs = vec![RawWitnessedLog {
        vkey: "witness.example/w1+0f6ff760+BInIL2y6fRy3TlY2iCXU0mb5v55TfQaM6u4jGMcV2xpe".into(),
        origin: None,
    }];
    let e = c.validate().unwrap_err();
    assert!(config_error(&e, &["witness_service.log[0].vkey"]), "{e:?}");
    // One origin, listed twice.
    let mut c = base();
    let one = log_vkeys(1);
    c.witness_service.logs = vec![one[0].clone(), one[0].clone()];
    let e = c.validate().unwrap_err();
    assert!(config_error(&e, &["listed twice"]), "{e:?}");
}

#[test]
fn a_fresh_config_writes_no_witness_tables_and_reads_them_back() {
    let text = base().to_toml().unwrap();
    assert!(!text.contains("[witness"), "{text}");
    assert!(!text.contains("[guard]"), "{text}");
    let with = format!(
        "{text}\n[witness]\npolicy = \"p.txt\"\nmode = \"fail-open\"\nstart_check = \"all\"\n[guard]\nrecord = \"/elsewhere/rec\"\n"
    );
    let c = RawConfig::parse(&with).unwrap().validate().unwrap();
    let w = c.witness.unwrap();
    assert_eq!(w.mode, islet_store::config::WitnessMode::FailOpen);
    assert_eq!(w.start_check, islet_store::config::StartCheck::All);
    assert_eq!(w.timeout.as_millis(), 5000);
    assert_eq!(c.raw.guard.record.unwrap().to_str(), Some("/elsewhere/rec"));
}

fn mirror_only() -> RawConfig {
    RawConfig::parse(
        r#"
public_url = "https://dmz.example.org"
listen = "127.0.0.1:3000"
"#,
    )
    .unwrap()
}

#[test]
fn a_mirror_only_directory_has_no_own_log_and_names_its_keys_after_its_host() {
    let c = mirror_only().validate().unwrap();
    assert!(c.own.is_none());
    assert_eq!(c.site_name, "dmz.example.org");
    assert_eq!(c.mirror_name, "dmz.example.org/mirror");
    assert_eq!(c.witness_service.name, "dmz.example.org/witness");
    assert!(c.tsa.is_none(), "a mirror-only directory serves no TSA");
    let own = base().validate().unwrap().own.unwrap();
    assert_eq!(own.origin, "log.example.org");
    assert_eq!(own.valid_from, "2026-01-01T00:00:00Z");
}

#[test]
fn origin_key_and_valid_from_go_together() {
    for drop in ["origin", "key", "valid_from"] {
        let mut c = base();
        match drop {
            "origin" => c.origin = None,
            "key" => c.key = None,
            _ => c.valid_from = None,
        }
        let e = c.validate().unwrap_err();
        assert!(
            config_error(&e, &["origin, key and valid_from go together"]),
            "{drop}: {e:?}"
        );
    }
}

#[test]
fn settings_of_the_own_log_are_refused_without_one() {
    let vkey = "m.example/mirror+624c73e2+BAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
    for (table, text) in [
        ("witness", "[witness]\npolicy = \"policy.txt\"\n"),
        (
            "mirror.push",
            &*format!("[[mirror.push]]\nurl = \"http://m.example/mirror\"\nvkey = \"{vkey}\"\n"),
        ),
        ("guard", "[guard]\nrecord = \"/var/lib/guard\"\n"),
    ] {
        let c = RawConfig::parse(&format!(
            "public_url = \"https://dmz.example.org\"\nlisten = \"127.0.0.1:3000\"\n{text}"
        ))
        .unwrap();
        let e = c.validate().unwrap_err();
        assert!(config_error(&e, &[table, "has none"]), "{table}: {e:?}");
    }
}

fn with_export(text: &str) -> RawConfig {
    let mut c = base();
    let e = RawConfig::parse(&format!(
        "public_url = \"https://x.example\"\nlisten = \"127.0.0.1:1\"\n[[export]]\n{text}"
    ))
    .unwrap()
    .export;
    c.export = e;
    c
}

#[test]
fn export_limits_hold_at_the_limit_and_one_past() {
    check(
        "export[0].interval_secs",
        |c, v| {
            *c = with_export("directory = \"carry\"");
            c.export[0].interval_secs = v;
        },
        &[
            limits::MIN_EXPORT_INTERVAL_SECS,
            limits::MAX_EXPORT_INTERVAL_SECS,
        ],
        &[
            limits::MIN_EXPORT_INTERVAL_SECS - 1,
            limits::MAX_EXPORT_INTERVAL_SECS + 1,
        ],
    );
    check(
        "export[0].keep",
        |c, v| {
            *c = with_export("directory = \"carry\"");
            c.export[0].keep = v;
        },
        &[0, limits::MAX_EXPORT_KEEP],
        &[limits::MAX_EXPORT_KEEP + 1],
    );
    let many = |n: usize| {
        let mut c = base();
        let one = with_export("directory = \"carry\"").export.remove(0);
        c.export = (0..n)
            .map(|i| {
                let mut e = one.clone();
                e.directory = Some(format!("carry-{i}").into());
                e
            })
            .collect();
        c
    };
    assert!(many(limits::MAX_EXPORTS).validate().is_ok());
    let e = many(limits::MAX_EXPORTS + 1).validate().unwrap_err();
    assert!(config_error(&e, &["export", "at most"]), "{e:?}");
}

#[test]
fn an_export_names_one_target_and_a_log() {
    let own = with_export("directory = \"carry\"").validate().unwrap();
    assert_eq!(
        own.exports[0].origin, "log.example.org",
        "the own log by default"
    );
    for (text, want) in [
        ("directory = \"a\"\noci = \"r.example/x\"", "not both"),
        ("", "not both"),
        (
            "oci = \"r.example/x:tag@sha256:00\"",
            "without tag or digest",
        ),
        ("oci = \"r.example/x\"\nkeep = 3", "a registry keeps tags"),
        ("origin = \"has space\"\ndirectory = \"a\"", "not valid"),
    ] {
        let e = with_export(text).validate().unwrap_err();
        assert!(config_error(&e, &["export[0]", want]), "{text}: {e:?}");
    }
    let twice = {
        let mut c = with_export("directory = \"carry\"");
        c.export.push(c.export[0].clone());
        c
    };
    let e = twice.validate().unwrap_err();
    assert!(config_error(&e, &["listed twice"]), "{e:?}");
    let mut mirror = mirror_only();
    mirror.export = with_export("directory = \"carry\"").export;
    let e = mirror.clone().validate().unwrap_err();
    assert!(
        config_error(&e, &["export[0].origin", "no log of its own"]),
        "{e:?}"
    );
    mirror.export[0].origin = Some("rekor.example".into());
    assert_eq!(
        mirror.validate().unwrap().exports[0].origin,
        "rekor.example"
    );
}

fn with_access(text: &str) -> Result<islet_store::config::Config, Error> {
    let base = r#"
origin = "log.example.org"
public_url = "http://log.example.org:3000"
listen = "127.0.0.1:3000"
key = "keys/log.pem"
valid_from = "2026-01-01T00:00:00Z"
"#;
    RawConfig::parse(&format!("{base}{text}")).and_then(RawConfig::validate)
}

#[test]
fn tls_makes_the_client_url_https_and_keeps_plain_http_on_loopback() {
    let c = with_access("[tls]\ncert = \"tls/cert.pem\"\nkey = \"tls/key.pem\"\n").unwrap();
    assert_eq!(c.client_url, "https://log.example.org:3000");
    assert!(c.tls.as_ref().unwrap().plain_listen.is_none());
    let c = with_access("").unwrap();
    assert_eq!(c.client_url, "http://log.example.org:3000");
    assert!(c.tls.is_none());
    let tls = "[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n";
    for ok in ["127.0.0.1:3080", "[::1]:3080"] {
        let c = with_access(&format!("{tls}plain_listen = \"{ok}\"\n")).unwrap();
        assert_eq!(c.tls.unwrap().plain_listen.unwrap().to_string(), ok);
    }
    for (bad, want) in [
        ("0.0.0.0:3080", "not a loopback address"),
        ("10.1.2.3:80", "not a loopback address"),
        ("127.0.0.1:3000", "is also listen"),
        ("localhost", "tls.plain_listen"),
    ] {
        let e = with_access(&format!("{tls}plain_listen = \"{bad}\"\n")).unwrap_err();
        assert!(
            config_error(&e, &["tls.plain_listen", want]),
            "{bad}: {e:?}"
        );
    }
    let e = with_access("[tls]\ncert = \"\"\nkey = \"k.pem\"\n").unwrap_err();
    assert!(config_error(&e, &["tls.cert", "is empty"]), "{e:?}");
}

#[test]
fn auth_modes_need_what_they_admit_with() {
    let c = with_access("[auth]\nwrite = \"token\"\n").unwrap();
    assert_eq!(c.access.write, islet_store::config::AccessMode::Token);
    assert_eq!(c.access.read, islet_store::config::AccessMode::Open);
    let e = with_access("[auth]\nwrite = \"client-cert\"\n").unwrap_err();
    assert!(config_error(&e, &["auth.write", "client_ca"]), "{e:?}");
    let e = with_access("[auth]\nwrite = \"client-cert\"\nclient_ca = [\"ca.pem\"]\n").unwrap_err();
    assert!(config_error(&e, &["auth.client_ca", "need TLS"]), "{e:?}");
    let ok = "[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n[auth]\nwitness = \"token-or-client-cert\"\nclient_ca = [\"ca.pem\"]\n";
    assert!(with_access(ok).is_ok());
    let e = with_access("[auth]\nwrite = \"password\"\n").unwrap_err();
    assert!(config_error(&e, &["unknown variant"]), "{e:?}");
    let e = with_access("[auth]\nclient_crl = [\"x.crl\"]\n").unwrap_err();
    assert!(config_error(&e, &["auth.client_crl"]), "{e:?}");
    let many = |n: usize| {
        let files: Vec<String> = (0..n).map(|i| format!("\"ca{i}.pem\"")).collect();
        format!(
            "[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n[auth]\nclient_ca = [{}]\n",
            files.join(",")
        )
    };
    let max = islet_store::config::access_limits::MAX_CLIENT_CA_FILES;
    assert!(with_access(&many(max)).is_ok());
    let e = with_access(&many(max + 1)).unwrap_err();
    assert!(config_error(&e, &["auth.client_ca", "at most"]), "{e:?}");
}

#[test]
fn client_limits_hold_at_the_limit_and_one_past() {
    let max = islet_store::config::access_limits::MAX_CLIENT_RATE;
    let c = with_access("[client_limits]\nwrite_per_second = 50\n").unwrap();
    let rate = c.access.write_rate.unwrap();
    assert_eq!(
        (rate.per_second, rate.burst),
        (50, 100),
        "the burst defaults to twice the rate"
    );
    assert!(c.access.timestamp_rate.is_none());
    let c = with_access(&format!(
        "[client_limits]\ntimestamp_per_second = {max}\ntimestamp_burst = {}\n",
        2 * max
    ))
    .unwrap();
    assert_eq!(c.access.timestamp_rate.unwrap().per_second, max);
    for (text, field) in [
        (
            format!("witness_per_second = {}", max + 1),
            "client_limits.witness_per_second",
        ),
        (
            format!("write_per_second = 1\nwrite_burst = {}", 2 * max + 1),
            "client_limits.write_burst",
        ),
        (
            "write_per_second = 1\nwrite_burst = 0".to_owned(),
            "client_limits.write_burst",
        ),
        ("write_burst = 5".to_owned(), "client_limits.write_burst"),
    ] {
        let e = with_access(&format!("[client_limits]\n{text}\n")).unwrap_err();
        assert!(config_error(&e, &[field]), "{text}: {e:?}");
    }
}

#[test]
fn a_fresh_config_writes_no_access_tables_and_reads_them_back() {
    let text = base().to_toml().unwrap();
    for table in ["[tls]", "[auth]", "[client_limits]"] {
        assert!(!text.contains(table), "{table} in {text}");
    }
    let c = with_access("[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n[auth]\nwrite = \"token\"\n[client_limits]\nwrite_per_second = 5\n").unwrap();
    let again = RawConfig::parse(&c.raw.to_toml().unwrap())
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(again.access, c.access);
    assert_eq!(again.tls, c.tls);
}

#[test]
fn a_node_that_never_sequences_carries_no_key_and_every_other_own_log_has_one() {
    use islet_store::config::{EngineKind, NodeRole};
    let postgres = |role: Option<NodeRole>| {
        let mut c = base();
        c.store.engine = EngineKind::Postgres;
        c.store.url = Some("postgres://islet@127.0.0.1:5432/islet".into());
        c.store.role = role;
        c
    };
    // Role never: origin and valid_from, no key.
    let mut keyless = postgres(Some(NodeRole::Never));
    keyless.key = None;
    keyless.key_type = None;
    let own = keyless.validate().unwrap().own.unwrap();
    assert_eq!(own.key, None);
    assert_eq!(own.origin, "log.example.org");
    // ... and a key given to it is refused, key_type too.
    let e = postgres(Some(NodeRole::Never)).validate().unwrap_err();
    assert!(config_error(&e, &["key", "role = \"never\""]), "{e:?}");
    let mut typed = postgres(Some(NodeRole::Never));
    typed.key = None;
    let e = typed.validate().unwrap_err();
    assert!(config_error(&e, &["key_type"]), "{e:?}");
    // An eligible node (the default) and a RocksDB log need their key.
    for mut c in [postgres(Some(NodeRole::Eligible)), postgres(None), base()] {
        assert!(c.clone().validate().unwrap().own.unwrap().key.is_some());
        c.key = None;
        let e = c.validate().unwrap_err();
        assert!(config_error(&e, &["go together"]), "{e:?}");
    }
}
