//! The Schema Registry wire format (Confluent's framing), without I/O.
//!
//! A framed record is the magic byte 0, the schema id (4 bytes, big-endian),
//! for protobuf the message-index list (zigzag varints: a count, then the
//! path of the message in its file; a lone 0 means the first message), then
//! the payload. A plain leadpulse record never starts with 0: JSON starts
//! with `{` and a protobuf `LeadEvent` with a field tag, never tag 0.
//!
//! The edge fetches a schema by id and hands its text to [`judge`], which
//! checks it against the event contract once; [`decode_framed`] then reads
//! each record of that id with the verdict, so no record waits for I/O here.

use base64::Engine as _;
use leadpulse_core::{Event, Rejection};
use protox::file::{File, FileResolver, GoogleFileResolver};
use protox::prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};

/// The first byte of a framed record.
pub const MAGIC: u8 = 0;

/// The schema id of a framed record, or `None` for a plain one.
pub fn schema_id(bytes: &[u8]) -> Option<u32> {
    match bytes {
        [MAGIC, a, b, c, d, ..] => Some(u32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

/// The kind of a registered schema (`schemaType`; absent means Avro).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaType {
    Protobuf,
    Json,
}

/// What a registered schema means for the events that name it.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// A JSON Schema that fits the contract.
    Json,
    /// A protobuf file: for each message of the file (by its index path),
    /// whether it fits `LeadEvent`, or why not.
    Protobuf(Vec<(Vec<i32>, Result<(), String>)>),
    /// The schema cannot describe leadpulse events.
    Incompatible(String),
}

/// Checks a registered schema against the event contract. `schema` is the
/// registry's `schema` text; `references` the files it imports, by import
/// name (google/protobuf/* are built in).
pub fn judge(kind: Option<SchemaType>, schema: &str, references: &[(String, String)]) -> Verdict {
    match kind {
        None => Verdict::Incompatible("an Avro schema; leadpulse reads JSON and protobuf".into()),
        Some(SchemaType::Json) => match json_fits(schema) {
            Ok(()) => Verdict::Json,
            Err(why) => Verdict::Incompatible(why),
        },
        Some(SchemaType::Protobuf) => match protobuf_messages(schema, references) {
            Ok(messages) => {
                let contract = contract_event();
                Verdict::Protobuf(
                    messages
                        .into_iter()
                        .map(|(path, m)| {
                            let fits = message_fits(&m, &contract, "", 0);
                            (path, fits)
                        })
                        .collect(),
                )
            }
            Err(why) => Verdict::Incompatible(why),
        },
    }
}

/// Decodes a framed event whose schema (by id) was judged `verdict`.
pub fn decode_framed(bytes: &[u8], verdict: &Verdict) -> Result<Event, Rejection> {
    let id = schema_id(bytes).ok_or_else(|| Rejection::Malformed {
        format: "schema registry framing",
        detail: "no magic byte and schema id".into(),
    })?;
    let body = &bytes[5..];
    let incompatible = |detail: String| Rejection::IncompatibleSchema { id, detail };
    match verdict {
        Verdict::Incompatible(why) => Err(incompatible(why.clone())),
        Verdict::Json => super::json::decode_event(body),
        Verdict::Protobuf(messages) => {
            let (path, payload) = message_indexes(body).ok_or_else(|| Rejection::Malformed {
                format: "schema registry framing",
                detail: "the message-index list is cut short or too long".into(),
            })?;
            match messages.iter().find(|(p, _)| *p == path) {
                None => Err(incompatible(format!("the file has no message at {path:?}"))),
                Some((_, Err(why))) => Err(incompatible(why.clone())),
                Some((_, Ok(()))) => super::protobuf::decode_event(payload),
            }
        }
    }
}

/// Frames `payload` for the wire format: with the protobuf message's
/// top-level index, or without one for JSON.
pub fn frame(schema_id: u32, message_index: Option<i32>, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
    match message_index {
        None => {}
        Some(0) => out.push(0),
        Some(i) => {
            zigzag(1, &mut out);
            zigzag(i64::from(i), &mut out);
        }
    }
    out.extend_from_slice(payload);
    out
}

/// The payload of one of leadpulse's own outputs, framed or not: JSON
/// follows the schema id directly, protobuf after its message indexes.
/// Plain records come back as they are.
pub fn unframed(bytes: &[u8]) -> &[u8] {
    if schema_id(bytes).is_none() {
        return bytes;
    }
    let rest = &bytes[5..];
    if rest.first() == Some(&b'{') {
        return rest;
    }
    message_indexes(rest).map_or(rest, |(_, payload)| payload)
}

fn zigzag(n: i64, out: &mut Vec<u8>) {
    let mut v = ((n << 1) ^ (n >> 63)) as u64;
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads one zigzag varint; returns it and the rest.
fn read_zigzag(bytes: &[u8]) -> Option<(i64, &[u8])> {
    let mut v: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((((v >> 1) as i64) ^ -((v & 1) as i64), &bytes[i + 1..]));
        }
    }
    None
}

