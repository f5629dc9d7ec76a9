use std::time::Duration;

use axum::http::HeaderValue;
use islet_store::config::Rate;
use islet_store::tokens::TokenFile;

use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    access: Arc<Access>,
    write_token: String,
    read_token: String,
}

fn fixture(write: AccessMode) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.json");
    let now = SystemTime::now();
    let mut file = TokenFile::default();
    let write_token = file
        .add("ci", &[RouteGroup::Write, RouteGroup::Timestamp], None, now)
        .unwrap()
        .secret;
    let read_token = file
        .add("auditor", &[RouteGroup::Read], None, now)
        .unwrap()
        .secret;
    file.save(&path).unwrap();
    let settings = AccessSettings {
        write,
        client_ca: vec!["ca.pem".into()],
        write_rate: Some(Rate {
            per_second: 1,
            burst: 1,
        }),
        ..AccessSettings::default()
    };
    let access = Access::new(&settings, TokenWatch::new(path.clone())).unwrap();
    Fixture {
        _dir: dir,
        path,
        access,
        write_token,
        read_token,
    }
}

fn with_auth(value: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_bytes(value).unwrap(),
    );
    h
}

fn bearer_of(token: &str) -> HeaderMap {
    with_auth(format!("Bearer {token}").as_bytes())
}

fn refusal(r: Result<ClientId, ApiError>) -> (u16, String) {
    let e = r.unwrap_err();
    let status = e.status().as_u16();
    let text = format!("{e:?}");
    (status, text)
}

const ADDR: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

#[test]
fn route_groups_are_told_by_method_and_path() {
    let g = |m: Method, p: &str| group_of(&m, p);
    assert_eq!(
        g(Method::POST, "/api/v2/log/entries"),
        Some(RouteGroup::Write)
    );
    assert_eq!(
        g(Method::POST, "/shards/ab/api/v2/log/entries"),
        Some(RouteGroup::Write)
    );
    assert_eq!(
        g(Method::POST, "/api/v1/timestamp"),
        Some(RouteGroup::Timestamp)
    );
    for p in [
        "/witness/add-checkpoint",
        "/mirror/add-checkpoint",
        "/mirror/add-entries",
    ] {
        assert_eq!(g(Method::POST, p), Some(RouteGroup::Witness), "{p}");
    }
    assert_eq!(
        g(Method::GET, "/api/v2/log/entries"),
        Some(RouteGroup::Read)
    );
    assert_eq!(g(Method::GET, "/api/v2/checkpoint"), Some(RouteGroup::Read));
    assert_eq!(g(Method::GET, "/metrics"), Some(RouteGroup::Read));
    assert_eq!(g(Method::GET, "/healthz"), None);
}

#[test]
fn a_closed_group_admits_a_live_token_with_its_scope_and_nothing_else() {
    let f = fixture(AccessMode::Token);
    let now = SystemTime::now();
    let peer = PeerIdentity::default();
    let a = &f.access;
    let ok = a.authenticate(
        RouteGroup::Write,
        &bearer_of(&f.write_token),
        &peer,
        ADDR,
        now,
    );
    assert_eq!(ok.unwrap(), ClientId::Token("ci".into()));
    let (status, text) =
        refusal(a.authenticate(RouteGroup::Write, &HeaderMap::new(), &peer, ADDR, now));
    assert_eq!(status, 401);
    assert!(text.contains("need a bearer token"), "{text}");
    let (status, text) = refusal(a.authenticate(
        RouteGroup::Write,
        &bearer_of(&f.read_token),
        &peer,
        ADDR,
        now,
    ));
    assert_eq!(status, 403);
    assert!(
        text.contains("\\\"auditor\\\" may not make write requests"),
        "{text}"
    );
    // Reads are open: any token, a bad one or none.
    for h in [
        HeaderMap::new(),
        with_auth(b"Bearer nonsense"),
        bearer_of(&f.read_token),
    ] {
        assert!(
            a.authenticate(RouteGroup::Read, &h, &peer, ADDR, now)
                .is_ok()
        );
    }
}

