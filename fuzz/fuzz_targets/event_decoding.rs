//! Arbitrary bytes as an invocation event, decoded the way `invoke` and the Lambda runtime do
//! (JSON, then `classify`) under both deployment modes. Never a panic, and never a run less safe
//! than the deployment: a report deployment never enforces, a what-if never enforces.

#![no_main]

use iam_sweeper::core::config::Mode;
use iam_sweeper::core::event::classify;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(inv) = classify(&event, Mode::Report) {
        assert_eq!(
            inv.mode,
            Mode::Report,
            "a report deployment enforced: {event}"
        );
        assert!(!inv.dry_run_requested);
    }
    if let Ok(inv) = classify(&event, Mode::Enforce) {
        if inv.as_of.is_some() {
            assert_eq!(inv.mode, Mode::Report, "a what-if enforced: {event}");
        }
        assert_eq!(inv.dry_run_requested, inv.mode == Mode::Report);
    }
});
