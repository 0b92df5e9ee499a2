"""A downstream consumer of leadpulse, in Python with packages from PyPI.

Reads lead-scores and hot-lead-alerts with read_committed, decodes every
record by its content-type header (JSON validated against the JSON Schemas
of docs/asyncapi.yaml; protobuf decoded with the descriptor set of
proto/, loaded at run time, no protoc), and prints one JSON document:
{"scores": {lead_id: score, ...}, "alerts": [{"alert_id", "lead_id", "score"}, ...],
 "formats": [content types seen]}.

Usage: read_outputs.py BOOTSTRAP SCORES_TOPIC ALERTS_TOPIC DESCRIPTORS ASYNCAPI
"""

import json
import sys
import uuid
from datetime import datetime

import jsonschema
import yaml
from confluent_kafka import Consumer, KafkaError, TopicPartition, OFFSET_BEGINNING
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory


def load_messages(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    pending = list(fds.file)
    added = set()
    while pending:  # dependencies first
        progress = False
        for fd in list(pending):
            if all(dep in added for dep in fd.dependency):
                pool.Add(fd)
                added.add(fd.name)
                pending.remove(fd)
                progress = True
        if not progress:
            raise SystemExit(f"unresolvable imports in {path}: {[f.name for f in pending]}")
    cls = lambda name: message_factory.GetMessageClass(pool.FindMessageTypeByName(name))
    return cls("leadpulse.v1.LeadScore"), cls("leadpulse.v1.HotLeadAlert")


def validators(asyncapi_path):
    with open(asyncapi_path) as f:
        doc = yaml.safe_load(f)
    schemas = doc["components"]["schemas"]

    def make(name):
        return jsonschema.Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": {"schemas": schemas}}
        )

    return make("LeadScore"), make("HotLeadAlert")


def read_topic(bootstrap, topic):
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"contract-{uuid.uuid4()}",
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    pending = set(partitions)
    records = []
    while pending:
        m = consumer.poll(30)
        if m is None:
            raise SystemExit(f"no answer from {topic} within 30 s")
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                pending.discard(m.partition())
                continue
            raise SystemExit(f"reading {topic}: {m.error()}")
        records.append(m)
    consumer.close()
    return records


def check_time(value, what):
    datetime.fromisoformat(value.replace("Z", "+00:00"))


def decode(record, proto_cls, validator, formats):
    headers = {k: v.decode() for k, v in (record.headers() or [])}
    ct = headers.get("content-type")
    if "leadpulse-model-version" not in headers:
        raise SystemExit(f"record without leadpulse-model-version: {headers}")
    formats.add(ct)
    if ct == "application/json":
        value = json.loads(record.value())
        errors = sorted(validator.iter_errors(value), key=str)
        if errors:
            raise SystemExit(f"JSON does not match docs/asyncapi.yaml: {errors[0].message}: {value}")
        for key in ("updated_at", "crossed_at", "respond_by"):
            if key in value:
                check_time(value[key], key)
        return value
    if ct == "application/x-protobuf":
        msg = proto_cls()
        msg.ParseFromString(record.value())
        return json_format.MessageToDict(msg, preserving_proto_field_name=True)
    raise SystemExit(f"unexpected content-type {ct!r}")


def main():
    bootstrap, scores_topic, alerts_topic, descriptors, asyncapi = sys.argv[1:6]
    score_cls, alert_cls = load_messages(descriptors)
    score_schema, alert_schema = validators(asyncapi)
    formats = set()
    scores = {}
    for r in read_topic(bootstrap, scores_topic):
        s = decode(r, score_cls, score_schema, formats)
        if r.key().decode() != s["lead_id"]:
            raise SystemExit(f"key {r.key()!r} is not lead_id {s['lead_id']}")
        scores[s["lead_id"]] = s.get("score", 0.0)  # proto3 omits 0
    alerts = []
    for r in read_topic(bootstrap, alerts_topic):
        a = decode(r, alert_cls, alert_schema, formats)
        alerts.append({"alert_id": a["alert_id"], "lead_id": a["lead_id"], "score": a.get("score", 0.0)})
    json.dump({"scores": scores, "alerts": alerts, "formats": sorted(formats)}, sys.stdout)


if __name__ == "__main__":
    main()
