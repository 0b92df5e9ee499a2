"""Checks a schema registry with the stock Confluent Python client.

Against the registry at URL (the Confluent API base, as printed by
scripts/schema-registry/start.sh), with confluent-kafka's own
SchemaRegistryClient and serdes, and topic names unique to this run:
- ProtobufSerializer registers a protobuf schema (importing
  google/protobuf/timestamp.proto) under `<topic>-value`, JSONSerializer a
  JSON Schema under another topic's `<topic>-value`;
- JSONDeserializer reads its record back with the writer's schema fetched
  by the id in the record; for protobuf the schema of that id is fetched and
  compared, and ProtobufDeserializer reads the record without a registry
  client (Apicurio 3.3 fails the client's `format=serialized` fetch);
- under the BACKWARD compatibility, a compatible new version of each is
  accepted and an incompatible one is refused (409).
Prints a note saying whether ProtobufDeserializer also works with a registry
client here (it does not on Apicurio 3.3), then OK and exits 0; or fails
with the first difference.

With --save FILE it also writes the framed records and topics to FILE; with
--reread FILE it only decodes such a file with a fresh client, so that a
registry restarted on the same data can be checked to still serve the ids.

Usage: registry_smoke.py URL [--save FILE | --reread FILE]
"""

import base64
import json
import sys
import uuid
import warnings

import authlib.deprecate  # noqa: F401 (on import it sets its warnings to "always")

# Authlib 1.9 warns about its own httpx integration on import; not ours to fix.
warnings.filterwarnings("ignore", message="The httpx module is deprecated")

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient  # noqa: E402
from confluent_kafka.schema_registry.error import SchemaRegistryError  # noqa: E402
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer  # noqa: E402
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2  # noqa: E402

F = descriptor_pb2.FieldDescriptorProto


