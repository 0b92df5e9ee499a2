//! Why a JSON record is not an event, in words that name the field or the
//! position: only the refusal path pays for finding them.

use leadpulse_core::Rejection;

use super::RawEvent;

/// Says what stood where the object should begin, at a position counted
/// the way serde_json counts, so every JSON refusal has a line and column.
pub(super) fn not_an_object(bytes: &[u8], start: Option<usize>) -> Rejection {
    let at = start.unwrap_or(bytes.len());
    let before = &bytes[..at];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let column = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
    let found = match start.map(|i| bytes[i]) {
        None => "nothing".to_owned(),
        Some(b) if b.is_ascii_graphic() => format!("`{}`", b as char),
        Some(b) => format!("byte 0x{b:02x}"),
    };
    Rejection::Malformed {
        format: "json",
        detail: format!(
            "an event must be a JSON object, found {found} at line {line} column {column}"
        ),
    }
}

/// Why `bytes` is not an event, naming the field when one is at fault.
pub(super) fn explain(bytes: &[u8]) -> Rejection {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, RawEvent<'_>>(&mut *de) {
        // A whole event, then more: "trailing characters at line 1 column 40".
        Ok(_) => Rejection::Malformed {
            format: "json",
            detail: de
                .end()
                .err()
                .map_or_else(|| "not a JSON event".into(), |e| e.to_string()),
        },
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if path == "." || inner.is_syntax() || inner.is_eof() {
                Rejection::Malformed {
                    format: "json",
                    detail: inner.to_string(),
                }
            } else {
                Rejection::InvalidField {
                    field: path,
                    detail: inner.to_string(),
                }
            }
        }
    }
}
