/**
 * Object keys of the "AWS S3 recording bulk actions" integration (research genesys.md §1.2–1.3):
 * `{orgId}/year={Y}/month={M}/day={D}/hour={H}/conversation_id={conversationId}/{recordingId}.opus` and a
 * sibling `{recordingId}.opus_metadata.json`. Y/M/D/H are the conversation's start in UTC; the month is
 * not zero-padded (3P-observed). Day/hour padding is UNCONFIRMED: unpadded by default, `padDayHour`
 * switches to two digits.
 */

export interface ExportKeys {
  /** The conversation folder, ending in `/`. */
  readonly prefix: string;
  readonly audioKey: string;
  readonly metadataKey: string;
}

export interface LayoutOptions {
  /** Zero-pad day and hour (`day=05/hour=07`); default false (`day=5/hour=7`). */
  readonly padDayHour?: boolean;
}

/** Keys for one recording of a conversation that started at `conversationStartMs` (epoch ms). */
export function exportKeys(
  orgId: string,
  conversationStartMs: number,
  conversationId: string,
  recordingId: string,
  opts: LayoutOptions = {},
): ExportKeys {
  const d = new Date(conversationStartMs);
  const pad = (n: number): string => (opts.padDayHour ? String(n).padStart(2, '0') : String(n));
  const prefix =
    `${orgId}/year=${d.getUTCFullYear()}/month=${d.getUTCMonth() + 1}/day=${pad(d.getUTCDate())}` +
    `/hour=${pad(d.getUTCHours())}/conversation_id=${conversationId}/`;
  const audioKey = `${prefix}${recordingId}.opus`;
  return { prefix, audioKey, metadataKey: `${audioKey}_metadata.json` };
}
