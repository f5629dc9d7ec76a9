//! Hostile input: thousands of mutated bundles and trusted roots, made by
//! a seeded generator from the valid site bundle (`tests/site`) and from
//! real vectors, each run through `TrustedRoot::parse` and
//! `Verifier::verify`. None may panic, none may take long, memory stays
//! bounded.
//!
//! Mutations: every numeric field set to extremes (0, -1, 2^63-1, 2^63,
//! 2^64, 1e308, -0, as numbers and as strings); every time field set to
//! extreme times (9999-12-31T23:59:59Z, year 10000, year 0, leap seconds,
//! 200-digit fractions, impossible dates, offsets); any node replaced by a
//! value of another type (null, booleans, arrays and objects swapped,
//! strings for numbers and numbers for strings), removed, or joined by an
//! unknown field; base64 fields replaced by hostile DER (bit flips,
//! truncations, huge length octets, 2,000-deep nesting, a 10,000-octet
//! INTEGER) so the certificate, timestamp, SCT and key parsers see it;
//! logged bodies mutated as JSON inside their base64; checkpoint notes
//! mutated line by line; the serialized file truncated every few bytes and
//! bit-flipped; and whole inputs of 10,000 nested arrays, arrays of
//! 100,000 elements and 16 MiB strings at the file-size limits (and one
//! byte past them).
//!
//! Each input runs under `catch_unwind` on a worker thread, which the test
//! waits for with a timeout (a hang fails the test instead of stalling
//! it); the input being run is written to
//! `$CARGO_TARGET_TMPDIR/hostile/current-{bundle,root}.json` first, and a
//! panicking one is kept as `panic-<n>-{bundle,root}.json` for replay.
//! The counts, the slowest input and the peak memory (VmHWM) are written
//! to `$CARGO_TARGET_TMPDIR/hostile/summary.txt`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod site;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use islet_verify::bundle::MAX_BUNDLE_FILE_BYTES;
use islet_verify::identity::IdentityPolicy;
use islet_verify::trusted_root::{MAX_TRUSTED_ROOT_BYTES, TrustedRoot};
use islet_verify::{Policy, Verifier};
use serde_json::{Map, Value, json};

/// Most CPU time one input may take (debug build). A guard against
/// superlinear paths, not a speed figure: the largest inputs (16 MiB
/// strings) take 0.5-1 s of linear work here alone and up to about 3 s
/// while the whole workspace's tests (PostgreSQL clusters among them)
/// share the 2 cores and their memory bandwidth; a quadratic path over
/// them would take minutes.
const PER_INPUT_BUDGET: Duration = Duration::from_secs(6);
/// How long the test waits for one input before calling it a hang.
const HANG_TIMEOUT: Duration = Duration::from_secs(30);
/// Most resident memory the whole run may reach (VmHWM).
const PEAK_MEMORY_LIMIT_KIB: u64 = 512 * 1024;
/// At least this many mutated bundles, and as many mutated roots.
const MIN_INPUTS: usize = 1000;
/// The generator's seed.
const SEED: u64 = 0x1513_7e57_0bad_cafe;

// ---------------------------------------------------------------------------
// A small deterministic generator (splitmix64).
// ---------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap()).unwrap()
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------
// Hostile values.
// ---------------------------------------------------------------------------

/// Values JSON numbers can't all hold in `serde_json::Value` (2^64, -0,
/// 1e308 written so) are put in as a marker string and written out raw.
const RAW: &str = "\u{1}RAW\u{1}";

fn raw(text: &str) -> Value {
    Value::String(format!("{RAW}{text}{RAW}"))
}

/// JSON text with the raw markers replaced by their text.
fn to_bytes(v: &Value) -> Vec<u8> {
    let text = serde_json::to_string(v).unwrap();
    // serde_json escapes U+0001 as \u0001.
    let marker = "\\u0001RAW\\u0001";
    if !text.contains(marker) {
        return text.into_bytes();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find(&format!("\"{marker}")) {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1 + marker.len()..];
        let end = after.find(&format!("{marker}\"")).unwrap();
        out.push_str(&after[..end]);
        rest = &after[end + marker.len() + 1..];
    }
    out.push_str(rest);
    out.into_bytes()
}

/// Extreme integers, as JSON numbers and as protojson strings.
fn integer_extremes() -> Vec<Value> {
    let mut v = Vec::new();
    for n in [
        "0",
        "-1",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1e308",
        "-1e308",
        "-0",
        "0.5",
        "1e-400",
        "253402300799",
        "253402300800",
        "100000000000000000000000000000000000000000000",
    ] {
        v.push(raw(n));
        v.push(Value::String(n.into()));
    }
    v.push(Value::String(" 1".into()));
    v.push(Value::String("+1".into()));
    v.push(Value::String("0x10".into()));
    v.push(Value::String(String::new()));
    v.push(Value::String("9".repeat(10_000)));
    v
}