/// The message-index path at the start of `body` (`[0]` for a lone 0) and
/// the payload after it.
fn message_indexes(body: &[u8]) -> Option<(Vec<i32>, &[u8])> {
    let (count, mut rest) = read_zigzag(body)?;
    if count == 0 {
        return Some((vec![0], rest));
    }
    // Nesting deeper than this is no schema anyone writes.
    if !(1..=32).contains(&count) {
        return None;
    }
    let mut path = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (i, r) = read_zigzag(rest)?;
        path.push(i32::try_from(i).ok()?);
        rest = r;
    }
    Some((path, rest))
}

/// Serves the registered file and its references to protox.
struct Files {
    main: &'static str,
    schema: String,
    references: Vec<(String, String)>,
}

impl FileResolver for Files {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        let text = if name == self.main {
            Some(self.schema.as_str())
        } else {
            self.references
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.as_str())
        };
        match text {
            Some(text) => parse_file(name, text),
            None => GoogleFileResolver::new().open_file(name),
        }
    }
}

/// A registered protobuf file: `.proto` text, or (as the Confluent clients
/// register it) a base64 `FileDescriptorProto`.
fn parse_file(name: &str, text: &str) -> Result<File, protox::Error> {
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text.trim()) {
        if let Ok(mut file) = File::decode_file_descriptor_proto(&bytes[..]) {
            if file.name() != name {
                let mut fd = file.file_descriptor_proto().clone();
                fd.name = Some(name.to_owned());
                file = File::from_file_descriptor_proto(fd);
            }
            return Ok(file);
        }
    }
    File::from_source(name, text)
}

/// Every message of a registered file with its index path, nested ones too.
fn protobuf_messages(
    schema: &str,
    references: &[(String, String)],
) -> Result<Vec<(Vec<i32>, MessageDescriptor)>, String> {
    let main = "registered.proto";
    let mut compiler = protox::Compiler::with_file_resolver(Files {
        main,
        schema: schema.to_owned(),
        references: references.to_vec(),
    });
    compiler
        .open_file(main)
        .map_err(|e| format!("the protobuf schema does not compile: {e}"))?;
    let pool = compiler.descriptor_pool();
    let file = pool
        .get_file_by_name(main)
        .ok_or("the protobuf schema has no file")?;
    let mut out = Vec::new();
    fn walk(
        prefix: &[i32],
        msgs: impl Iterator<Item = MessageDescriptor>,
        out: &mut Vec<(Vec<i32>, MessageDescriptor)>,
    ) {
        for (i, m) in msgs.filter(|m| !m.is_map_entry()).enumerate() {
            let mut path = prefix.to_vec();
            path.push(i as i32);
            walk(&path, m.child_messages(), out);
            out.push((path, m));
        }
    }
    walk(&[], file.messages(), &mut out);
    Ok(out)
}

