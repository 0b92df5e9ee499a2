//! A protobuf input record: refused with a reason, or decoded to an event
//! that survives a round trip through both wire formats unchanged.
#![no_main]

use leadpulse_codec::{decode_event, encode_event, Format};
use leadpulse_fuzz::check_rejection;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = decode_event(data, Some(b"application/x-protobuf"));
    if Format::sniff(data) == Format::Protobuf {
        assert_eq!(decode_event(data, None), decoded);
    }
    match decoded {
        Ok(event) => {
            for format in [Format::Protobuf, Format::Json] {
                let bytes = encode_event(&event, format);
                let back = decode_event(&bytes, Some(format.content_type().as_bytes()))
                    .unwrap_or_else(|r| panic!("{format:?} re-encoding of {event:?} refused: {r}"));
                assert_eq!(back, event, "{format:?} round trip");
            }
        }
        Err(rejection) => check_rejection(&rejection, "protobuf"),
    }
});