#[test]
fn bad_authorization_headers_of_every_shape_get_a_401_that_says_why() {
    let f = fixture(AccessMode::Token);
    let now = SystemTime::now();
    let peer = PeerIdentity::default();
    let good = f.write_token.clone();
    let long = "x".repeat(MAX_AUTHORIZATION_BYTES + 1);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"Basic dXNlcjpwYXNz".to_vec(), "scheme is \\\"Basic\\\""),
        (b"Bearer".to_vec(), "not \\\"Bearer <token>\\\""),
        (b"Bearer ".to_vec(), "not \\\"Bearer <token>\\\""),
        (
            format!("Bearer {good}x").into_bytes(),
            "characters; islet's have 49",
        ),
        (
            format!("Bearer {}", &good[..48]).into_bytes(),
            "characters; islet's have 49",
        ),
        (
            format!("Bearer xslet_{}", &good[6..]).into_bytes(),
            "start with islet_",
        ),
        (
            format!("Bearer {}+", &good[..48]).into_bytes(),
            "outside base64url",
        ),
        (
            format!("Bearer islet_{}", "A".repeat(43)).into_bytes(),
            "not one of this islet's",
        ),
        (long.into_bytes(), "longer than 256 bytes"),
        (b"Bearer \xff\xfe".to_vec(), "characters; islet's have 49"),
    ];
    for (value, want) in cases {
        let (status, text) =
            refusal(
                f.access
                    .authenticate(RouteGroup::Write, &with_auth(&value), &peer, ADDR, now),
            );
        assert_eq!(status, 401, "{value:?}");
        assert!(text.contains(want), "{value:?}: {text}");
    }
    let mut two = bearer_of(&good);
    two.append(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {good}")).unwrap(),
    );
    let (status, text) = refusal(
        f.access
            .authenticate(RouteGroup::Write, &two, &peer, ADDR, now),
    );
    assert_eq!(status, 401);
    assert!(text.contains("more than one"), "{text}");
    // The scheme is case-insensitive (RFC 9110).
    assert!(
        f.access
            .authenticate(
                RouteGroup::Write,
                &with_auth(format!("bearer   {good}").as_bytes()),
                &peer,
                ADDR,
                now
            )
            .is_ok()
    );
}

#[test]
fn a_revoked_token_is_refused_at_the_next_request_and_an_expired_one_at_its_time() {
    let f = fixture(AccessMode::Token);
    let now = SystemTime::now();
    let peer = PeerIdentity::default();
    let h = bearer_of(&f.write_token);
    assert!(
        f.access
            .authenticate(RouteGroup::Write, &h, &peer, ADDR, now)
            .is_ok()
    );
    let mut file = TokenFile::load(&f.path).unwrap();
    file.revoke("ci", now).unwrap();
    let soon = file
        .add(
            "soon",
            &[RouteGroup::Write],
            Some(now + Duration::from_secs(60)),
            now,
        )
        .unwrap()
        .secret;
    file.save(&f.path).unwrap();
    let (status, text) = refusal(
        f.access
            .authenticate(RouteGroup::Write, &h, &peer, ADDR, now),
    );
    assert_eq!(status, 401);
    assert!(text.contains("was revoked at"), "{text}");
    let s = bearer_of(&soon);
    assert!(
        f.access
            .authenticate(RouteGroup::Write, &s, &peer, ADDR, now)
            .is_ok()
    );
    let later = now + Duration::from_secs(61);
    let (status, text) = refusal(
        f.access
            .authenticate(RouteGroup::Write, &s, &peer, ADDR, later),
    );
    assert_eq!(status, 401);
    assert!(text.contains("expired at"), "{text}");
    // A file that no longer parses admits nobody.
    std::fs::write(&f.path, b"{").unwrap();
    assert!(
        f.access
            .authenticate(RouteGroup::Write, &s, &peer, ADDR, now)
            .is_err()
    );
}

