import { describe, expect, it } from 'vitest';
import { capturedSnapshots } from '../../../dev/captured-snapshots.ts';
import { createOrg, createRng, randomConversations } from '../../../dev/emulator/simulation/index.ts';
import { packSnapshot, unpackSnapshot } from '../../../src/ingest/packed-snapshots.ts';

const T0 = Date.parse('2026-03-02T08:00:00Z');

describe('packed snapshots', () => {
  const org = createOrg(createRng(3), { users: 12 });
  const snapshots = [
    ...capturedSnapshots(org, randomConversations(org, createRng(3), T0, T0 + 3_600_000, 3)).values(),
  ];

  it('unpack gives back exactly the snapshot that was packed, for calls of every shape', () => {
    expect(snapshots.length).toBeGreaterThan(20);
    expect(new Set(snapshots.map((s) => s.legs.length)).size).toBeGreaterThan(1);
    for (const s of snapshots) expect(unpackSnapshot(packSnapshot(s))).toStrictEqual(s);
  });

  it('shares equal tag sources between the unpacked tags, as merges do', () => {
    let shared = 0;
    for (const s of snapshots) {
      const u = unpackSnapshot(packSnapshot(s));
      const byKey = new Map<string, object>();
      for (const leg of u.legs)
        for (const tag of Object.values(leg)) {
          if (tag === null || typeof tag !== 'object' || !('source' in tag)) continue;
          const key = JSON.stringify(tag.source);
          const first = byKey.get(key);
          if (first === undefined) byKey.set(key, tag.source);
          else {
            expect(tag.source).toBe(first);
            shared++;
          }
        }
    }
    expect(shared).toBeGreaterThan(100);
  });

  it('is several times smaller than the snapshot as JSON', () => {
    const packed = snapshots.reduce((n, s) => n + packSnapshot(s).byteLength, 0);
    const json = snapshots.reduce((n, s) => n + Buffer.byteLength(JSON.stringify(s)), 0);
    expect(packed * 5).toBeLessThan(json);
  });

  it('refuses bytes that are not a packed snapshot', () => {
    expect(() => unpackSnapshot(Buffer.from('not deflate'))).toThrow();
  });
});
