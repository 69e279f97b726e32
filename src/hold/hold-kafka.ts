/**
 * The Kafka side of `custody hold|release`: the conversation's holds as the legal-holds topic has them, the hold
 * event produced to its conversation's partition, the wait for the sink to have processed it (its consumer group
 * committed past the event: manifests written, side effects first), and the manifest versions the sink announced
 * for the conversation meanwhile.
 */
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { holdsStateOf, mergeLegalHolds } from '../enrich/legal-holds.ts';
import type { LegalHoldsState } from '../enrich/legal-holds.ts';
import type { LegalHoldEvent, ManifestWritten } from '../kafka/avro-codec.ts';
import { readPartitions } from '../sink/partition-reader.ts';
import { conversationPartition } from '../kafka/partitioning.ts';

type Decoder<T> = Readonly<{ decode(bytes: Buffer): T | Promise<T> }>;

/** End offset (next offset to be written) of one partition. */
export async function partitionEnd(admin: Admin, topic: string, partition: number): Promise<string> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const p = offsets.find((o) => o.partition === partition);
  if (p === undefined) throw new Error(`topic ${topic} has no partition ${partition}`);
  return p.high;
}

/** Every record of `[from, to)` of one partition. */
async function readRange(
  kafka: Kafka,
  topic: string,
  partition: number,
  partitions: number,
  from: string,
  to: string,
  signal?: AbortSignal,
): Promise<KafkaMessage[]> {
  const out: KafkaMessage[] = [];
  await readPartitions(kafka, [{ topic, partition, from, to }], (_t, _p, m) => out.push(m), {
    groupPrefix: 'custody-hold.read',
    partitionCounts: new Map([[topic, partitions]]),
    signal,
  });
  return out;
}

/** The conversation's holds, folded from its records on the legal-holds topic (undecodable records skipped). */
export async function readConversationHolds(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  conversationId: string,
  decoder: Decoder<LegalHoldEvent>,
  signal?: AbortSignal,
): Promise<Readonly<{ holds: LegalHoldsState | null; partitions: number; partition: number }>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const partitions = offsets.length;
  const partition = conversationPartition(conversationId, partitions);
  const range = offsets.find((o) => o.partition === partition);
  if (range === undefined) throw new Error(`topic ${topic} has no partition ${partition}`);
  const messages = await readRange(kafka, topic, partition, partitions, range.low, range.high, signal);
  let holds: LegalHoldsState | null = null;
  for (const m of messages) {
    if (m.value === null || m.key?.toString('utf8').startsWith(`${conversationId}/`) !== true) continue;
    let event: LegalHoldEvent;
    try {
      event = await decoder.decode(m.value);
    } catch {
      continue; // the sink dead-letters it; it holds nothing
    }
    if (event.conversationId !== conversationId) continue;
    holds = mergeLegalHolds(
      holds,
      holdsStateOf(event.matterId, {
        action: event.action,
        requestedAtMs: Number(event.requestedAtMs),
        requestId: event.requestId,
        requestedBy: event.requestedBy,
        reason: event.reason,
        instance: event.instance,
        version: event.version,
        source: { topic, partition, offset: m.offset },
      }),
    );
  }
  return { holds, partitions, partition };
}

/** Whether the sink's group has committed past `offset` of the partition (it processed the record). */
export async function sinkProcessed(
  admin: Admin,
  groupId: string,
  topic: string,
  partition: number,
  offset: string,
): Promise<boolean> {
  const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
  const at = committed?.partitions.find((p) => p.partition === partition)?.offset;
  return at !== undefined && at !== '-1' && BigInt(at) > BigInt(offset);
}

/** The manifest versions announced for the conversation in `[from, end)` of its manifests partition. */
export async function manifestsAnnounced(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  conversationId: string,
  from: string,
  decoder: Decoder<ManifestWritten>,
  signal?: AbortSignal,
): Promise<ManifestWritten[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const partition = conversationPartition(conversationId, offsets.length);
  const end = offsets.find((o) => o.partition === partition)?.high ?? from;
  const messages = await readRange(kafka, topic, partition, offsets.length, from, end, signal);
  const out: ManifestWritten[] = [];
  for (const m of messages) {
    if (m.value === null || m.key?.toString('utf8') !== conversationId) continue;
    try {
      out.push(await decoder.decode(m.value));
    } catch {
      // not ours to judge here
    }
  }
  return out;
}
