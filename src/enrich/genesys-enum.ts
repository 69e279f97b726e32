/**
 * Genesys enum values (mediaType, direction, state, purpose, disconnectType, segmentType, stationType, ...) arrive
 * in whatever case the producing service uses: detail events send `VOICE`/`INBOUND`, conversation events
 * `voice`/`inbound`, analytics `voice`/`inbound`. custody keeps the value exactly as sent (it is evidence) and
 * compares it case-insensitively, here and nowhere else.
 */

/** Whether a Genesys enum value equals `expected`, ignoring case; `undefined`/`null` never equals. */
export function isGenesysEnum(value: string | null | undefined, expected: string): boolean {
  return typeof value === 'string' && value.toLowerCase() === expected.toLowerCase();
}

/** Whether a Genesys enum value is one of `expected`, ignoring case. */
export function isAnyGenesysEnum(value: string | null | undefined, expected: readonly string[]): boolean {
  return expected.some((e) => isGenesysEnum(value, e));
}
