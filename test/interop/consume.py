"""A consumer custody did not write: reads custody's topics with confluent-kafka and decodes every record.

With --registry, values are Confluent-framed: confluent-kafka's SchemaRegistryClient fetches the writer schema by
id and its AvroDeserializer decodes into the reader schema given with --reader (the .avsc this consumer was built
with). Without, values are Avro single-object records (C3 01 + CRC-64-AVRO fingerprint) decoded with fastavro
from the schemas in --schemas (and schemas/history), matched by fingerprint.

Prints one JSON line per record: topic, partition, offset, key, headers and the decoded value (bytes as
{"$bytes": base64}). Exits non-zero on any record it cannot decode.

usage: consume.py --bootstrap HOST:PORT --schemas DIR [--registry URL] --topic TOPIC=SCHEMA_NAME ...
"""

import argparse
import base64
import datetime
import glob
import io
import json
import os
import sys

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form


def plain(v):
    """The decoded value as JSON: bytes become {"$bytes": base64}, timestamp-millis datetimes epoch ms."""
    if isinstance(v, datetime.datetime):
        return round(v.timestamp() * 1000)
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def single_object_decoder(schemas_dir, name):
    """Decodes single-object records of one schema, written with its current or any historical version."""
    reader = load_schema(os.path.join(schemas_dir, f"{name}.avsc"))
    writers = {}
    for path in [os.path.join(schemas_dir, f"{name}.avsc")] + glob.glob(
        os.path.join(schemas_dir, "history", f"{name}.*.avsc")
    ):
        writer = load_schema(path)
        # fastavro's hex is of the fingerprint's little-endian bytes, as the single-object header carries them.
        writers[fingerprint(to_parsing_canonical_form(writer), "CRC-64-AVRO")] = writer

    def decode(value):
        if len(value) < 10 or value[0:2] != b"\xc3\x01":
            raise ValueError("not an Avro single-object record")
        writer = writers.get(value[2:10].hex())
        if writer is None:
            raise ValueError(f"unknown writer fingerprint {value[2:10].hex()}")
        return fastavro.schemaless_reader(io.BytesIO(value[10:]), writer, reader)

    return decode


def registry_decoder(client, schemas_dir, name, topic):
    with open(os.path.join(schemas_dir, f"{name}.avsc"), encoding="utf-8") as f:
        reader_schema = f.read()
    deserializer = AvroDeserializer(client, schema_str=reader_schema)
    ctx = SerializationContext(topic, MessageField.VALUE)
    return lambda value: deserializer(value, ctx)


def read_topic(bootstrap, topic, decode, out):
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"custody-interop-{os.getpid()}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=10)
        partitions = sorted(meta.topics[topic].partitions)
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high
        if not ends:
            return
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        idle = 0
        while ends and idle < 60:
            msg = consumer.poll(0.5)
            if msg is None:
                idle += 1
                continue
            if msg.error():
                raise RuntimeError(str(msg.error()))
            idle = 0
            value = msg.value()
            record = {
                "topic": topic,
                "partition": msg.partition(),
                "offset": msg.offset(),
                "key": None if msg.key() is None else msg.key().decode("utf-8"),
                "headers": {k: (v or b"").decode("utf-8") for k, v in (msg.headers() or [])},
                "value": None if value is None else plain(decode(value)),
            }
            out.write(json.dumps(record) + "\n")
            if msg.offset() + 1 >= ends.get(msg.partition(), 0):
                ends.pop(msg.partition(), None)
        if ends:
            raise RuntimeError(f"timed out reading {topic}: partitions {sorted(ends)} not read to the end")
    finally:
        consumer.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--schemas", required=True)
    ap.add_argument("--registry")
    ap.add_argument("--topic", action="append", default=[], help="TOPIC=SCHEMA_NAME, e.g. custody.dlq.v1=dead-letter.v1")
    args = ap.parse_args()
    client = SchemaRegistryClient({"url": args.registry}) if args.registry else None
    for spec in args.topic:
        topic, name = spec.split("=", 1)
        if client is not None:
            decode = registry_decoder(client, args.schemas, name, topic)
        else:
            decode = single_object_decoder(args.schemas, name)
        read_topic(args.bootstrap, topic, decode, sys.stdout)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
