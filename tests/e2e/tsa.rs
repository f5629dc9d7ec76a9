//! The timestamp authority `islet serve` runs at `/api/v1/timestamp`,
//! with the real clients, all offline on 127.0.0.1:
//!
//! - sigstore-python 4.5 signs end to end (its Signer, timestamp client,
//!   Rekor v2 client and bundle code; a site CA stands in for Fulcio) and
//!   verifies with its own Verifier; `islet verify` gives the same verdicts;
//! - sigstore-js (@sigstore/sign 5.1.0 with its Rekor v2 and TSA witnesses,
//!   @sigstore/verify 4.1.3) likewise;
//! - OpenSSL's `openssl ts` makes queries (SHA-256/384/512, with and without
//!   certReq) and verifies the replies against the served chain; a SHA-1
//!   query gets a DER rejection (badAlg); the JSON form verifies too;
//! - `--no-tsa`, serial numbers across a restart, and the `/metrics`
//!   counters.
//!
//! The CA URL given to `islet trust-root` (`https://fulcio.test.invalid`) is
//! the site's Fulcio as the signing config names it; sigstore-python
//! refuses a signing config without one. It is never contacted: the
//! certificates come from the test's own CA.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{
    Islet, http_get, http_request, islet, islet_trust_root, sigstore_js, sigstore_python,
    write_entries,
};

pub(crate) const TSA_PATH: &str = "/api/v1/timestamp";
const CERTCHAIN_PATH: &str = "/api/v1/timestamp/certchain";
const FULCIO_URL: &str = "https://fulcio.test.invalid";
const CT_URL: &str = "https://ct.test.invalid";
/// The OIDC issuer the test CA writes into its certificates (see
/// python/sigstore_tsa_flow.py).
pub(crate) const ISSUER: &str = "https://oidc.islet.test";
pub(crate) const EMAIL: &str = "signer@islet.test";
pub(crate) const URI: &str = "https://ci.islet.test/pipelines/build@refs/heads/main";

pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e")
        .join(name)
}

/// Runs a phase of python/sigstore_tsa_flow.py; its JSON line.
pub(crate) fn flow(args: &[&str]) -> serde_json::Value {
    flow_with_env(args, &[])
}

