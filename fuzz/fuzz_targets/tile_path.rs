//! Tile paths: parsing never panics, and whatever parses re-encodes to the
//! same string (only canonical forms are accepted).
#![no_main]

use islet_tlog::tiles::TilePath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(p) = TilePath::parse(s) {
            assert_eq!(p.to_string(), s);
        }
    }
});
