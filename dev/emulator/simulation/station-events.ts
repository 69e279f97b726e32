/**
 * `v2.users.{id}.station` events. The body carries only `associatedStation {id, name, associatedUser}`
 * (no type: consumers resolve it via REST). On logout the emulator sends an empty body `{}`
 * (UNCONFIRMED: the real body when a user leaves a station was not found).
 */
import type { ScriptedEvent, SimOrg, StationChange } from '../model.ts';

/** One station event per change, in time order (stable for equal times). */
export function stationEvents(org: SimOrg, changes: readonly StationChange[]): ScriptedEvent[] {
  const sorted = changes.map((c, i) => ({ c, i })).sort((x, y) => x.c.at - y.c.at || x.i - y.i);
  return sorted.map(({ c }) => {
    if (!org.users.some((u) => u.id === c.userId)) throw new Error(`stationEvents: unknown user ${c.userId}`);
    const topicName = `v2.users.${c.userId}.station`;
    if (c.stationId === undefined) return { at: c.at, topicName, eventBody: {} };
    const station = org.stations.find((s) => s.id === c.stationId);
    if (station === undefined) throw new Error(`stationEvents: unknown station ${c.stationId}`);
    return {
      at: c.at,
      topicName,
      eventBody: {
        associatedStation: { id: station.id, name: station.name, associatedUser: { id: c.userId } },
      },
    };
  });
}

/** The user a station event built by {@link stationEvents} logs out of every station, if it is a logout. */
export function stationLogoutUser(ev: Pick<ScriptedEvent, 'topicName' | 'eventBody'>): string | undefined {
  const m = /^v2\.users\.([^.]+)\.station$/.exec(ev.topicName);
  if (m === null) return undefined;
  const body = ev.eventBody as { associatedStation?: unknown } | undefined;
  return body?.associatedStation === undefined ? m[1] : undefined;
}