/// Extreme times (RFC 3339 and near misses).
fn time_extremes() -> Vec<Value> {
    let mut v: Vec<Value> = [
        "9999-12-31T23:59:59Z",
        "10000-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:00:00Z",
        "2016-12-31T23:59:60Z",
        "2024-01-01T12:00:60Z",
        "2024-02-30T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:00:00+23:59",
        "2024-01-01T00:00:00-23:59",
        "2024-01-01T00:00:00+99:99",
        "2024-01-01 00:00:00Z",
        "2024-01-01T00:00:00",
        "2024-01-01",
        "99999999999999999999-01-01T00:00:00Z",
        "-2024-01-01T00:00:00Z",
        "",
    ]
    .iter()
    .map(|s| Value::String((*s).into()))
    .collect();
    v.push(Value::String(format!(
        "2024-01-01T00:00:00.{}Z",
        "9".repeat(200)
    )));
    v.push(Value::String(format!(
        "2024-01-01T00:00:00.{}Z",
        "1".repeat(100_000)
    )));
    v
}

/// Values of every JSON type.
fn any_extremes() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(false),
        json!([]),
        json!({}),
        json!([[]]),
        json!([null]),
        json!({ "unknownField": 1 }),
        json!(""),
        json!("AAAA"),
        json!("!!!!"),
        json!("AA==AA=="),
        json!("-_-_"),
        json!("\u{0}"),
        json!("\u{feff}"),
        raw("0"),
        raw("-1"),
        raw("1e308"),
        raw("18446744073709551616"),
        json!("application/vnd.dev.sigstore.bundle.v0.3+json"),
        json!("application/vnd.dev.sigstore.trustedroot+json;version=0.1"),
    ]
}

/// Hostile DER made from `der`.
fn der_mutation(der: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut d = der.to_vec();
    match rng.below(10) {
        0 | 1 if !d.is_empty() => {
            let i = rng.below(d.len());
            d[i] ^= 1 << rng.below(8);
        }
        2 => d.truncate(rng.below(d.len().max(1))),
        3 if d.len() > 2 => {
            // A long-form length that claims 2 GiB.
            d.splice(1..2, [0x84, 0x7f, 0xff, 0xff, 0xff]);
        }
        4 if !d.is_empty() => {
            let i = rng.below(d.len());
            d[i] = 0xff;
        }
        5 => d.extend_from_slice(&[0x00; 17]),
        6 => d = deep_der(2000),
        7 => {
            // A 10,000-octet INTEGER inside a SEQUENCE.
            let mut int = vec![0x02, 0x82, 0x27, 0x10, 0x7f];
            int.extend(std::iter::repeat_n(0xab, 9_999));
            d = vec![0x30, 0x82, 0x27, 0x14];
            d.extend(int);
        }
        8 if d.len() > 4 => {
            // An indefinite length (BER, not DER).
            d[1] = 0x80;
        }
        _ => {
            let i = rng.below(d.len().max(1));
            d.insert(i.min(d.len()), 0x30);
        }
    }
    d
}

/// `depth` nested SEQUENCEs around a NULL, each with a correct length.
fn deep_der(depth: usize) -> Vec<u8> {
    let mut d = vec![0x05, 0x00];
    for _ in 0..depth {
        let len = d.len();
        let mut outer = vec![0x30];
        if len < 0x80 {
            outer.push(u8::try_from(len).unwrap());
        } else if len < 0x100 {
            outer.extend([0x81, u8::try_from(len).unwrap()]);
        } else {
            outer.push(0x82);
            outer.extend(u16::try_from(len).unwrap().to_be_bytes());
        }
        outer.extend(d);
        d = outer;
    }
    d
}

/// A checkpoint note mutated.
fn note_mutation(text: &str, rng: &mut Rng) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    match rng.below(8) {
        0 => {
            let i = rng.below(lines.len());
            let mut l = lines.clone();
            l.remove(i);
            l.join("\n")
        }
        1 => {
            let mut l: Vec<String> = lines.iter().map(|s| (*s).to_owned()).collect();
            if l.len() > 1 {
                l[1] = rng
                    .pick(&[
                        "18446744073709551616",
                        "-1",
                        "0",
                        "9223372036854775808",
                        "01",
                        "",
                    ])
                    .to_string();
            }
            l.join("\n")
        }
        2 => {
            let sig = lines.iter().find(|l| l.starts_with('\u{2014}')).copied();
            let extra = format!("{}\n", sig.unwrap_or("\u{2014} x AAAA"));
            format!("{text}{}", extra.repeat(1000))
        }
        3 => format!("{}{}", "a".repeat(1 << 20), text),
        4 => text.replace('\n', "\r\n"),
        5 => {
            let mut b = text.as_bytes().to_vec();
            let i = rng.below(b.len().max(1));
            if i < b.len() {
                b[i] ^= 1;
            }
            String::from_utf8_lossy(&b).into_owned()
        }
        6 => text[..rng.below(text.len())].to_owned(),
        _ => text.replacen(
            '\n',
            "\n\u{2014} log.example.org AAAAAAAA\n",
            rng.below(3) + 1,
        ),
    }
}

