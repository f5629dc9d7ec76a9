//! Checkpoint bodies: parsing never panics, and formatting is its inverse.
#![no_main]

use islet_tlog::checkpoint::Checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(c) = Checkpoint::parse(s) {
            assert_eq!(c.to_text(), s);
        }
    }
});