/// [`flow`] with more environment variables (a CA bundle for HTTPS).
pub(crate) fn flow_with_env(args: &[&str], env: &[(&str, &Path)]) -> serde_json::Value {
    let out = Command::new(sigstore_python())
        .arg(script("python/sigstore_tsa_flow.py"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sigstore_tsa_flow.py {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout.lines().last().expect("a JSON line");
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The site's trust material, with the test CA and CT key: the
/// ClientTrustConfig (for the clients) and the TrustedRoot (for `islet
/// verify`), written into `dir`.
pub(crate) fn site_trust(site: &Islet, ca_dir: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let ca = ca_dir.join("ca.pem");
    let ctlog = format!("{CT_URL}={}", s(&ca_dir.join("ct.pub.pem")));
    let config = dir.join("client_trust_config.json");
    let text = islet_trust_root(
        &site.data,
        &[
            "--signing-config",
            "--ca",
            s(&ca),
            "--ctlog",
            &ctlog,
            "--ca-url",
            FULCIO_URL,
        ],
    );
    std::fs::write(&config, &text).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    // What the issue asks of trust-root, checked on its output.
    let sc = &v["signingConfig"];
    assert_eq!(
        sc["tsaUrls"][0]["url"],
        format!("{}{TSA_PATH}", site.url),
        "{text}"
    );
    assert_eq!(sc["tsaUrls"][0]["majorApiVersion"], 1, "{text}");
    assert_eq!(sc["tsaConfig"]["selector"], "ANY", "{text}");
    assert_eq!(sc["caUrls"][0]["url"], FULCIO_URL, "{text}");
    let tr = &v["trustedRoot"];
    assert_eq!(
        tr["timestampAuthorities"].as_array().unwrap().len(),
        1,
        "{text}"
    );
    assert_eq!(
        tr["certificateAuthorities"].as_array().unwrap().len(),
        1,
        "{text}"
    );
    assert_eq!(tr["ctlogs"].as_array().unwrap().len(), 1, "{text}");
    assert_eq!(
        tr["ctlogs"][0]["publicKey"]["validFor"]["start"],
        tr["tlogs"][0]["publicKey"]["validFor"]["start"],
        "a CT key starts with the log by default: {text}"
    );
    let older = islet_trust_root(
        &site.data,
        &[
            "--ctlog",
            &ctlog,
            "--ctlog-valid-from",
            "2020-01-01T00:00:00Z",
        ],
    );
    let older: serde_json::Value = serde_json::from_str(&older).unwrap();
    assert_eq!(
        older["ctlogs"][0]["publicKey"]["validFor"]["start"],
        "2020-01-01T00:00:00Z"
    );
    let bad = islet(&[
        "trust-root",
        "--data",
        s(&site.data),
        "--ctlog",
        &ctlog,
        "--ctlog-valid-from",
        "yesterday",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("trust.ctlog[0].valid_from"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let root = dir.join("trusted_root.json");
    let text = islet_trust_root(&site.data, &["--ca", s(&ca), "--ctlog", &ctlog]);
    std::fs::write(&root, text).unwrap();
    (config, root)
}

/// `islet verify` of one bundle with an identity policy: exit code and
/// stdout+stderr.
pub(crate) fn islet_verify(
    bundle: &Path,
    root: &Path,
    artifact: &Path,
    identity: &str,
) -> (Option<i32>, String) {
    let out = islet(&[
        "verify",
        "--bundle",
        s(bundle),
        "--trusted-root",
        s(root),
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        ISSUER,
        "--artifact",
        s(artifact),
    ]);
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn sigstore_python_signs_with_islets_tsa_and_it_and_islet_verify_accept_and_refuse_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let site = Islet::start(&tmp.path().join("site"));
    // Another site, with a TSA of its own that the first site's trusted
    // root does not hold.
    let other = Islet::start(&tmp.path().join("other"));
    let work = tmp.path().join("work");
    // A Fulcio-like chain: a P-384 root and an intermediate.
    let made = flow(&["make-ca", s(&work), "--intermediate"]);
    assert_eq!(made["chain"], 2, "{made}");
    // The CA's certificates and SCTs pass sigstore-python's own checks
    // before islet is involved.
    let checked = flow(&["check-ca", s(&work)]);
    assert_eq!(checked["email"], "sct and chain verified", "{checked}");
    let (config, root) = site_trust(&site, &work, &work);

    let other_tsa = format!("{}{TSA_PATH}", other.url);
    let r = flow(&["sign", s(&work), s(&config), &other_tsa]);
    eprintln!("sigstore-python: {r}");
    assert_eq!(r["tsa_url"], format!("{}{TSA_PATH}", site.url), "{r}");
    assert_eq!(r["accepted"], serde_json::json!(["email", "uri"]), "{r}");
    assert!(
        r["refused"]["foreign-tsa"]
            .as_str()
            .is_some_and(|m| m.contains("not enough sources of verified time")),
        "{r}"
    );
    assert!(r["refused"]["email-other-identity"].is_string(), "{r}");

    // islet verify: the same verdicts.
    for (name, identity) in [("email", EMAIL), ("uri", URI)] {
        let bundle = work.join(format!("bundle-{name}.sigstore.json"));
        let artifact = work.join(format!("artifact-{name}"));
        let (code, out) = islet_verify(&bundle, &root, &artifact, identity);
        assert_eq!(code, Some(0), "{name}: {out}");
        assert!(out.starts_with("OK "), "{name}: {out}");
        // Another identity is refused, naming the identity check.
        let (code, out) = islet_verify(&bundle, &root, &artifact, "someone-else@islet.test");
        assert_eq!(code, Some(1), "{name}: {out}");
        assert!(out.contains("identity:"), "{name}: {out}");
    }
    let (code, out) = islet_verify(
        &work.join("bundle-foreign-tsa.sigstore.json"),
        &root,
        &work.join("artifact-foreign-tsa"),
        EMAIL,
    );
    assert_eq!(code, Some(1), "{out}");
    // The only timestamp is from a TSA the root does not hold: no verified
    // time, and a Rekor v2 entry gives none of its own.
    assert!(out.contains("time_threshold:"), "{out}");
}

/// Runs js/sigstore_js_flow.js with the key and certificate `issue` wrote
/// into `work`, writing its bundles into `out`; its JSON line.
pub(crate) fn js_flow(
    config: &Path,
    work: &Path,
    out_dir: &Path,
    other_tsa: &str,
) -> serde_json::Value {
    js_flow_with_env(config, work, out_dir, other_tsa, &[])
}

/// [`js_flow`] with more environment variables (a CA bundle for HTTPS).
pub(crate) fn js_flow_with_env(
    config: &Path,
    work: &Path,
    out_dir: &Path,
    other_tsa: &str,
    env: &[(&str, &Path)],
) -> serde_json::Value {
    std::fs::create_dir_all(out_dir).unwrap();
    let out = Command::new("node")
        .arg(script("js/sigstore_js_flow.js"))
        .args([
            s(config),
            s(&work.join("js.key.pem")),
            s(&work.join("js.cert.pem")),
            EMAIL,
            ISSUER,
            s(out_dir),
            other_tsa,
        ])
        .env("NODE_PATH", sigstore_js())
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .output()
        .expect("run node (Debian package nodejs)");
    assert!(
        out.status.success(),
        "sigstore_js_flow.js failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let r: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    eprintln!("sigstore-js: {r}");
    r
}

/// A site and another site (whose TSA the first's root does not hold), a
/// P-256 site CA that issues directly, a leaf for the sigstore-js signer
/// issued after the site's log began (so its SCT is inside the CT key's
/// `validFor`), and the site's trust material.
struct JsSite {
    site: Islet,
    _other: Islet,
    other_tsa: String,
    work: PathBuf,
    config: PathBuf,
    root: PathBuf,
}

fn js_site(tmp: &Path, entries_before: usize) -> JsSite {
    let site = Islet::start(&tmp.join("site"));
    if entries_before > 0 {
        write_entries(&site, "before", entries_before);
    }
    let other = Islet::start(&tmp.join("other"));
    let work = tmp.join("work");
    let made = flow(&["make-ca", s(&work), "--root-curve", "p256"]);
    assert_eq!(made["chain"], 1, "{made}");
    flow(&["issue", s(&work), "js", EMAIL, ISSUER]);
    let (config, root) = site_trust(&site, &work, &work);
    JsSite {
        other_tsa: format!("{}{TSA_PATH}", other.url),
        site,
        _other: other,
        work,
        config,
        root,
    }
}

#[test]
fn sigstore_js_signs_with_islets_tsa_json_form_and_it_and_islet_verify_accept_and_refuse_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let js = js_site(tmp.path(), 3);
    let out_dir = js.work.join("out");
    let r = js_flow(&js.config, &js.work, &out_dir, &js.other_tsa);
    assert_eq!(r["tsa_url"], format!("{}{TSA_PATH}", js.site.url), "{r}");
    assert_eq!(r["accepted"], serde_json::json!(["js"]), "{r}");
    assert!(
        r["refused"]["js-foreign-tsa"]
            .as_str()
            .is_some_and(|m| m.starts_with("TIMESTAMP_ERROR")),
        "{r}"
    );
    assert!(r["refused"]["js-other-identity"].is_string(), "{r}");
    // @sigstore/sign 5.1 logs the certificate itself (x509Certificate) as
    // the Rekor v2 verifier, as the bundle carries it: islet verify can
    // accept the bundle. Had it logged the certificate's public key,
    // islet verify would have to refuse (spec 3.3 step 4).
    assert_eq!(r["logged_verifier"], "x509Certificate", "{r}");
    // A v0.2 bundle with a one-certificate chain: what
    // MessageSignatureBundleBuilder makes.
    assert_eq!(
        r["media_type"], "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "{r}"
    );
    let bundle = out_dir.join("bundle-js.sigstore.json");
    let artifact = out_dir.join("artifact-js");

    // The bundle sigstore-js made verifies with sigstore-python too.
    let v = flow(&["verify", s(&js.config), s(&bundle), s(&artifact), EMAIL]);
    assert!(v["verified"].is_string(), "{v}");

    // islet verify: the same verdicts.
    let (code, out) = islet_verify(&bundle, &js.root, &artifact, EMAIL);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("OK "), "{out}");
    let (code, out) = islet_verify(&bundle, &js.root, &artifact, "someone-else@islet.test");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("identity:"), "{out}");
    let (code, out) = islet_verify(
        &out_dir.join("bundle-js-foreign-tsa.sigstore.json"),
        &js.root,
        &out_dir.join("artifact-js-foreign-tsa"),
        EMAIL,
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("time_threshold:"), "{out}");
}

#[test]
fn the_first_sigstore_js_bundle_of_a_fresh_log_has_no_log_index_and_islet_verify_accepts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let js = js_site(tmp.path(), 0);
    let out_dir = js.work.join("out");
    let r = js_flow(&js.config, &js.work, &out_dir, &js.other_tsa);
    // sigstore-js accepts its own bundle.
    assert_eq!(r["accepted"], serde_json::json!(["js"]), "{r}");
    // Entry 0 of a tree of one: sigstore-js writes protobuf JSON, which
    // leaves out default values, so the bundle has no `logIndex` and its
    // proof no `logIndex` and no `hashes`. Protobuf JSON reads an absent
    // field as its default (0, []), as sigstore-go and sigstore-js do;
    // sigstore-python 4.5 cannot load such a bundle.
    let bundle = out_dir.join("bundle-js.sigstore.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let entry = &json["verificationMaterial"]["tlogEntries"][0];
    assert!(entry.get("logIndex").is_none(), "{entry}");
    assert!(entry["inclusionProof"].get("logIndex").is_none(), "{entry}");
    assert!(entry["inclusionProof"].get("hashes").is_none(), "{entry}");
    let (code, out) = islet_verify(&bundle, &js.root, &out_dir.join("artifact-js"), EMAIL);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("OK "), "{out}");
}

/// `openssl ARGS`, which must succeed; stdout and stderr together.
fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?} failed: {text}");
    text
}

/// The served chain, split: `leaf.pem` (the first certificate) and
/// `root.pem` (the rest), in `dir`.
fn fetch_chain(site: &Islet, dir: &Path) -> (PathBuf, PathBuf) {
    let (status, headers, body) = http_request(site.port, "GET", CERTCHAIN_PATH, None, b"");
    assert_eq!(status, 200, "{headers}");
    assert!(
        headers.contains("content-type: application/pem-certificate-chain"),
        "{headers}"
    );
    let text = String::from_utf8(body).unwrap();
    let end = "-----END CERTIFICATE-----";
    let blocks: Vec<String> = text
        .split_inclusive(end)
        .map(str::trim)
        .filter(|b| b.contains("BEGIN CERTIFICATE"))
        .map(|b| format!("{b}\n"))
        .collect();
    assert!(blocks.len() >= 2, "a chain of leaf and root: {text}");
    let (leaf, root) = (dir.join("leaf.pem"), dir.join("root.pem"));
    std::fs::write(&leaf, &blocks[0]).unwrap();
    std::fs::write(&root, blocks[1..].concat()).unwrap();
    // The leaf is the TSA's: timeStamping only, critical.
    let text = openssl(&[
        "x509",
        "-in",
        s(&leaf),
        "-noout",
        "-ext",
        "extendedKeyUsage",
    ]);
    assert!(
        text.contains("critical") && text.contains("Time Stamping"),
        "{text}"
    );
    (leaf, root)
}

/// POSTs a file to the TSA; the status and the reply written to `out`.
fn post_query(site: &Islet, content_type: &str, body: &[u8], out: &Path) -> (u16, String) {
    let (status, headers, reply) =
        http_request(site.port, "POST", TSA_PATH, Some(content_type), body);
    std::fs::write(out, reply).unwrap();
    (status, headers)
}

/// The serial number `openssl ts -reply -text` prints for a reply.
fn serial_of(reply: &Path) -> String {
    let text = openssl(&["ts", "-reply", "-in", s(reply), "-text"]);
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Serial number:"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no serial number in {text}"))
}