#[test]
fn certificates_admit_where_the_mode_says_and_name_the_client() {
    let now = SystemTime::now();
    let cert = PeerIdentity {
        certificate_subject: Some("CN=signer".into()),
        tls: true,
    };
    let f = fixture(AccessMode::ClientCert);
    assert_eq!(
        f.access
            .authenticate(RouteGroup::Write, &HeaderMap::new(), &cert, ADDR, now)
            .unwrap(),
        ClientId::Certificate("CN=signer".into())
    );
    // A token does not stand in for a certificate.
    let (status, text) = refusal(f.access.authenticate(
        RouteGroup::Write,
        &bearer_of(&f.write_token),
        &PeerIdentity::default(),
        ADDR,
        now,
    ));
    assert_eq!(status, 401);
    assert!(text.contains("connect over TLS"), "{text}");
    let f = fixture(AccessMode::TokenOrClientCert);
    let plain = PeerIdentity::default();
    assert!(
        f.access
            .authenticate(RouteGroup::Write, &HeaderMap::new(), &cert, ADDR, now)
            .is_ok()
    );
    assert!(
        f.access
            .authenticate(
                RouteGroup::Write,
                &bearer_of(&f.write_token),
                &plain,
                ADDR,
                now
            )
            .is_ok()
    );
    let f = fixture(AccessMode::Token);
    let (status, _) =
        refusal(
            f.access
                .authenticate(RouteGroup::Write, &HeaderMap::new(), &cert, ADDR, now),
        );
    assert_eq!(status, 401, "token-only groups ignore certificates");
}

#[test]
fn refusals_are_counted_by_group_and_reason() {
    let f = fixture(AccessMode::Token);
    let now = SystemTime::now();
    let peer = PeerIdentity::default();
    let _ = f
        .access
        .authenticate(RouteGroup::Write, &HeaderMap::new(), &peer, ADDR, now);
    let _ = f.access.authenticate(
        RouteGroup::Write,
        &bearer_of(&f.read_token),
        &peer,
        ADDR,
        now,
    );
    let mut text = String::new();
    f.access.render_metrics(&mut text);
    assert!(
        text.contains("islet_auth_refusals_total{group=\"write\",reason=\"missing\"} 1"),
        "{text}"
    );
    assert!(text.contains("islet_auth_refusals_total{group=\"write\",reason=\"scope\"} 1"));
    assert!(text.contains("islet_client_rate_limited_total{group=\"write\"} 0"));
}

#[test]
fn nothing_closed_and_nothing_limited_installs_no_layer() {
    let dir = tempfile::tempdir().unwrap();
    let watch = TokenWatch::new(dir.path().join("tokens.json"));
    assert!(Access::new(&AccessSettings::default(), watch).is_none());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Any Authorization value a client can send gets an answer on a
    /// closed group: a 401 unless it is the live token, never a panic.
    #[test]
    fn any_authorization_value_is_refused_cleanly(
        value in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
        prefix in proptest::prelude::prop_oneof![
            proptest::prelude::Just(&b""[..]),
            proptest::prelude::Just(&b"Bearer "[..]),
            proptest::prelude::Just(&b"Bearer islet_"[..]),
        ],
    ) {
        let f = fixture(AccessMode::Token);
        let mut bytes = prefix.to_vec();
        bytes.extend(value);
        let Ok(header) = HeaderValue::from_bytes(&bytes) else {
            return Ok(());
        };
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, header);
        let r = f.access.authenticate(
            RouteGroup::Write,
            &h,
            &PeerIdentity::default(),
            ADDR,
            SystemTime::now(),
        );
        let e = r.expect_err("a random value is not the live token");
        proptest::prop_assert_eq!(e.status().as_u16(), 401);
    }
}
