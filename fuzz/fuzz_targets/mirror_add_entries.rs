//! tlog-mirror add-entries bodies: the header and every package parse
//! without panicking, stopping at the first error.
#![no_main]

use islet_tlog::mirror_push::{AddEntries, MirrorInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = MirrorInfo::parse(data);
    if let Ok(h) = AddEntries::parse_header(data) {
        let mut packages = h.packages();
        for p in packages.by_ref() {
            if p.is_err() {
                break;
            }
        }
        let _ = packages.is_complete();
    }
});
