//! c2sp.org/tlog-proof@v1 files: parsing never panics and what parses
//! re-encodes to the same bytes.
#![no_main]

use islet_tlog::proof_file::TlogProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = TlogProof::parse(data) {
        assert_eq!(p.to_bytes(), data);
    }
});
