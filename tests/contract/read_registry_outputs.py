"""Reads leadpulse's framed outputs with confluent-kafka's stock
deserializers and a SchemaRegistryClient.

For each TOPIC=MESSAGE argument (MESSAGE a `leadpulse.v1` record name, e.g.
LeadScore), reads every committed record of TOPIC and checks its framing:
the schema id it names is the latest version of `<topic>-value`. A
protobuf record is read by ProtobufDeserializer(MESSAGE, {}, client), a JSON
one by JSONDeserializer(None, schema_registry_client=client) (which
validates it against the writer's schema). Prints one JSON document:
{topic: {"schema_type", "schema_id", "count", "records": [{"key", ...}]}},
each record as protobuf's JSON mapping or the JSON itself.

Apicurio Registry 3.3.3 (the one the tests run) does not serve the
deserializer's own fetch of a protobuf writer schema,
`GET /schemas/ids/{id}?subject=<topic>-value&format=serialized`: for a
schema registered as a base64 descriptor (as leadpulse and the Confluent
clients register them) it answers 500 ("Syntax error in ….proto: unexpected
label"), and for one registered as .proto text it puts the raw descriptor
bytes, not base64, in the `schema` string. So before the first record of an
id, the client's cache is given that schema with the plain
`client.get_schema(id, subject_name=...)` (`GET /schemas/ids/{id}` answers the
base64 descriptor as registered). A Confluent registry needs no such step.

Usage: read_registry_outputs.py URL BOOTSTRAP DESCRIPTORS TOPIC=MESSAGE...
"""

import json
import sys
import uuid
import warnings

import authlib.deprecate  # noqa: F401

warnings.filterwarnings("ignore", message="The httpx module is deprecated")

from confluent_kafka import Consumer, KafkaError, OFFSET_BEGINNING  # noqa: E402
from confluent_kafka.schema_registry import SchemaRegistryClient  # noqa: E402
from confluent_kafka.schema_registry.json_schema import JSONDeserializer  # noqa: E402
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory  # noqa: E402


def message_classes(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    pending, added = list(fds.file), set()
    while pending:
        for fd in list(pending):
            if all(dep in added for dep in fd.dependency):
                pool.Add(fd)
                added.add(fd.name)
                pending.remove(fd)
    return lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"leadpulse.v1.{name}"))


def read_topic(bootstrap, topic):
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"registry-reader-{uuid.uuid4().hex}",
        "isolation.level": "read_committed", "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "enable.partition.eof": True,
    })
    meta = consumer.list_topics(topic, timeout=30)
    parts = list(meta.topics[topic].partitions)
    from confluent_kafka import TopicPartition
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    done, out = set(), []
    while len(done) < len(parts):
        m = consumer.poll(10)
        if m is None:
            raise SystemExit(f"timed out reading {topic}")
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                done.add(m.partition())
                continue
            raise SystemExit(f"{topic}: {m.error()}")
        out.append(m)
    consumer.close()
    return out


def main():
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    url, bootstrap, descriptors = sys.argv[1:4]
    cls = message_classes(descriptors)
    client = SchemaRegistryClient({"url": url})
    result = {}
    for arg in sys.argv[4:]:
        topic, name = arg.split("=")
        subject = f"{topic}-value"
        latest = client.get_latest_version(subject)
        ctx = SerializationContext(topic, MessageField.VALUE)
        schema_type = latest.schema.schema_type
        if schema_type == "PROTOBUF":
            deserializer = ProtobufDeserializer(cls(name), {}, client)
        else:
            deserializer = JSONDeserializer(None, schema_registry_client=client)
        records, warmed = [], set()
        for m in read_topic(bootstrap, topic):
            value = m.value()
            if value[0] != 0:
                raise SystemExit(f"{topic}: a record without the magic byte")
            schema_id = int.from_bytes(value[1:5], "big")
            if schema_id != latest.schema_id:
                raise SystemExit(f"{topic}: schema id {schema_id}, the subject's latest is {latest.schema_id}")
            if schema_id not in warmed:  # see the docstring: Apicurio's format=serialized
                client.get_schema(schema_id, subject_name=subject)
                warmed.add(schema_id)
            got = deserializer(value, ctx)
            if schema_type == "PROTOBUF":
                got = json_format.MessageToDict(got, preserving_proto_field_name=True)
            got["key"] = m.key().decode()
            records.append(got)
        result[topic] = {"schema_type": schema_type, "schema_id": latest.schema_id,
                         "count": len(records), "records": records}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
