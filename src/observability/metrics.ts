/**
 * Prometheus metrics, named custody_<stage>_<thing>_<unit>. One registry per process (not the global
 * default), so tests can create several pipelines side by side.
 */
import type { HeapInfo } from 'node:v8';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'custody_process_' });
  return registry;
}

/** What ingest's snapshot worker holds, read at each scrape. */
export interface SnapshotWorkerGauges {
  /** Conversations whose snapshots the worker holds. */
  held(): number;
  /** The worker's V8 heap: its own isolate, which the custody_process_* heap metrics do not include. */
  heap(): Promise<HeapInfo>;
}

/** Metrics of `custody ingest`. */
export function ingestMetrics(registry: Registry) {
  let worker: SnapshotWorkerGauges | undefined;
  return {
    /** Where the snapshot worker's gauges are read from (set once ingest's worker runs). */
    observeSnapshotWorker(source: SnapshotWorkerGauges): void {
      worker = source;
    },
    conversationsHeld: new Gauge({
      name: 'custody_ingest_conversations_held',
      help: 'Conversations whose session-tags snapshots ingest holds (what its memory grows with)',
      registers: [registry],
      collect() {
        if (worker) this.set(worker.held());
      },
    }),
    snapshotWorkerHeapBytes: new Gauge({
      name: 'custody_ingest_snapshot_worker_heap_bytes',
      help: "The snapshot worker's V8 heap: used, reserved (total) and its limit (not in custody_process_*: the worker is its own isolate)",
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        // A worker that has stopped has no heap to report: the gauge keeps its last values.
        const heap = await worker?.heap().catch(() => undefined);
        if (heap === undefined) return;
        this.set({ state: 'used' }, heap.used_heap_size);
        this.set({ state: 'total' }, heap.total_heap_size);
        this.set({ state: 'limit' }, heap.heap_size_limit);
      },
    }),
    events: new Counter({
      name: 'custody_ingest_events_total',
      help: 'Notification frames received, by envelope kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    duplicates: new Counter({
      name: 'custody_ingest_duplicates_total',
      help: 'Frames seen twice (overlapping sockets) and written once',
      registers: [registry],
    }),
    ackLatency: new Histogram({
      name: 'custody_ingest_ack_latency_seconds',
      help: 'From WebSocket frame received to Kafka acknowledgement',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    eventLag: new Histogram({
      name: 'custody_ingest_event_lag_seconds',
      help: 'From the Genesys event time (where the event has one) to Kafka acknowledgement',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    reconnects: new Counter({
      name: 'custody_ingest_socket_reconnects_total',
      help: 'WebSocket reconnections, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    gapsOpened: new Counter({
      name: 'custody_ingest_gaps_total',
      help: 'Intervals with a channel not connected',
      registers: [registry],
    }),
    gapsRepaired: new Counter({
      name: 'custody_ingest_gaps_repaired_total',
      help: 'Gaps whose conversations were reconciled from REST/analytics',
      registers: [registry],
    }),
    gapsOpen: new Gauge({
      name: 'custody_ingest_gaps_open',
      help: 'Gaps not yet repaired',
      registers: [registry],
    }),
    bufferDepth: new Gauge({
      name: 'custody_ingest_buffer_depth',
      help: 'Frames received and not yet acknowledged by Kafka',
      registers: [registry],
    }),
    bufferBytes: new Gauge({
      name: 'custody_ingest_buffer_bytes',
      help: 'Bytes of the frames received and not yet acknowledged by Kafka (as records)',
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'custody_ingest_dead_letters_total',
      help: 'Frames written to the DLQ, by error code (alert on any increase)',
      labelNames: ['code'],
      registers: [registry],
    }),
    channels: new Gauge({
      name: 'custody_ingest_channels',
      help: 'Notification channels in use',
      registers: [registry],
    }),
    topics: new Gauge({
      name: 'custody_ingest_subscribed_topics',
      help: 'Topics subscribed across channels',
      registers: [registry],
    }),
  };
}

export type IngestMetrics = ReturnType<typeof ingestMetrics>;

/** Metrics of `custody sink`, observed from outside the pipeline (its producer and consumer events). */
export function sinkMetrics(registry: Registry) {
  return {
    records: new Counter({
      name: 'custody_sink_records_written_total',
      help: 'Records the sink wrote to Kafka, by kind (manifest = one manifest version written to S3; dead_letter = input it could not use: alert on any increase)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    batches: new Counter({
      name: 'custody_sink_batches_total',
      help: 'Input batches processed and committed',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'custody_sink_offset_lag',
      help: 'Records behind the end of each input partition after the last batch',
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    rebalances: new Counter({
      name: 'custody_sink_rebalances_total',
      help: 'Consumer group joins (start, rebalance)',
      registers: [registry],
    }),
    crashes: new Counter({
      name: 'custody_sink_consumer_crashes_total',
      help: 'Consumer crashes (kafkajs restarts the consumer when the error is retriable)',
      registers: [registry],
    }),
  };
}

export type SinkMetrics = ReturnType<typeof sinkMetrics>;
