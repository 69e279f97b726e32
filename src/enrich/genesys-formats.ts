/**
 * The text formats of Genesys ids and instants, shared by the body schemas (genesys-event-bodies.ts, the
 * specification) and the hand-written guards that run on the hot path. Kept apart from the schemas so that the
 * snapshot worker, which runs only the guards, does not load zod (4–5 MiB less RSS for the worker's start).
 */

/** A Genesys id: a UUID in 8-4-4-4-12 hex form, any case. */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An ISO-8601 instant as Genesys sends it ("2022-07-04T20:04:12.131Z"). */
export const ISO_INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