/// Issues one DER timestamp over `data` with `openssl ts -query`, checks
/// the reply with `openssl ts -verify` both ways, returns its serial.
fn openssl_round_trip(
    site: &Islet,
    dir: &Path,
    name: &str,
    data: &Path,
    alg: &str,
    cert_req: bool,
    chain: &(PathBuf, PathBuf),
) -> String {
    let (leaf, root) = chain;
    let query = dir.join(format!("{name}.tsq"));
    let reply = dir.join(format!("{name}.tsr"));
    let mut args = vec!["ts", "-query", "-data", s(data), alg, "-out", s(&query)];
    if cert_req {
        args.push("-cert");
    }
    openssl(&args);
    let (status, headers) = post_query(
        site,
        "application/timestamp-query",
        &std::fs::read(&query).unwrap(),
        &reply,
    );
    assert_eq!(status, 200, "{name}: {headers}");
    assert!(
        headers.contains("content-type: application/timestamp-reply"),
        "{name}: {headers}"
    );
    // Against the query (imprint, nonce, certReq) and against the data.
    for against in [["-queryfile", s(&query)], ["-data", s(data)]] {
        let text = openssl(&[
            "ts",
            "-verify",
            "-in",
            s(&reply),
            against[0],
            against[1],
            "-CAfile",
            s(root),
            "-untrusted",
            s(leaf),
        ]);
        assert!(text.contains("Verification: OK"), "{name}: {text}");
    }
    let text = openssl(&["ts", "-reply", "-in", s(&reply), "-text"]);
    assert!(text.contains("Status: Granted"), "{name}: {text}");
    assert!(
        text.contains(&format!("Hash Algorithm: {}", &alg[1..])),
        "{name}: {text}"
    );
    serial_of(&reply)
}