// ---------------------------------------------------------------------------
// JSON paths.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Idx(usize),
}

fn paths(v: &Value, prefix: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                prefix.push(Seg::Key(k.clone()));
                paths(c, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                prefix.push(Seg::Idx(i));
                paths(c, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at_mut<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    path.iter().fold(v, |v, s| match s {
        Seg::Key(k) => &mut v[k.as_str()],
        Seg::Idx(i) => &mut v[*i],
    })
}

fn last_key(path: &[Seg]) -> &str {
    match path.last() {
        Some(Seg::Key(k)) => k,
        _ => "",
    }
}

fn is_time_field(key: &str) -> bool {
    matches!(key, "start" | "end")
}

fn is_integer_field(key: &str) -> bool {
    matches!(
        key,
        "logIndex" | "integratedTime" | "treeSize" | "log_index" | "tree_size"
    )
}

/// A base64 field's bytes, when it looks like one (long enough).
fn base64_bytes(v: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    if s.len() < 16 {
        return None;
    }
    STANDARD.decode(s).ok().filter(|b| b.len() >= 8)
}

/// Named, mutated copies of `seed`.
///
/// With `all_extremes`, every numeric field gets every extreme integer and
/// every time field every extreme time; the other mutations (and, without
/// `all_extremes`, those too) are sampled down to `cap`.
fn json_mutations(
    name: &str,
    seed: &Value,
    all_extremes: bool,
    cap: usize,
    rng: &mut Rng,
) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    paths(seed, &mut Vec::new(), &mut all);
    let ints = integer_extremes();
    let times = time_extremes();
    let anys = any_extremes();
    let mut fixed = Vec::new();
    let mut sampled = Vec::new();
    let mut push = |what: String, v: Value| sampled.push((format!("{name}: {what}"), to_bytes(&v)));
    for path in &all {
        let key = last_key(path).to_owned();
        let here = format!("{path:?}");
        let current = {
            let mut c = seed.clone();
            at_mut(&mut c, path).clone()
        };
        // Every numeric field, every extreme; every time field, every
        // extreme time.
        let systematic: &[Value] = if is_integer_field(&key) {
            &ints
        } else if is_time_field(&key) {
            &times
        } else {
            &[]
        };
        for x in systematic {
            let mut m = seed.clone();
            *at_mut(&mut m, path) = x.clone();
            let what = format!("{here} = {:.60}", x.to_string());
            if all_extremes {
                fixed.push((format!("{name}: {what}"), to_bytes(&m)));
            } else {
                push(what, m);
            }
        }
        // A value of any type, or a type swap.
        {
            let mut m = seed.clone();
            let slot = at_mut(&mut m, path);
            let what = match rng.below(9) {
                0..=2 => {
                    let x = rng.pick(&anys).clone();
                    let w = format!("= {:.40}", x.to_string());
                    *slot = x;
                    w
                }
                3 => {
                    // Swap types: arrays become objects and back, numbers
                    // strings and back.
                    *slot = match current.clone() {
                        Value::Array(a) => Value::Object(
                            a.into_iter()
                                .enumerate()
                                .map(|(i, x)| (i.to_string(), x))
                                .collect::<Map<_, _>>(),
                        ),
                        Value::Object(o) => Value::Array(o.into_iter().map(|(_, x)| x).collect()),
                        Value::Number(n) => Value::String(n.to_string()),
                        Value::String(s) => s
                            .parse::<i64>()
                            .map(Value::from)
                            .unwrap_or_else(|_| Value::from(s.len())),
                        Value::Bool(b) => Value::String(b.to_string()),
                        Value::Null => json!({}),
                    };
                    "type swapped".into()
                }
                4 => {
                    // Removed from its object (or its array).
                    let _ = slot;
                    if let Some((last, parent)) = path.split_last() {
                        match (at_mut(&mut m, parent), last) {
                            (Value::Object(o), Seg::Key(k)) => {
                                o.remove(k);
                            }
                            (Value::Array(a), Seg::Idx(i)) => {
                                a.remove(*i);
                            }
                            _ => {}
                        }
                    }
                    "removed".into()
                }
                5 => {
                    // An unknown field beside it, or the array repeated
                    // past every limit of 32.
                    match slot {
                        Value::Object(o) => {
                            o.insert("unknownField".into(), json!("x"));
                            "unknown field".into()
                        }
                        Value::Array(a) if !a.is_empty() => {
                            let first = a[0].clone();
                            a.extend(std::iter::repeat_n(first, 40));
                            "array repeated".into()
                        }
                        _ => {
                            *slot = json!([current.clone(), current.clone()]);
                            "wrapped in an array".into()
                        }
                    }
                }
                6 => {
                    // Wrapped in 200 arrays.
                    let mut x = current.clone();
                    for _ in 0..200 {
                        x = json!([x]);
                    }
                    *slot = x;
                    "nested 200 deep".into()
                }
                7 => match current.as_str() {
                    Some(s) if !s.is_empty() => {
                        *slot = Value::String(s[..rng.below(s.len())].to_owned());
                        "string truncated".into()
                    }
                    _ => {
                        *slot = Value::String("x".repeat(100_000));
                        "long string".into()
                    }
                },
                _ => {
                    *slot = Value::String(current.to_string().repeat(50));
                    "repeated as a string".into()
                }
            };
            push(format!("{here} {what}"), m);
        }
        // Base64 fields: hostile DER (and hostile JSON inside a logged
        // body); checkpoint notes: hostile lines.
        if let Some(bytes) = base64_bytes(&current) {
            for _ in 0..3 {
                let mut m = seed.clone();
                let mutated = if key == "canonicalizedBody" && rng.below(2) == 0 {
                    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                    let inner = json_mutations("body", &body, false, 8, rng);
                    inner[rng.below(inner.len())].1.clone()
                } else {
                    der_mutation(&bytes, rng)
                };
                *at_mut(&mut m, path) = Value::String(STANDARD.encode(&mutated));
                push(format!("{here} hostile DER/body"), m);
            }
        }
        if key == "envelope"
            && let Some(text) = current.as_str()
        {
            for _ in 0..8 {
                let mut m = seed.clone();
                *at_mut(&mut m, path) = Value::String(note_mutation(text, rng));
                push(format!("{here} hostile note"), m);
            }
        }
    }
    // Sampled down to the cap, in a seeded order.
    while sampled.len() > cap {
        let i = rng.below(sampled.len());
        sampled.swap_remove(i);
    }
    fixed.extend(sampled);
    fixed
}

/// Truncations every `step` bytes and `flips` random bit flips of `bytes`.
fn byte_mutations(
    name: &str,
    bytes: &[u8],
    cuts: usize,
    flips: usize,
    rng: &mut Rng,
) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let step = (bytes.len() / cuts).max(1);
    for at in (0..bytes.len()).step_by(step) {
        out.push((format!("{name}: truncated at {at}"), bytes[..at].to_vec()));
    }
    for _ in 0..flips {
        let mut b = bytes.to_vec();
        let i = rng.below(b.len());
        let bit = rng.below(8);
        b[i] ^= 1 << bit;
        out.push((format!("{name}: bit {bit} of byte {i} flipped"), b));
    }
    out
}