def page_view_class(version):
    """A `leadpulse.smoke.v1.PageView` message built at run time (no protoc).

    version 1: lead_id, url, occurred_at; 2 adds `referrer` (compatible);
    "broken" turns `url` into an int64 (incompatible)."""
    fd = descriptor_pb2.FileDescriptorProto(
        name="leadpulse/smoke/v1/page_view.proto",
        package="leadpulse.smoke.v1",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    msg = fd.message_type.add(name="PageView")
    msg.field.add(name="lead_id", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    url_type = F.TYPE_INT64 if version == "broken" else F.TYPE_STRING
    msg.field.add(name="url", number=2, type=url_type, label=F.LABEL_OPTIONAL)
    msg.field.add(
        name="occurred_at", number=3, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
        type_name=".google.protobuf.Timestamp",
    )
    if version == 2:
        msg.field.add(name="referrer", number=4, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    # Each version in a pool of its own, as a separate program would have it.
    pool = descriptor_pool.DescriptorPool()
    ts = descriptor_pb2.FileDescriptorProto()
    timestamp_pb2.DESCRIPTOR.CopyToProto(ts)
    pool.Add(ts)
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("leadpulse.smoke.v1.PageView"))


def descriptor_b64(cls):
    """The schema as the Confluent client sends it: the file's descriptor, base64."""
    return base64.standard_b64encode(cls.DESCRIPTOR.file.serialized_pb).decode("ascii")


FORM_SUBMIT_V1 = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "FormSubmit",
    "type": "object",
    "properties": {
        "lead_id": {"type": "string"},
        "form_id": {"type": "string"},
        "occurred_at": {"type": "string"},
    },
    "required": ["lead_id", "form_id"],
    "additionalProperties": False,
}


def form_submit(version):
    """JSON Schema versions: 2 adds an optional property (compatible);
    "broken" adds a required one that old records lack (incompatible)."""
    schema = json.loads(json.dumps(FORM_SUBMIT_V1))
    if version in (2, "broken"):
        schema["properties"]["campaign"] = {"type": "string"}
    if version == "broken":
        schema["required"].append("campaign")
    return json.dumps(schema)


def check(cond, what):
    if not cond:
        raise SystemExit(f"registry_smoke: {what}")


def expect_refused(client, subject, schema, what):
    check(client.test_compatibility(subject, schema) is False, f"{what}: test_compatibility did not say incompatible")
    try:
        client.register_schema(subject, schema)
    except SchemaRegistryError as e:
        check(e.http_status_code == 409, f"{what}: refused with {e.http_status_code}, not 409: {e}")
        return
    raise SystemExit(f"registry_smoke: {what}: the registry accepted it")


def decode(client, saved):
    # The writer's protobuf schema, by the id in the record, is the one registered.
    proto_id = int.from_bytes(bytes.fromhex(saved["proto"])[1:5], "big")
    writer = client.get_schema(proto_id)
    check(writer.schema_type == "PROTOBUF" and writer.schema_str == saved["proto_schema"],
          f"schema id {proto_id} is {writer.schema_type} {writer.schema_str[:60]}")
    # Without a registry client: Apicurio 3.3 answers the client's
    # `GET /schemas/ids/{id}?format=serialized` with 500 (see start.sh).
    pv = ProtobufDeserializer(page_view_class(1), {})
    got = pv(bytes.fromhex(saved["proto"]),
             SerializationContext(saved["proto_topic"], MessageField.VALUE))
    check(got.lead_id == "lead-1" and got.url == "https://example.com/pricing"
          and got.occurred_at.seconds == 1_760_000_000, f"protobuf read back as {got}")
    jd = JSONDeserializer(None, schema_registry_client=client)  # the writer's schema, by id
    got = jd(bytes.fromhex(saved["json"]),
             SerializationContext(saved["json_topic"], MessageField.VALUE))
    check(got == {"lead_id": "lead-1", "form_id": "demo-request"}, f"JSON read back as {got}")


def main():
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2] not in ("--save", "--reread")):
        raise SystemExit(__doc__)
    url = sys.argv[1]
    client = SchemaRegistryClient({"url": url})
    if len(sys.argv) == 4 and sys.argv[2] == "--reread":
        with open(sys.argv[3]) as f:
            decode(client, json.load(f))
        print("OK")
        return

    check(client.get_compatibility() == "BACKWARD", f"global compatibility is {client.get_compatibility()}")
    run = uuid.uuid4().hex[:8]
    proto_topic, json_topic = f"smoke-page-views-{run}", f"smoke-form-submits-{run}"
    proto_ctx = SerializationContext(proto_topic, MessageField.VALUE)
    json_ctx = SerializationContext(json_topic, MessageField.VALUE)

    # Protobuf: serialize (auto-registers `<topic>-value`), read back.
    PageView = page_view_class(1)
    event = PageView(lead_id="lead-1", url="https://example.com/pricing")
    event.occurred_at.seconds = 1_760_000_000
    framed_proto = ProtobufSerializer(PageView, client)(event, proto_ctx)
    check(framed_proto[0] == 0, "protobuf record lacks the magic byte")
    proto_id = int.from_bytes(framed_proto[1:5], "big")
    latest = client.get_latest_version(f"{proto_topic}-value")
    check(latest.schema_id == proto_id and latest.schema.schema_type == "PROTOBUF",
          f"protobuf subject has id {latest.schema_id} type {latest.schema.schema_type}, record id {proto_id}")

    # JSON Schema: the same.
    framed_json = JSONSerializer(form_submit(1), client)({"lead_id": "lead-1", "form_id": "demo-request"}, json_ctx)
    check(framed_json[0] == 0, "JSON record lacks the magic byte")
    json_id = int.from_bytes(framed_json[1:5], "big")
    latest = client.get_latest_version(f"{json_topic}-value")
    check(latest.schema_id == json_id and latest.schema.schema_type == "JSON",
          f"JSON subject has id {latest.schema_id} type {latest.schema.schema_type}, record id {json_id}")
    check(proto_id != json_id, "two schemas got one id")

    saved = {"proto_topic": proto_topic, "json_topic": json_topic,
             "proto_schema": descriptor_b64(PageView),
             "proto": framed_proto.hex(), "json": framed_json.hex()}
    decode(SchemaRegistryClient({"url": url}), saved)  # a fresh client: ids come from the registry

    # BACKWARD: a compatible change is a new version, an incompatible one is refused.
    PageView2 = page_view_class(2)
    v2 = ProtobufSerializer(PageView2, client)(PageView2(lead_id="lead-2", referrer="search"), proto_ctx)
    check(int.from_bytes(v2[1:5], "big") != proto_id, "protobuf v2 got v1's id")
    check(len(client.get_versions(f"{proto_topic}-value")) == 2, "protobuf v2 is not version 2")
    broken_schema = Schema(descriptor_b64(page_view_class("broken")), "PROTOBUF")
    expect_refused(client, f"{proto_topic}-value", broken_schema, "protobuf url string -> int64")

    client.register_schema(f"{json_topic}-value", Schema(form_submit(2), "JSON"))
    check(len(client.get_versions(f"{json_topic}-value")) == 2, "JSON v2 is not version 2")
    expect_refused(client, f"{json_topic}-value", Schema(form_submit("broken"), "JSON"), "JSON new required property")
    check(len(client.get_versions(f"{proto_topic}-value")) == 2
          and len(client.get_versions(f"{json_topic}-value")) == 2, "a refused version was stored")

    # Said, not asserted: whether this registry serves ProtobufDeserializer
    # with a registry client (its `?format=serialized` fetch of the writer).
    try:
        ProtobufDeserializer(PageView, {}, SchemaRegistryClient({"url": url}))(framed_proto, proto_ctx)
        print("note: ProtobufDeserializer with a registry client works here")
    except SchemaRegistryError as e:
        print(f"note: ProtobufDeserializer with a registry client fails here: HTTP {e.http_status_code}")

    if len(sys.argv) == 4:
        with open(sys.argv[3], "w") as f:
            json.dump(saved, f)
    print(f"subjects {proto_topic}-value (protobuf id {proto_id}) {json_topic}-value (json id {json_id})")
    print("OK")


if __name__ == "__main__":
    main()
