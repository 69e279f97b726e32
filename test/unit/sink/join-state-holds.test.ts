import { describe, expect, it } from 'vitest';
import { holdsStateOf } from '../../../src/enrich/legal-holds.ts';
import {
  STATE_FORMAT,
  encodeConversationState,
  isStateFailure,
  mergeConversationState,
  parseConversationState,
  stateBytes,
} from '../../../src/sink/join-state.ts';
import type { ConversationState } from '../../../src/sink/join-state.ts';

const CID = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const hold = holdsStateOf('M-1', {
  action: 'hold',
  requestedAtMs: 1_770_000_000_000,
  requestId: '11111111-2222-4333-8444-555555555555',
  requestedBy: 'alice',
  reason: 'litigation',
  instance: 'host-1',
  version: '0.1.0',
  source: { topic: 'custody.legal-holds.v1', partition: 1, offset: '4' },
});

describe('join state with legal holds', () => {
  it('reads changelog records written before holds existed, and keeps their bytes', () => {
    const old: ConversationState = { format: STATE_FORMAT, conversationId: CID, tags: null, exports: null };
    const bytes = Buffer.from(JSON.stringify(old));
    const parsed = parseConversationState(CID, bytes);
    expect(isStateFailure(parsed)).toBe(false);
    expect(parsed).toEqual(old);
    // Merging a state without holds leaves no `holds` member: the stored bytes stay what they were.
    const merged = mergeConversationState(parsed as ConversationState, old);
    expect(stateBytes(merged).equals(stateBytes(old))).toBe(true);
  });

  it('round-trips holds through the changelog and merges them either way', () => {
    const a: ConversationState = { format: STATE_FORMAT, conversationId: CID, tags: null, exports: null };
    const b: ConversationState = { ...a, holds: hold };
    const ab = mergeConversationState(a, b);
    const ba = mergeConversationState(b, a);
    expect(ab).toEqual(ba);
    expect(ab.holds).toEqual(hold);
    const back = parseConversationState(CID, encodeConversationState(ab));
    expect(back).toEqual(ab);
  });

  it('rejects a stored hold that does not validate', () => {
    const bad = {
      format: STATE_FORMAT,
      conversationId: CID,
      tags: null,
      exports: null,
      holds: { format: 'x' },
    };
    expect(isStateFailure(parseConversationState(CID, Buffer.from(JSON.stringify(bad))))).toBe(true);
  });
});