/// `leadpulse.v1.LeadEvent`, from the descriptors compiled into the codec.
fn contract_event() -> MessageDescriptor {
    let pool = DescriptorPool::decode(crate::proto::FILE_DESCRIPTOR_SET)
        .expect("the codec's own descriptors decode");
    pool.get_message_by_name("leadpulse.v1.LeadEvent")
        .expect("events.proto defines LeadEvent")
}

/// The contract's fields every event carries: a schema without them
/// describes no event leadpulse can score.
const REQUIRED_FIELDS: [u32; 3] = [1, 2, 3];

/// Whether a writer's message reads as the contract's: every field number
/// both know has the same type and cardinality (nested messages alike),
/// and at the top the fields every event needs exist. Fields only one side
/// knows are fine: protobuf skips them.
fn message_fits(
    writer: &MessageDescriptor,
    reader: &MessageDescriptor,
    at: &str,
    depth: usize,
) -> Result<(), String> {
    if depth == 0 {
        for n in REQUIRED_FIELDS {
            if writer.get_field(n).is_none() {
                let name = reader.get_field(n).map(|f| f.name().to_owned());
                return Err(format!(
                    "message `{}` lacks field {n} (`{}`), which every event needs",
                    writer.full_name(),
                    name.unwrap_or_default()
                ));
            }
        }
    }
    if depth > 16 {
        return Ok(());
    }
    for r in reader.fields() {
        let Some(w) = writer.get_field(r.number()) else {
            continue;
        };
        let path = format!("{at}{}", r.name());
        if w.is_list() != r.is_list() || w.is_map() != r.is_map() {
            return Err(format!(
                "field {} (`{path}`) is {} in the schema, {} in the contract",
                r.number(),
                shape(&w),
                shape(&r)
            ));
        }
        match (w.kind(), r.kind()) {
            (Kind::Message(wm), Kind::Message(rm)) => {
                message_fits(&wm, &rm, &format!("{path}."), depth + 1)?
            }
            (wk, rk) if type_name(&wk) == type_name(&rk) => {}
            (wk, rk) => {
                return Err(format!(
                    "field {} (`{path}`) is {} in the schema, {} in the contract",
                    r.number(),
                    type_name(&wk),
                    type_name(&rk)
                ))
            }
        }
    }
    Ok(())
}

fn shape(f: &FieldDescriptor) -> &'static str {
    if f.is_map() {
        "a map"
    } else if f.is_list() {
        "repeated"
    } else {
        "singular"
    }
}

fn type_name(k: &Kind) -> &'static str {
    match k {
        Kind::Double => "double",
        Kind::Float => "float",
        Kind::Int32 => "int32",
        Kind::Int64 => "int64",
        Kind::Uint32 => "uint32",
        Kind::Uint64 => "uint64",
        Kind::Sint32 => "sint32",
        Kind::Sint64 => "sint64",
        Kind::Fixed32 => "fixed32",
        Kind::Fixed64 => "fixed64",
        Kind::Sfixed32 => "sfixed32",
        Kind::Sfixed64 => "sfixed64",
        Kind::Bool => "bool",
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Message(_) => "a message",
        Kind::Enum(_) => "an enum",
    }
}

/// The JSON properties of the contract: every event has the first four
/// (docs/events.md), and each property's JSON type.
const JSON_PROPERTIES: &[(&str, &str, bool)] = &[
    ("event_id", "string", true),
    ("lead_id", "string", true),
    ("type", "string", true),
    ("occurred_at", "string", true),
    ("company_domain", "string", false),
    ("account_id", "string", false),
    ("url", "string", false),
    ("referrer", "string", false),
    ("duration_ms", "integer", false),
    ("form_id", "string", false),
    ("fields", "object", false),
    ("campaign_id", "string", false),
    ("asset_id", "string", false),
    ("webinar_id", "string", false),
    ("attributes", "object", false),
    ("bounce_type", "string", false),
    ("rep_id", "string", false),
    ("reason", "string", false),
    ("amount", "number", false),
    ("opportunity_id", "string", false),
];