/// A JSON array of `n` copies of `element`, as raw text (a `Value` of
/// 100,000 objects would take far more memory than the verifier).
fn repeated(element: &Value, n: usize) -> Value {
    let one = serde_json::to_string(element).unwrap();
    let mut text = String::with_capacity((one.len() + 1) * n + 2);
    text.push('[');
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&one);
    }
    text.push(']');
    raw(&text)
}

/// Makes an input's bytes when it is run (the big ones are not all held
/// at once).
type Maker = Box<dyn FnOnce() -> Vec<u8>>;

/// Whole-document attacks on a bundle: deep nesting, huge arrays, strings
/// filling the file to the size limit and one byte past it.
fn structural_bundles(site: &Value) -> Vec<(String, Maker)> {
    let limit = usize::try_from(MAX_BUNDLE_FILE_BYTES).unwrap();
    let mut out: Vec<(String, Maker)> = Vec::new();
    let nested = || format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    out.push((
        "10,000 nested arrays".into(),
        Box::new(move || nested().into_bytes()),
    ));
    for field in ["mediaType", "verificationMaterial", "messageSignature"] {
        let mut b = site.clone();
        out.push((
            format!("{field} = 10,000 nested arrays"),
            Box::new(move || {
                b[field] = raw(&nested());
                to_bytes(&b)
            }),
        ));
    }
    let edits: Vec<(&str, &str, Value)> = vec![
        (
            "100,000 tlog entries",
            "/verificationMaterial/tlogEntries",
            raw(&format!("[{}0]", "0,".repeat(99_999))),
        ),
        (
            "100,000 proof hashes",
            "/verificationMaterial/tlogEntries/0/inclusionProof/hashes",
            repeated(
                &json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                100_000,
            ),
        ),
        (
            "100,000 timestamps",
            "/verificationMaterial/timestampVerificationData/rfc3161Timestamps",
            repeated(&json!({ "signedTimestamp": "MAA=" }), 100_000),
        ),
        (
            "100,000 empty entries",
            "/verificationMaterial/tlogEntries",
            repeated(&json!({}), 100_000),
        ),
        (
            "100,000 certificates in a v0.2 chain",
            "/verificationMaterial/certificate",
            Value::Null,
        ),
    ];
    for (what, pointer, value) in edits {
        let mut b = site.clone();
        out.push((
            what.into(),
            Box::new(move || {
                if value.is_null() {
                    b["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.2");
                    let vm = b["verificationMaterial"].as_object_mut().unwrap();
                    let cert = vm.remove("certificate").unwrap();
                    let mut text = format!("[{}", serde_json::to_string(&cert).unwrap());
                    for _ in 1..100_000 {
                        text.push_str(r#",{"rawBytes":"MAA="}"#);
                    }
                    text.push(']');
                    let certs = raw(&text);
                    vm.insert(
                        "x509CertificateChain".into(),
                        json!({ "certificates": certs }),
                    );
                } else {
                    *b.pointer_mut(pointer).unwrap() = value;
                }
                to_bytes(&b)
            }),
        ));
    }
    // 16 MiB strings: the whole file at the limit and one byte past it.
    for (field, fill) in [
        ("/messageSignature/signature", 'A'),
        ("/verificationMaterial/certificate/rawBytes", 'A'),
        (
            "/verificationMaterial/tlogEntries/0/inclusionProof/checkpoint/envelope",
            'a',
        ),
    ] {
        for over in [0, 1] {
            let mut b = site.clone();
            out.push((
                format!("{field}: a 16 MiB string, the file {over} byte(s) past the limit"),
                Box::new(move || {
                    *b.pointer_mut(field).unwrap() = json!("");
                    let n = limit + over - to_bytes(&b).len();
                    // Base64 of the right length where it is base64.
                    let pad = if fill == 'A' { '=' } else { fill };
                    let mut s: String = std::iter::repeat_n(fill, n - n % 4).collect();
                    s.extend(std::iter::repeat_n(pad, n % 4));
                    *b.pointer_mut(field).unwrap() = Value::String(s);
                    let bytes = to_bytes(&b);
                    assert_eq!(bytes.len(), limit + over);
                    bytes
                }),
            ));
        }
    }
    out
}

/// The same for a trusted root.
fn structural_roots(root: &Value) -> Vec<(String, Maker)> {
    let limit = usize::try_from(MAX_TRUSTED_ROOT_BYTES).unwrap();
    let mut out: Vec<(String, Maker)> = Vec::new();
    let nested = || format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    out.push((
        "10,000 nested arrays".into(),
        Box::new(move || nested().into_bytes()),
    ));
    for field in ["tlogs", "certificateAuthorities", "mediaType"] {
        let mut r = root.clone();
        out.push((
            format!("{field} = 10,000 nested arrays"),
            Box::new(move || {
                r[field] = raw(&nested());
                to_bytes(&r)
            }),
        ));
    }
    // 100,000 small entries (within the file-size limit, as the CLI
    // reads no more).
    let small_log = json!({
        "baseUrl": "https://a",
        "publicKey": { "rawBytes": "AAAA", "validFor": { "start": "2023-01-01T00:00:00Z" } },
        "logId": { "keyId": "AAAA" },
    });
    let small_authority = json!({ "certChain": { "certificates": [{ "rawBytes": "MAA=" }] } });
    for (field, element) in [
        ("tlogs", small_log.clone()),
        ("ctlogs", small_log),
        ("certificateAuthorities", small_authority.clone()),
        ("timestampAuthorities", small_authority),
        ("tlogs", json!({})),
        ("timestampAuthorities", json!(0)),
    ] {
        let mut r = root.clone();
        out.push((
            format!("100,000 {field}: {element:.40}"),
            Box::new(move || {
                r[field] = repeated(&element, 100_000);
                let bytes = to_bytes(&r);
                assert!(bytes.len() <= limit);
                bytes
            }),
        ));
    }
    let mut r = root.clone();
    out.push((
        "100,000 CA certificates".into(),
        Box::new(move || {
            r["certificateAuthorities"][0]["certChain"]["certificates"] =
                repeated(&json!({ "rawBytes": "MAA=" }), 100_000);
            to_bytes(&r)
        }),
    ));
    for (field, fill) in [
        ("/tlogs/0/publicKey/rawBytes", 'A'),
        (
            "/certificateAuthorities/0/certChain/certificates/0/rawBytes",
            'A',
        ),
        ("/timestampAuthorities/0/validFor/start", '9'),
    ] {
        for over in [0, 1] {
            let mut r = root.clone();
            out.push((
                format!("{field}: a 16 MiB string, the file {over} byte(s) past the limit"),
                Box::new(move || {
                    *r.pointer_mut(field).unwrap() = json!("");
                    let n = limit + over - to_bytes(&r).len();
                    let s: String = std::iter::repeat_n(fill, n).collect();
                    *r.pointer_mut(field).unwrap() = Value::String(s);
                    let bytes = to_bytes(&r);
                    assert_eq!(bytes.len(), limit + over);
                    bytes
                }),
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Seeds.
// ---------------------------------------------------------------------------

struct SeedCase {
    name: String,
    bundle: Value,
    root: Value,
    policy: Policy,
}

fn any_identity() -> Policy {
    Policy {
        identity: Some(IdentityPolicy::new(None, Some(".*"), None, Some(".*")).unwrap()),
        ..Policy::default()
    }
}

fn vector(rel: &str) -> Value {
    let dir = islet_testkit::vectors_dir(&[rel]);
    serde_json::from_slice(&std::fs::read(dir.join(rel)).unwrap()).unwrap()
}

fn seeds() -> Vec<SeedCase> {
    let s = site::Site::get();
    let (key_bundle, spki) = s.key_bundle();
    let pk_dir = islet_testkit::vectors_dir(&["sigstore/sigstore-go/public-key-validity.pem"]);
    let pk = islet_verify::policy::read_public_key(
        &std::fs::read(pk_dir.join("sigstore/sigstore-go/public-key-validity.pem")).unwrap(),
    )
    .unwrap();
    let staging = vector("rekor-v2/sigstore-python/trusted_root.staging.json");
    let mut cases = vec![
        SeedCase {
            name: "site v2".into(),
            bundle: s.bundle.clone(),
            root: s.root.clone(),
            policy: site::policy(),
        },
        SeedCase {
            name: "site v1".into(),
            bundle: s.v1_bundle(site::INTEGRATED_TIME),
            root: s.root.clone(),
            policy: site::policy(),
        },
        SeedCase {
            name: "site dsse".into(),
            bundle: s.dsse_bundle(false),
            root: s.root.clone(),
            policy: site::policy(),
        },
        SeedCase {
            name: "site key".into(),
            bundle: key_bundle,
            root: s.root.clone(),
            policy: Policy {
                key: Some(spki),
                ..site::policy()
            },
        },
        SeedCase {
            name: "staging rekor v2".into(),
            bundle: vector("rekor-v2/sigstore-python/staging-rekor-v2.txt.sigstore.json"),
            root: staging.clone(),
            policy: any_identity(),
        },
        SeedCase {
            name: "cosign v3 production".into(),
            bundle: vector("sigstore/sigstore-rust/cosign-v3-blob.sigstore.json"),
            root: vector("rekor-v2/sigstore-python/trusted_root.production.json"),
            policy: any_identity(),
        },
        SeedCase {
            name: "npm v0.1 provenance".into(),
            bundle: vector("sigstore/sigstore-go/sigstore.js@2.0.0-provenance.sigstore.json"),
            root: vector("sigstore/sigstore-go/trusted-root-public-good.json"),
            policy: any_identity(),
        },
        SeedCase {
            name: "conda dsse rekor v2".into(),
            bundle: vector("sigstore/sigstore-rust/conda-attestation-rekor2.sigstore.json"),
            root: staging,
            policy: any_identity(),
        },
        SeedCase {
            name: "go public-key validity".into(),
            bundle: vector("sigstore/sigstore-go/public-key-validity.sigstore.json"),
            root: vector("sigstore/sigstore-go/public-key-validity.trusted_root.json"),
            policy: Policy {
                key: Some(pk),
                ..Policy::default()
            },
        },
    ];
    // The seeds themselves are among the inputs; the site's verify.
    for c in &mut cases[..1] {
        let root = TrustedRoot::parse(&to_bytes(&c.root)).unwrap();
        Verifier::new(&root, None, c.policy.clone())
            .verify(&to_bytes(&c.bundle))
            .unwrap();
    }
    cases
}

// ---------------------------------------------------------------------------
// Running.
// ---------------------------------------------------------------------------

struct Input {
    name: String,
    bundle: Arc<Vec<u8>>,
    root: Arc<Vec<u8>>,
    policy: Arc<Policy>,
}

/// What running one input gave.
enum Outcome {
    Done(Measured),
    Panicked(String),
}

/// The time and memory one input took.
struct Measured {
    /// CPU time of the worker thread (user + system): what the input cost,
    /// whatever else the machine was doing.
    cpu: Duration,
    /// Wall-clock time.
    wall: Duration,
    /// The process's peak resident memory while it ran (KiB).
    peak_kib: u64,
    /// The verdict: the check that failed, or "valid".
    verdict: String,
}

fn tmp_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// CPU time of the calling thread, from /proc/thread-self/stat (utime and
/// stime, in clock ticks of 10 ms).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_comm.split(' ').collect();
    // Fields 14 and 15 of stat(5); the first field after comm is field 3.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// Resets the process's peak resident memory (VmHWM) to its current
/// resident memory (proc(5): clear_refs, value 5).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

fn run_one(input: &Input) -> Outcome {
    reset_peak();
    let (start, cpu) = (Instant::now(), thread_cpu());
    let result = catch_unwind(AssertUnwindSafe(|| match TrustedRoot::parse(&input.root) {
        Ok(root) => match Verifier::new(&root, None, (*input.policy).clone()).verify(&input.bundle)
        {
            Ok(_) => "valid".to_owned(),
            Err(f) => serde_json::to_value(f.check)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned(),
        },
        Err(_) => "trusted_root (parse)".to_owned(),
    }));
    match result {
        Ok(verdict) => Outcome::Done(Measured {
            cpu: thread_cpu() - cpu,
            wall: start.elapsed(),
            peak_kib: vm_hwm_kib(),
            verdict,
        }),
        Err(e) => Outcome::Panicked(
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default(),
        ),
    }
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Runs inputs one at a time on a worker thread, waiting at most
/// [`HANG_TIMEOUT`] for each, and keeps the measurements.
struct Runner {
    work: Option<mpsc::Sender<Input>>,
    done: mpsc::Receiver<(Input, Outcome, u64)>,
    worker: Option<std::thread::JoinHandle<()>>,
    tmp: PathBuf,
    count: usize,
    /// The input that took the most CPU time, and the most wall time.
    slowest_cpu: (Duration, String),
    slowest_wall: (Duration, String),
    /// The input during which resident memory peaked.
    peak: (u64, String),
    /// The peak between inputs (the generator's own).
    peak_between: u64,
    /// Inputs that took more than [`SLOW`] of CPU, for the summary.
    slow: Vec<String>,
    /// How many inputs ended at each check.
    verdicts: std::collections::BTreeMap<String, usize>,
    panics: Vec<String>,
}

/// Inputs slower than this (CPU) are listed in the summary.
const SLOW: Duration = Duration::from_millis(250);

impl Runner {
    fn new(tmp: PathBuf) -> Runner {
        let (tx, done) = mpsc::channel();
        let (work, work_rx) = mpsc::channel::<Input>();
        let dir = tmp.clone();
        let worker = std::thread::Builder::new()
            .name("hostile".into())
            .spawn(move || {
                for input in work_rx {
                    std::fs::write(dir.join("current-bundle.json"), &*input.bundle).unwrap();
                    std::fs::write(dir.join("current-root.json"), &*input.root).unwrap();
                    // The peak since the last reset: making this input.
                    let between = vm_hwm_kib();
                    let outcome = run_one(&input);
                    tx.send((input, outcome, between)).unwrap();
                }
            })
            .unwrap();
        Runner {
            work: Some(work),
            done,
            worker: Some(worker),
            tmp,
            count: 0,
            slowest_cpu: (Duration::ZERO, String::new()),
            slowest_wall: (Duration::ZERO, String::new()),
            peak: (0, String::new()),
            peak_between: 0,
            slow: Vec::new(),
            verdicts: std::collections::BTreeMap::new(),
            panics: Vec::new(),
        }
    }

    fn run(&mut self, input: Input) {
        let name = input.name.clone();
        self.work.as_ref().unwrap().send(input).unwrap();
        let (input, outcome, between) = self.done.recv_timeout(HANG_TIMEOUT).unwrap_or_else(|_| {
            panic!(
                "{name}: no verdict in {HANG_TIMEOUT:?} (a hang); the input is in {}",
                self.tmp.display()
            )
        });
        self.count += 1;
        self.peak_between = self.peak_between.max(between);
        match outcome {
            Outcome::Done(m) => {
                *self.verdicts.entry(m.verdict.clone()).or_default() += 1;
                if m.cpu > SLOW {
                    self.slow.push(format!(
                        "{:?} CPU, {:?} wall, {} MiB peak: {:.120}",
                        m.cpu,
                        m.wall,
                        m.peak_kib / 1024,
                        input.name
                    ));
                }
                if m.cpu > self.slowest_cpu.0 {
                    self.slowest_cpu = (m.cpu, input.name.clone());
                }
                if m.wall > self.slowest_wall.0 {
                    self.slowest_wall = (m.wall, input.name.clone());
                }
                if m.peak_kib > self.peak.0 {
                    self.peak = (m.peak_kib, input.name);
                }
            }
            Outcome::Panicked(msg) => {
                let n = self.panics.len();
                let save = |part: &str, bytes: &[u8]| {
                    std::fs::write(self.tmp.join(format!("panic-{n}-{part}.json")), bytes).unwrap();
                };
                save("bundle", &input.bundle);
                save("root", &input.root);
                self.panics
                    .push(format!("{}: {msg} (saved as panic-{n}-*.json)", input.name));
            }
        }
    }

    fn finish(mut self) -> Runner {
        drop(self.work.take());
        self.worker.take().unwrap().join().unwrap();
        self
    }
}

#[test]
fn thousands_of_hostile_bundles_and_trusted_roots_never_panic_hang_or_balloon() {
    let tmp = tmp_dir();
    let mut rng = Rng(SEED);
    let cases = seeds();
    let started = Instant::now();
    let mut runner = Runner::new(tmp.clone());

    // Mutated bundles, each with its seed's trusted root.
    for c in &cases {
        let root = Arc::new(to_bytes(&c.root));
        let policy = Arc::new(c.policy.clone());
        let bytes = to_bytes(&c.bundle);
        let mut made: Vec<(String, Maker)> = json_mutations(
            &c.name,
            &c.bundle,
            c.name.starts_with("site v"),
            100,
            &mut rng,
        )
        .into_iter()
        .chain(byte_mutations(&c.name, &bytes, 16, 16, &mut rng))
        .map(|(n, b)| (n, Box::new(move || b) as Maker))
        .collect();
        if c.name == "site v2" {
            made.extend(structural_bundles(&c.bundle));
        }
        for (name, make) in made {
            runner.run(Input {
                name: format!("bundle {name}"),
                bundle: Arc::new(make()),
                root: root.clone(),
                policy: policy.clone(),
            });
        }
    }
    let n_bundles = runner.count;

    // Mutated trusted roots, each with its seed's bundle.
    for c in cases
        .iter()
        .filter(|c| c.name != "site v1" && c.name != "site dsse")
    {
        let bundle = Arc::new(to_bytes(&c.bundle));
        let policy = Arc::new(c.policy.clone());
        let bytes = to_bytes(&c.root);
        let mut made: Vec<(String, Maker)> =
            json_mutations(&c.name, &c.root, c.name == "site v2", 110, &mut rng)
                .into_iter()
                .chain(byte_mutations(&c.name, &bytes, 15, 15, &mut rng))
                .map(|(n, b)| (n, Box::new(move || b) as Maker))
                .collect();
        if c.name == "site v2" {
            made.extend(structural_roots(&c.root));
        }
        for (name, make) in made {
            runner.run(Input {
                name: format!("root {name}"),
                bundle: bundle.clone(),
                root: Arc::new(make()),
                policy: policy.clone(),
            });
        }
    }
    let r = runner.finish();
    let n_roots = r.count - n_bundles;
    let total = started.elapsed();
    let peak = r.peak.0.max(r.peak_between);

    let summary = format!(
        "bundles tried: {n_bundles}\nroots tried: {n_roots}\nrun time: {total:?}\n\
         most CPU: {:?} ({:.200})\nmost wall time: {:?} ({:.200})\n\
         peak resident memory: {} KiB while running ({:.200}), {} KiB between inputs; limit {PEAK_MEMORY_LIMIT_KIB} KiB\n\
         panics: {}\nverdicts: {:?}\ninputs over {SLOW:?} of CPU:\n{}\n",
        r.slowest_cpu.0,
        r.slowest_cpu.1,
        r.slowest_wall.0,
        r.slowest_wall.1,
        r.peak.0,
        r.peak.1,
        r.peak_between,
        r.panics.len(),
        r.verdicts,
        r.slow.join("\n")
    );
    std::fs::write(tmp.join("summary.txt"), &summary).unwrap();

    assert!(
        r.panics.is_empty(),
        "{} panics:\n{}",
        r.panics.len(),
        r.panics.join("\n")
    );
    assert!(n_bundles >= MIN_INPUTS, "{summary}");
    assert!(n_roots >= MIN_INPUTS, "{summary}");
    assert!(r.slowest_cpu.0 < PER_INPUT_BUDGET, "{summary}");
    assert!(peak < PEAK_MEMORY_LIMIT_KIB, "{summary}");
}
