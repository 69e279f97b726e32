/** The deployment with no fault: the yardstick the other scenarios are read against. */
import { describe, expect, inject, it } from 'vitest';
import { countInflatedBatches } from '../support/kafka-inflation.ts';
import { readTopicToEnd } from '../support/kafka-read.ts';
import { expectSound, kafkaOf, NO_EXITS, runScenario } from './scenario.ts';

describe('fault suite: baseline', () => {
  it('three roles as processes beside the emulator: every export gets one verified manifest chain', async () => {
    const r = await runScenario({
      name: 'baseline',
      injected: 'nothing',
      infra: inject('infra'),
      trafficMs: 20_000,
    });
    expectSound(r);
    expect(r.audit.complete).toBeGreaterThan(0);
    // The manifests name the ingest process that captured the tags (from the session-tags record headers).
    // Each capture cited by its Kafka record names the ingest process that wrote the record.
    const captured = r.manifests.flatMap((m) =>
      m.chain_of_custody.filter(
        (e) => e.event === 'session_tags_captured' && e.evidence !== null && 'kafka' in e.evidence,
      ),
    );
    expect(captured.length).toBeGreaterThan(0);
    expect(new Set(captured.map((e) => ('instance' in e.actor ? e.actor.instance : 'none')))).toEqual(
      new Set([`baseline-${process.pid}-ingest`]),
    );
    expect(r.exits).toEqual(NO_EXITS);
  });

  let evidence = { records: 0, zstdBatches: 0 };
  it('every role writing zstd batches (KAFKA_COMPRESSION=zstd): the sink reads them, every export gets its chain', async () => {
    const r = await runScenario({
      name: 'zstd',
      injected: 'none; every role writes zstd record batches (KAFKA_COMPRESSION=zstd)',
      infra: inject('infra'),
      trafficMs: 15_000,
      env: { KAFKA_COMPRESSION: 'zstd' },
      // The evidence log, read here, holds zstd batches: the reader had to inflate them.
      afterTraffic: async (ctx) => {
        const counter = countInflatedBatches();
        try {
          const records = await readTopicToEnd(kafkaOf(ctx.infra), ctx.deployment.topics.notifications);
          evidence = { records: records.length, zstdBatches: counter.counts.zstd };
        } finally {
          counter.restore();
        }
      },
    });
    expectSound(r);
    expect(evidence.records).toBeGreaterThan(0);
    expect(evidence.zstdBatches).toBeGreaterThan(0);
    expect(r.audit.complete).toBeGreaterThan(0);
    expect(r.exits).toEqual(NO_EXITS);
  });
});
