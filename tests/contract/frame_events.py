"""Frames leadpulse events the way a Confluent producer does, with the stock
confluent-kafka serializers against a real schema registry.

Reads JSON lines from IN, each {"mode", "topic", "hex"}: the event's plain
bytes (protobuf `LeadEvent` for mode "proto", JSON for "json" and "json2").
- "proto": the bytes are parsed into `leadpulse.v1.LeadEvent` (classes built
  from the DESCRIPTORS file at run time, no protoc) and framed by
  ProtobufSerializer, which registers events.proto (base64 descriptor) under
  `<topic>-value`;
- "json": framed by JSONSerializer with EVENT_SCHEMA, "json2" with
  EVENT_SCHEMA_V2, a compatible new version (`event_id` without its maxLength), so
  its records carry a new id. One subject holds one schema type, so on a
  topic that mixes the two the JSON schemas go under
  TopicRecordNameStrategy's `<topic>-LeadEvent` (the schema's title).
Writes one line per input to OUT, the framed bytes in hex, and prints the
schema ids used as JSON: {"proto": id, "json": id, "json2": id}.

Usage: frame_events.py URL DESCRIPTORS IN OUT
"""

import copy
import json
import sys
import warnings

import authlib.deprecate  # noqa: F401 (on import it sets its warnings to "always")

warnings.filterwarnings("ignore", message="The httpx module is deprecated")

from confluent_kafka.schema_registry import SchemaRegistryClient, topic_record_subject_name_strategy  # noqa: E402
from confluent_kafka.schema_registry.json_schema import JSONSerializer  # noqa: E402
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory  # noqa: E402

S = {"type": "string"}
EVENT_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "LeadEvent",
    "type": "object",
    "required": ["event_id", "lead_id", "type", "occurred_at"],
    "properties": {
        "event_id": {"type": "string", "maxLength": 256}, "lead_id": S, "type": S, "occurred_at": S,
        "company_domain": S, "account_id": S, "url": S, "referrer": S,
        "duration_ms": {"type": "integer"}, "form_id": S, "fields": {"type": "object"},
        "campaign_id": S, "asset_id": S, "webinar_id": S,
        "attributes": {"type": "object"}, "bounce_type": S,
    },
}
EVENT_SCHEMA_V2 = copy.deepcopy(EVENT_SCHEMA)
# Compatible under BACKWARD: a wider event_id (a property added to this open
# content model would not be).
EVENT_SCHEMA_V2["properties"]["event_id"] = S


def lead_event_class(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    pending, added = list(fds.file), set()
    while pending:  # dependencies first
        for fd in list(pending):
            if all(dep in added for dep in fd.dependency):
                pool.Add(fd)
                added.add(fd.name)
                pending.remove(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("leadpulse.v1.LeadEvent"))


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    url, descriptors, src, dst = sys.argv[1:]
    client = SchemaRegistryClient({"url": url})
    LeadEvent = lead_event_class(descriptors)
    proto = ProtobufSerializer(LeadEvent, client)
    by_record = {"subject.name.strategy": topic_record_subject_name_strategy}
    serializers = {
        "json": JSONSerializer(json.dumps(EVENT_SCHEMA), client, conf=by_record),
        "json2": JSONSerializer(json.dumps(EVENT_SCHEMA_V2), client, conf=by_record),
    }
    ids = {}
    with open(src) as inp, open(dst, "w") as out:
        for line in inp:
            r = json.loads(line)
            ctx = SerializationContext(r["topic"], MessageField.VALUE)
            raw = bytes.fromhex(r["hex"])
            if r["mode"] == "proto":
                framed = proto(LeadEvent.FromString(raw), ctx)
            else:
                framed = serializers[r["mode"]](json.loads(raw), ctx)
            ids[r["mode"]] = int.from_bytes(framed[1:5], "big")
            out.write(framed.hex() + "\n")
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