#[test]
fn openssl_verifies_islets_timestamps_refuses_sha1_and_serials_stay_distinct_across_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut site = Islet::start(&tmp.path().join("site"));
    let dir = tmp.path().join("ts");
    std::fs::create_dir_all(&dir).unwrap();
    let chain = fetch_chain(&site, &dir);
    let data = dir.join("data.txt");
    std::fs::write(&data, b"islet timestamped by openssl\n").unwrap();

    let mut serials = Vec::new();
    for alg in ["-sha256", "-sha384", "-sha512"] {
        for cert_req in [true, false] {
            let name = format!("q{}{}", &alg[1..], if cert_req { "-cert" } else { "" });
            serials.push(openssl_round_trip(
                &site, &dir, &name, &data, alg, cert_req, &chain,
            ));
        }
    }

    // The JSON form (what sigstore-js sends): the digest of the data,
    // base64; the reply verifies against the data.
    use base64::Engine;
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &std::fs::read(&data).unwrap());
    let json = format!(
        r#"{{"artifactHash":"{}","hashAlgorithm":"sha256"}}"#,
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    );
    let reply = dir.join("json.tsr");
    let (status, headers) = post_query(&site, "application/json", json.as_bytes(), &reply);
    assert_eq!(status, 200, "{headers}");
    let text = openssl(&[
        "ts",
        "-verify",
        "-in",
        s(&reply),
        "-data",
        s(&data),
        "-CAfile",
        s(&chain.1),
        "-untrusted",
        s(&chain.0),
    ]);
    assert!(text.contains("Verification: OK"), "{text}");
    serials.push(serial_of(&reply));

    // SHA-1: a DER rejection, HTTP 400, badAlg.
    let query = dir.join("sha1.tsq");
    let reply = dir.join("sha1.tsr");
    openssl(&[
        "ts",
        "-query",
        "-data",
        s(&data),
        "-sha1",
        "-cert",
        "-out",
        s(&query),
    ]);
    let (status, headers) = post_query(
        &site,
        "application/timestamp-query",
        &std::fs::read(&query).unwrap(),
        &reply,
    );
    assert_eq!(status, 400, "{headers}");
    let text = openssl(&["ts", "-reply", "-in", s(&reply), "-text"]);
    assert!(text.contains("Status: Rejected."), "{text}");
    assert!(text.contains("TST info:\nNot included."), "{text}");
    assert!(
        text.contains("unrecognized or unsupported algorithm identifier"),
        "{text}"
    );

    // Serial numbers across a restart: all distinct.
    let before_restart = serials.len();
    site.restart();
    for i in 0..4 {
        let name = format!("after-{i}");
        serials.push(openssl_round_trip(
            &site,
            &dir,
            &name,
            &data,
            "-sha256",
            i % 2 == 0,
            &chain,
        ));
    }
    let distinct: BTreeSet<&String> = serials.iter().collect();
    assert_eq!(distinct.len(), serials.len(), "{serials:?}");
    assert!(before_restart > 0 && serials.len() > before_restart);
    // The chain is the same after the restart (the key and chain files
    // persist).
    let again = tmp.path().join("again");
    std::fs::create_dir_all(&again).unwrap();
    let chain2 = fetch_chain(&site, &again);
    assert_eq!(
        std::fs::read(&chain.0).unwrap(),
        std::fs::read(&chain2.0).unwrap()
    );
}

