//! Verifier keys: parsing never panics, and a parsed key re-encodes to the
//! same string.
#![no_main]

use islet_tlog::note::NoteVerifier;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(v) = NoteVerifier::from_vkey(s) {
            assert_eq!(v.to_vkey(), s);
        }
    }
});
