//! Serial numbers never repeat across restarts; a clock behind the
//! recorded boot second is refused.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use islet_tsa::{Error, Serials};

#[test]
fn two_runs_in_a_row_give_disjoint_serials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("tsa-serial.state");
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut seen = HashSet::new();
    for (run, start) in [t0, t0 + Duration::from_secs(1), t0 + Duration::from_secs(5)]
        .into_iter()
        .enumerate()
    {
        let serials = Serials::open(&state, start).expect("open");
        assert_eq!(serials.boot_time(), start);
        for _ in 0..1000 {
            let s = serials.next().expect("serial");
            let b = s.as_bytes();
            assert_eq!(
                b[..8],
                1_800_000_000u64.wrapping_add([0, 1, 5][run]).to_be_bytes()
            );
            assert_eq!(b[0] & 0x80, 0, "positive without padding");
            assert!(
                seen.insert((b[..16]).to_vec()),
                "run {run}: repeated serial"
            );
        }
        // The state file records the boot second as decimal text.
        let text = std::fs::read_to_string(&state).expect("state");
        assert_eq!(text.trim(), (1_800_000_000u64 + [0, 1, 5][run]).to_string());
    }
    assert_eq!(seen.len(), 3000);
}

#[test]
fn counters_count_up_within_a_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let serials = Serials::open(&dir.path().join("s"), SystemTime::now()).expect("open");
    let a = serials.next().expect("a");
    let b = serials.next().expect("b");
    assert_eq!(a.as_bytes()[..8], b.as_bytes()[..8]);
    assert_eq!(
        u64::from_be_bytes(a.as_bytes()[8..16].try_into().expect("8")),
        0
    );
    assert_eq!(
        u64::from_be_bytes(b.as_bytes()[8..16].try_into().expect("8")),
        1
    );
}

#[test]
fn a_clock_behind_the_recorded_second_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    Serials::open(&state, t0).expect("first run");
    let err = Serials::open(&state, t0 - Duration::from_secs(1)).expect_err("clock went back");
    assert!(
        matches!(
            err,
            Error::ClockBehindState {
                previous: 1_800_000_000,
                now: 1_799_999_999
            }
        ),
        "{err}"
    );
    // The same second: retry later (open_now waits for it).
    let err = Serials::open(&state, t0 + Duration::from_millis(900)).expect_err("same second");
    assert!(
        matches!(
            err,
            Error::SameBootSecond {
                second: 1_800_000_000
            }
        ),
        "{err}"
    );
    // The refusals did not move the recorded second.
    Serials::open(&state, t0 + Duration::from_secs(1)).expect("a later run");
}

#[test]
fn open_now_waits_out_the_previous_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let first = Serials::open_now(&state).expect("first");
    let second = Serials::open_now(&state).expect("second, after waiting");
    assert!(second.boot_time() > first.boot_time());
}

#[test]
fn a_corrupt_state_file_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    for bad in ["", "12x\n", "-5\n", "99999999999999999999999\n", "1 2\n"] {
        std::fs::write(&state, bad).expect("write");
        let err = Serials::open(&state, SystemTime::now()).expect_err("corrupt");
        assert!(matches!(err, Error::StateCorrupt { .. }), "{bad:?}: {err}");
    }
}
