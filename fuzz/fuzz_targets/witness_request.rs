//! tlog-witness add-checkpoint bodies: parsing never panics, what parses
//! re-encodes to the same bytes, and the witness's decision on it (with a
//! fixed trusted key and stored state) never panics.
#![no_main]

use islet_tlog::merkle::EMPTY_ROOT;
use islet_tlog::note::NoteVerifier;
use islet_tlog::witness::{AddCheckpoint, decide, parse_conflict_body};
use libfuzzer_sys::fuzz_target;

/// The log key of the C2SP witness vectors.
const LOG_VKEY: &str = "log.example/vectors+cf60eb2e+AcfitZ6ISKmwIFSedeGZNcdLKtOXOIbvQknE2jQI77nR";

fuzz_target!(|data: &[u8]| {
    let _ = parse_conflict_body(data);
    if let Ok(req) = AddCheckpoint::parse(data) {
        assert_eq!(req.to_bytes(), data);
        if let Ok(key) = NoteVerifier::from_vkey(LOG_VKEY) {
            let keys = [key];
            let _ = decide(&req, None, Some(&keys));
            let _ = decide(&req, Some((8, EMPTY_ROOT)), Some(&keys));
        }
    }
});