/// Whether a JSON Schema fits the contract: an object schema that requires
/// the properties every event has, and gives no contract property another
/// type.
fn json_fits(schema: &str) -> Result<(), String> {
    let doc: serde_json::Value =
        serde_json::from_str(schema).map_err(|e| format!("the JSON Schema does not parse: {e}"))?;
    if let Some(t) = doc.get("type") {
        if !json_type_allows(t, "object") {
            return Err(format!("the schema's type is {t}, not object"));
        }
    }
    let required: Vec<&str> = doc
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let properties = doc.get("properties").and_then(|p| p.as_object());
    for (name, json_type, needed) in JSON_PROPERTIES {
        if *needed && !required.contains(name) {
            return Err(format!(
                "the schema does not require `{name}`, which every event needs"
            ));
        }
        if let Some(t) = properties
            .and_then(|p| p.get(*name))
            .and_then(|p| p.get("type"))
        {
            if !json_type_allows(t, json_type) {
                return Err(format!(
                    "property `{name}` has type {t} in the schema, {json_type} in the contract"
                ));
            }
        }
    }
    Ok(())
}

/// Whether a JSON Schema `type` (a name or a list) admits `wanted`.
fn json_type_allows(t: &serde_json::Value, wanted: &str) -> bool {
    let ok = |name: &str| name == wanted || (wanted == "integer" && name == "number");
    match t {
        serde_json::Value::String(s) => ok(s),
        serde_json::Value::Array(list) => list.iter().any(|v| v.as_str().is_some_and(ok)),
        _ => false,
    }
}

/// The index of a top-level message of `outputs.proto`, for framing.
pub fn output_message_index(full_name: &str) -> Option<i32> {
    let pool = DescriptorPool::decode(crate::proto::FILE_DESCRIPTOR_SET).ok()?;
    let file = pool.get_file_by_name("leadpulse/v1/outputs.proto")?;
    let i = file.messages().position(|m| m.full_name() == full_name)?;
    i32::try_from(i).ok()
}

/// `outputs.proto` as the Confluent clients register a protobuf schema: its
/// `FileDescriptorProto`, base64.
pub fn outputs_schema_base64() -> String {
    use prost::Message as _;
    let set = prost_types::FileDescriptorSet::decode(crate::proto::FILE_DESCRIPTOR_SET)
        .expect("the codec's own descriptors decode");
    let file = set
        .file
        .iter()
        .find(|f| f.name() == "leadpulse/v1/outputs.proto")
        .expect("outputs.proto is compiled in");
    base64::engine::general_purpose::STANDARD.encode(file.encode_to_vec())
}

/// The JSON Schema of each output record (`proto/json/`), by message name.
pub fn output_json_schema(name: &str) -> Option<&'static str> {
    Some(match name {
        "LeadScore" => include_str!("../../../proto/json/LeadScore.json"),
        "HotLeadAlert" => include_str!("../../../proto/json/HotLeadAlert.json"),
        "EnrichmentHold" => include_str!("../../../proto/json/EnrichmentHold.json"),
        "SlaBreach" => include_str!("../../../proto/json/SlaBreach.json"),
        "FeedbackOverdue" => include_str!("../../../proto/json/FeedbackOverdue.json"),
        "StageChange" => include_str!("../../../proto/json/StageChange.json"),
        "HandoffRecord" => include_str!("../../../proto/json/HandoffRecord.json"),
        "WatchAlert" => include_str!("../../../proto/json/WatchAlert.json"),
        "AccountScore" => include_str!("../../../proto/json/AccountScore.json"),
        "AccountAlert" => include_str!("../../../proto/json/AccountAlert.json"),
        _ => return None,
    })
}

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
