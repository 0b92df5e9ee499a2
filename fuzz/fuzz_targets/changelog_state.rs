//! A changelog record, as a restore reads it: refused as malformed
//! protobuf, or decoded to a lead state that the writer writes back to a
//! record decoding to the same state (and the same bytes again).
#![no_main]

use leadpulse_codec::{decode_state, encode_state};
use leadpulse_core::Rejection;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_state(data) {
        Ok(state) => {
            let written = encode_state("L-fuzz", &state);
            let back = decode_state(&written)
                .unwrap_or_else(|r| panic!("the written record of {state:?} is refused: {r}"));
            // Debug rather than ==: a NaN weight read from the record is
            // kept as it is, and is not equal to itself.
            assert_eq!(format!("{back:?}"), format!("{state:?}"), "round trip");
            assert_eq!(encode_state("L-fuzz", &back), written, "written twice");
        }
        Err(Rejection::Malformed { format, detail }) => {
            assert_eq!(format, "protobuf");
            assert!(!detail.trim().is_empty());
        }
        Err(other) => panic!("a changelog record refused as {other:?}"),
    }
});
