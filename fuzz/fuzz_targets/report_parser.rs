//! Arbitrary bytes as a credential report: `parse` must return records or an error, never panic,
//! and whatever it accepts must survive `render` and a second `parse` unchanged.

#![no_main]

use iam_sweeper::core::report::parse;
use iam_sweeper::testing::report::render;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = parse(data) {
        let again = parse(render(&records).as_bytes());
        assert_eq!(
            again.as_ref(),
            Ok(&records),
            "render then parse changed the records"
        );
    }
});
