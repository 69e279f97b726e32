/**
 * Generated tag observations of one conversation for the merge property tests: few distinct values, times and
 * sources, so ties (equal times, the same frame's sources, a stated against a mapped address), provenance upgrades
 * and a field going A → B → A are common.
 */
import { fc } from '@fast-check/vitest';
import type { TagObservation } from '../../src/enrich/session-tags.ts';

export const CONV = '0b6f3a52-9e1d-4c77-8a20-5d4e3c2b1a09';

export const tagObservation = fc
  .record({
    legKey: fc.constantFrom('leg-a', 'leg-b', 'leg-c'),
    participantId: fc.constantFrom('p-1', 'p-2'),
    provenance: fc.constantFrom<TagObservation['provenance']>('live', 'reconciled'),
    source: fc.constantFrom(
      { kind: 'notification' as const, topicName: 't.a', correlationId: 'c-1', api: null, field: null },
      { kind: 'notification' as const, topicName: 't.a', correlationId: 'c-2', api: null, field: null },
      { kind: 'notification' as const, topicName: 't.b', correlationId: null, api: null, field: null },
      { kind: 'api' as const, topicName: null, correlationId: null, api: 'analytics', field: null },
    ),
    observedAt: fc.constantFrom(null, 1_000, 2_000),
    receivedAt: fc.constantFrom(-0, 0, 1_000, 2_000, 3_000),
    purpose: fc.constantFrom(undefined, 'agent', 'customer'),
    selfAddress: fc.constantFrom(undefined, 'sip:a', 'tel:+1'),
    selfPath: fc.constantFrom(undefined, 'ani', 'address'),
    persistentConnectionState: fc.constantFrom(undefined, 'ACTIVE', 'PERSISTED'),
    recording: fc.constantFrom(undefined, true, false),
    held: fc.constantFrom(undefined, true, false),
    connectedTime: fc.constantFrom(undefined, 5, 6),
  })
  .map((o): TagObservation => ({
    conversationId: CONV,
    legKey: o.legKey,
    participantId: o.participantId,
    provenance: o.provenance,
    source: { ...o.source },
    observedAt: o.observedAt,
    receivedAt: o.receivedAt,
    fields: {
      ...(o.purpose === undefined ? {} : { purpose: o.purpose }),
      ...(o.selfAddress === undefined ? {} : { selfAddress: o.selfAddress }),
      ...(o.persistentConnectionState === undefined
        ? {}
        : { persistentConnectionState: o.persistentConnectionState }),
      ...(o.recording === undefined ? {} : { recording: o.recording }),
      ...(o.held === undefined ? {} : { held: o.held }),
      ...(o.connectedTime === undefined ? {} : { connectedTime: o.connectedTime }),
    },
    ...(o.selfPath === undefined || o.selfAddress === undefined
      ? {}
      : { fieldPaths: { selfAddress: o.selfPath } }),
  }));

/** A batch of 1–12 observations. */
export const tagObservationBatch = fc.array(tagObservation, { minLength: 1, maxLength: 12 });
