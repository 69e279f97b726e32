import { describe, expect, it } from 'vitest';
import { conversationPartition } from '../../../src/kafka/partitioning.ts';
import { validateLegalHold } from '../../../src/sink/sink-records.ts';

const CID = '0f1e2d3c-4b5a-4968-8776-655443322110';
const event = {
  action: 'hold',
  conversationId: CID,
  matterId: 'M-1',
  reason: null,
  requestedBy: 'jane',
  requestedAtMs: 1_770_000_000_000,
  requestId: 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee',
  instance: 'ops',
  version: '0.1.0',
  genesysDeletionProtection: null,
};
const home = conversationPartition(CID, 6);

describe('validateLegalHold', () => {
  it('accepts an event keyed {conversationId}/{matterId} in its conversation partition', () => {
    expect(validateLegalHold(`${CID}/M-1`, event, home, 6)).toMatchObject({
      rejected: false,
      kind: 'legal-hold',
      conversationId: CID,
    });
  });

  it('rejects another partition, another key, and fields out of bounds, without quoting them', () => {
    expect(validateLegalHold(`${CID}/M-1`, event, (home + 1) % 6, 6)).toEqual({
      rejected: true,
      code: 'CUSTODY_SINK_INVALID_HOLD',
      reason: `legal-hold event is in partition ${(home + 1) % 6}, not its conversation's partition ${home}`,
    });
    expect(validateLegalHold(CID, event, home, 6)).toMatchObject({ code: 'CUSTODY_SINK_BAD_KEY' });
    const bad = validateLegalHold(`${CID}/x y`, { ...event, matterId: 'x y' }, home, 6);
    expect(bad).toMatchObject({ code: 'CUSTODY_SINK_INVALID_HOLD' });
    expect(JSON.stringify(bad)).not.toContain('x y');
    expect(validateLegalHold(`${CID}/M-1`, { ...event, reason: 'r'.repeat(1025) }, home, 6)).toMatchObject({
      code: 'CUSTODY_SINK_INVALID_HOLD',
    });
  });
});
