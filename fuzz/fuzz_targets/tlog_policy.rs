//! tlog-policy files: parsing never panics, and a parsed policy's quorum
//! evaluation never panics.
#![no_main]

use std::collections::HashSet;

use islet_tlog::policy::Policy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Policy::parse(data) {
        let none = HashSet::new();
        let all: HashSet<String> = p.witnesses().iter().map(|w| w.name.clone()).collect();
        let _ = p.satisfied_by(&none);
        let _ = p.satisfied_by(&all);
    }
});
