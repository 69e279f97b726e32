/**
 * The emulator's simulation half: a pure, seeded generator of a simulated Genesys Cloud org and of
 * conversation scripts (see ../model.ts for the contract). No I/O, no timers, no wall clock, no
 * Math.random: every id and value comes from the Rng, every time from the arguments.
 *
 * Note for the platform half: a script's `events` already include the `v2.users.{id}.station` events for
 * its own `stationChanges`; call {@link stationEvents} only for changes made outside scripts.
 */
export type { Rng } from './rng.ts';
export { createRng } from './rng.ts';
export { createOrg } from './org.ts';
export { buildConversation } from './conversation.ts';
export { parseScenario, scriptsFromScenario } from './scenario.ts';
export { randomConversations } from './random-traffic.ts';
export { stationEvents } from './station-events.ts';
