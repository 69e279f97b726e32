/**
 * Which partition a conversation's records go to: kafkajs's default partitioner (Java-compatible murmur2 of the
 * key, as every custody producer uses), applied to the conversation id. Records keyed by something else — the
 * legal holds, keyed `{conversationId}/{matterId}` so compaction keeps one record per matter — are sent explicitly
 * to this partition, so they stay co-partitioned with the conversation's other records.
 */
import { Partitioners } from 'kafkajs';

export function conversationPartition(conversationId: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1)
    throw new RangeError('partitions must be a positive integer');
  const partitioner = Partitioners.DefaultPartitioner();
  return partitioner({
    topic: 'custody',
    partitionMetadata: Array.from({ length: partitions }, (_, i) => ({
      partitionId: i,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    })),
    message: { key: conversationId, value: null },
  });
}

/** The key of a legal-hold record: one per conversation and matter. */
export function legalHoldKey(conversationId: string, matterId: string): string {
  return `${conversationId}/${matterId}`;
}
