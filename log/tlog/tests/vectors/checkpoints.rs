//! Checkpoint bodies: the strict parse of every case.

use islet_tlog::checkpoint::Checkpoint;

use crate::common::{hash_b64, load, s, u, vectors_dir};

#[test]
fn every_checkpoint_body_parses_or_fails_as_the_strict_reading_says() {
    let dir = vectors_dir(&["c2sp/checkpoint-parse.json"]);
    let v = load(&dir, "c2sp/checkpoint-parse.json");
    let cases = v["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 23);
    for c in cases {
        let id = s(c, "id");
        let expect = &c["expect"];
        match Checkpoint::parse(s(c, "body")) {
            Ok(cp) => {
                assert!(expect["ok"].as_bool().expect("ok"), "{id}: accepted {cp:?}");
                assert_eq!(cp.origin, s(expect, "origin"), "{id}");
                assert_eq!(cp.size, u(expect, "size"), "{id}");
                assert_eq!(cp.root, hash_b64(&expect["root_hash"]), "{id}");
                let ext: Vec<&str> = expect["extension_lines"]
                    .as_array()
                    .map(|a| a.iter().map(|l| l.as_str().expect("line")).collect())
                    .unwrap_or_default();
                assert_eq!(cp.extensions, ext, "{id}");
                assert_eq!(
                    cp.to_text(),
                    s(c, "body"),
                    "{id}: formatting is the inverse of parsing"
                );
            }
            Err(e) => assert!(!expect["ok"].as_bool().expect("ok"), "{id}: rejected: {e}"),
        }
    }
}