#[test]
fn without_the_tsa_both_paths_are_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("site");
    let site = Islet::start_with(&data, crate::support::free_port(), &["--no-tsa"]);
    let (status, _, _) = http_request(site.port, "GET", CERTCHAIN_PATH, None, b"");
    assert_eq!(status, 404);
    let (status, _, _) = http_request(
        site.port,
        "POST",
        TSA_PATH,
        Some("application/json"),
        br#"{"artifactHash":"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=","hashAlgorithm":"sha256"}"#,
    );
    assert_eq!(status, 404);
    // The log still serves.
    let (status, _) = http_get(site.port, "/healthz");
    assert_eq!(status, 200);
}

/// The value of `name{labels}` in a Prometheus text exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[test]
fn metrics_count_issued_and_refused_timestamps() {
    let tmp = tempfile::tempdir().unwrap();
    let site = Islet::start(&tmp.path().join("site"));
    let dir = tmp.path().join("ts");
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data.txt");
    std::fs::write(&data, b"counted\n").unwrap();
    let query = dir.join("q.tsq");
    openssl(&[
        "ts",
        "-query",
        "-data",
        s(&data),
        "-sha256",
        "-cert",
        "-out",
        s(&query),
    ]);
    let der = std::fs::read(&query).unwrap();
    for _ in 0..3 {
        let (status, _) = post_query(
            &site,
            "application/timestamp-query",
            &der,
            &dir.join("r.tsr"),
        );
        assert_eq!(status, 200);
    }
    let json = br#"{"artifactHash":"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=","hashAlgorithm":"sha256"}"#;
    for _ in 0..2 {
        let (status, _) = post_query(&site, "application/json", json, &dir.join("r.tsr"));
        assert_eq!(status, 200);
    }
    let (status, _) = post_query(
        &site,
        "application/json",
        br#"{"artifactHash":"n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=","hashAlgorithm":"sha1"}"#,
        &dir.join("r.tsr"),
    );
    assert_eq!(status, 400);

    let (status, body) = http_get(site.port, "/metrics");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(
        sample(&text, "islet_tsa_timestamps_total{outcome=\"issued\"}"),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "islet_tsa_timestamps_total{outcome=\"refused\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("# TYPE islet_tsa_timestamps_total counter"),
        "{text}"
    );
    // Prometheus's own linter, when the machine has it (it is not
    // installed for the tests).
    let promtool = Command::new("sh")
        .args(["-c", "command -v promtool"])
        .output()
        .is_ok_and(|o| o.status.success());
    if promtool {
        let path = dir.join("metrics.txt");
        std::fs::write(&path, &text).unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("promtool check metrics < {}", s(&path)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A DER `TimeStampReq` for a SHA-256 imprint of `data`, no nonce, as
/// sigstore-go sends one (RFC 3161 section 2.4.1, written by hand here).
fn der_query(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut q = vec![0x30, 0x36, 0x02, 0x01, 0x01, 0x30, 0x31];
    q.extend_from_slice(&[
        0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
    ]);
    q.extend_from_slice(&[0x04, 0x20]);
    q.extend_from_slice(&sha2::Sha256::digest(data));
    q
}

#[test]
fn the_tsa_rate_and_body_limits_hold_and_the_log_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("site");
    let port = crate::support::free_port();
    // A burst of 3 and one timestamp a second: a fourth request sent right
    // after the first three finds the bucket empty.
    assert!(
        islet(&[
            "init",
            "--data",
            data.to_str().unwrap(),
            "--public-url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .status
        .success()
    );
    let toml = data.join("islet.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = text
        .replace("rate_per_second = 1000", "rate_per_second = 1")
        .replace("burst = 2000", "burst = 3");
    assert!(text.contains("burst = 3"), "{text}");
    std::fs::write(&toml, text).unwrap();
    let site = Islet::start_on(&data, port);

    let query = der_query(b"rate");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, headers, _) = http_request(
            site.port,
            "POST",
            TSA_PATH,
            Some("application/timestamp-query"),
            &query,
        );
        statuses.push((status, headers.contains("retry-after: 1")));
    }
    assert_eq!(
        statuses,
        vec![(200, false), (200, false), (200, false), (429, true)],
        "the burst, then 429 with Retry-After"
    );
    // The log is not slowed by a TSA at its limit: entries are written.
    write_entries(&site, "beside the tsa", 5);
    // After a second, one more.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (status, _, _) = http_request(
        site.port,
        "POST",
        TSA_PATH,
        Some("application/timestamp-query"),
        &query,
    );
    assert_eq!(status, 200);

    // Bodies: the server reads one byte past the TSA's largest request
    // (MAX_DER_REQUEST_BYTES) and answers the protocol's refusal for it;
    // anything larger is cut off with 413 before it is read.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let past = vec![0x30; islet_tsa::MAX_DER_REQUEST_BYTES + 1];
    let (status, headers, body) = http_request(
        site.port,
        "POST",
        TSA_PATH,
        Some("application/timestamp-query"),
        &past,
    );
    assert_eq!(status, 400, "{headers}");
    assert!(headers.contains("application/timestamp-reply"), "{headers}");
    let reply = tmp.path().join("too-large.tsr");
    std::fs::write(&reply, &body).unwrap();
    let out = Command::new("openssl")
        .args(["ts", "-reply", "-text", "-in"])
        .arg(&reply)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Status: Rejected") && text.contains("too large"),
        "{text}"
    );
    let way_past = vec![0x30; islet_tsa::MAX_DER_REQUEST_BYTES + 2];
    let (status, _, body) = http_request(
        site.port,
        "POST",
        TSA_PATH,
        Some("application/timestamp-query"),
        &way_past,
    );
    assert_eq!(status, 413);
    assert!(
        String::from_utf8_lossy(&body).contains("timestamp request is too large"),
        "{}",
        String::from_utf8_lossy(&body)
    );
}
