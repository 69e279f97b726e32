/**
 * Compares what ingest captured (the session-tag snapshots on Kafka) with the emulator's ground truth: what a
 * perfect capture of the same conversations would hold.
 */
import type {
  ConversationKind,
  ConversationScript,
  GroundTruthLeg,
  Scenario,
} from '../../dev/emulator/model.ts';
import type { LegTags, SessionTagsSnapshot } from '../../src/enrich/session-tags.ts';

export const ALL_KINDS: readonly ConversationKind[] = [
  'inbound-acd-webrtc',
  'outbound-webrtc',
  'blind-transfer',
  'consult-transfer',
  'same-agent-multiple-legs',
  'persistent-connection',
  'sip-desk-phone',
  'unrecorded',
  'hour-boundary',
];

/** `perKind` conversations of every kind, spread evenly over `spanMs` after `firstAt`. */
export function scenarioOfEveryKind(
  start: number,
  firstAt: number,
  spanMs: number,
  perKind: number,
  seed = 7,
): Scenario {
  const total = ALL_KINDS.length * perKind;
  return {
    seed,
    start: new Date(start).toISOString(),
    conversations: Array.from({ length: total }, (_, i) => ({
      kind: ALL_KINDS[i % ALL_KINDS.length] as ConversationKind,
      at: new Date(firstAt + Math.floor((i * spanMs) / total)).toISOString(),
      durationSeconds: 90 + ((i * 37) % 240),
    })),
  };
}

export interface LegMismatch {
  readonly conversationId: string;
  readonly participantId: string;
  readonly field: string;
  readonly expected: unknown;
  readonly actual: unknown;
}

/** The captured leg of a ground-truth leg (legs are keyed by participant, or participant/communication). */
export function capturedLeg(
  snapshot: SessionTagsSnapshot | undefined,
  gt: GroundTruthLeg,
): LegTags | undefined {
  return snapshot?.legs.find(
    (l) =>
      l.participantId === gt.participantId &&
      (l.communicationId?.value ?? gt.communicationId) === gt.communicationId,
  );
}

const FIELDS: ReadonlyArray<[keyof GroundTruthLeg, keyof LegTags]> = [
  ['communicationId', 'communicationId'],
  ['userId', 'userId'],
  ['purpose', 'purpose'],
  ['direction', 'direction'],
  ['stationId', 'stationId'],
  ['stationType', 'stationType'],
  ['isWebRtc', 'isWebRtc'],
  ['peerId', 'peerId'],
  ['provider', 'provider'],
  ['selfAddress', 'selfAddress'],
  ['otherAddress', 'otherAddress'],
  ['publicIpAddress', 'publicIpAddress'],
  ['connectedTime', 'connectedTime'],
  ['disconnectedTime', 'disconnectedTime'],
  ['recording', 'recording'],
];

/** Every field of every ground-truth leg that the snapshots lack or hold differently. */
export function compareWithGroundTruth(
  scripts: readonly ConversationScript[],
  snapshots: ReadonlyMap<string, SessionTagsSnapshot>,
  fields: ReadonlyArray<keyof GroundTruthLeg> = FIELDS.map(([f]) => f),
): LegMismatch[] {
  const out: LegMismatch[] = [];
  for (const script of scripts) {
    for (const gt of script.groundTruth) {
      const leg = capturedLeg(snapshots.get(script.conversationId), gt);
      for (const [gtField, legField] of FIELDS) {
        if (!fields.includes(gtField)) continue;
        const expected = gt[gtField];
        const tag = leg?.[legField] as { value: unknown } | null | undefined;
        const actual = tag?.value ?? undefined;
        if (expected !== actual)
          out.push({
            conversationId: script.conversationId,
            participantId: gt.participantId,
            field: gtField,
            expected,
            actual,
          });
      }
    }
  }
  return out;
}

/** Provenance of every captured tag of the ground-truth legs, counted. */
export function provenanceCounts(
  scripts: readonly ConversationScript[],
  snapshots: ReadonlyMap<string, SessionTagsSnapshot>,
): { live: number; reconciled: number } {
  const counts = { live: 0, reconciled: 0 };
  for (const script of scripts) {
    for (const gt of script.groundTruth) {
      const leg = capturedLeg(snapshots.get(script.conversationId), gt);
      if (!leg) continue;
      for (const [, legField] of FIELDS) {
        const tag = leg[legField] as { provenance: 'live' | 'reconciled' } | null;
        if (tag) counts[tag.provenance]++;
      }
    }
  }
  return counts;
}
