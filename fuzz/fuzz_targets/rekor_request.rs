//! Rekor v2 create-entry requests: decoding and validation never panic, and
//! an accepted request's leaf is canonical JSON that parses back.
#![no_main]

use islet_rekor::entry::{EntryPolicy, validate};
use islet_rekor::request::parse_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = parse_request(data) {
        if let Ok(entry) = validate(req, EntryPolicy::default()) {
            let v: serde_json::Value = serde_json::from_slice(&entry.body).expect("leaf is JSON");
            assert_eq!(serde_json_canonicalizer::to_vec(&v).expect("canonical"), entry.body);
        }
    }
});
