/**
 * The mutable retention state the platform keeps per recording — export/exported, delete and archive
 * dates — and per conversation (deletion protection). Scripts are immutable, so everything that REST
 * calls and bulk jobs change lives here, shared by the conversations, recording-jobs and exports modules
 * through {@link recordingLedger}.
 */
import type { ConversationScript, SimOrg, SimRecording } from '../model.ts';
import type { PlatformContext } from './context.ts';

/** Retention dates of one recording, epoch ms of simulated time. */
export interface RecordingRetention {
  /** When the recording will be (or was due to be) exported; undefined when no export is pending. */
  readonly exportDate?: number;
  /** When the export was written. */
  readonly exportedDate?: number;
  readonly deleteDate?: number;
  readonly archiveDate?: number;
}

/** Called when a bulk job (re)schedules or clears a recording's export. */
export type ExportScheduleListener = (recordingId: string, exportDate: number | undefined) => void;

export interface RecordingLedger {
  /** Effective retention of a recording: a job's explicit export date wins over the retention policy. */
  retention(recording: SimRecording): RecordingRetention;
  /** Sets (or with `undefined`, clears) the export date, as an EXPORT job or `clearExport` does. */
  setExportDate(recordingId: string, at: number | undefined): void;
  markExported(recordingId: string, at: number): void;
  setDeleteDate(recordingId: string, at: number): void;
  setArchiveDate(recordingId: string, at: number): void;
  /** Registers a listener for explicit export-date changes; returns an unsubscribe function. */
  onExportScheduled(listener: ExportScheduleListener): () => void;
  setProtected(conversationId: string, protect: boolean): void;
  isProtected(conversationId: string): boolean;
}

interface MutableRetention {
  /** 'cleared' = a job removed the pending export, so the policy must not re-add it. */
  explicitExport?: number | 'cleared';
  exportedDate?: number;
  deleteDate?: number;
  archiveDate?: number;
}

// Keyed by the org object: the platform creates one org per emulator and passes it in every context.
const ledgers = new WeakMap<SimOrg, RecordingLedger>();

/** The ledger of the emulator that `ctx` belongs to (created on first use). */
export function recordingLedger(ctx: PlatformContext): RecordingLedger {
  let ledger = ledgers.get(ctx.org);
  if (!ledger) {
    ledger = createLedger(ctx);
    ledgers.set(ctx.org, ledger);
  }
  return ledger;
}

/** When the media retention policy exports this recording (undefined without a policy). */
export function policyExportDate(
  script: Pick<ConversationScript, 'endTime'>,
  exportAfterMinutes: number | undefined,
): number | undefined {
  if (exportAfterMinutes === undefined || !Number.isFinite(exportAfterMinutes) || exportAfterMinutes < 0) {
    return undefined;
  }
  return script.endTime + exportAfterMinutes * 60_000;
}

function createLedger(ctx: PlatformContext): RecordingLedger {
  const state = new Map<string, MutableRetention>();
  const protectedConversations = new Set<string>();
  const listeners = new Set<ExportScheduleListener>();
  const entry = (recordingId: string): MutableRetention => {
    let e = state.get(recordingId);
    if (!e) {
      e = {};
      state.set(recordingId, e);
    }
    return e;
  };
  return {
    retention(recording) {
      const e = state.get(recording.recordingId) ?? {};
      let exportDate: number | undefined;
      if (typeof e.explicitExport === 'number') exportDate = e.explicitExport;
      else if (e.explicitExport === undefined) {
        const script = ctx.conversations.get(recording.conversationId);
        exportDate = script ? policyExportDate(script, ctx.exportAfterMinutes) : undefined;
      }
      return {
        exportDate,
        exportedDate: e.exportedDate,
        deleteDate: e.deleteDate,
        archiveDate: e.archiveDate,
      };
    },
    setExportDate(recordingId, at) {
      entry(recordingId).explicitExport = at ?? 'cleared';
      for (const listener of listeners) listener(recordingId, at);
    },
    markExported(recordingId, at) {
      entry(recordingId).exportedDate = at;
    },
    setDeleteDate(recordingId, at) {
      entry(recordingId).deleteDate = at;
    },
    setArchiveDate(recordingId, at) {
      entry(recordingId).archiveDate = at;
    },
    onExportScheduled(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    setProtected(conversationId, protect) {
      if (protect) protectedConversations.add(conversationId);
      else protectedConversations.delete(conversationId);
    },
    isProtected: (conversationId) => protectedConversations.has(conversationId),
  };
}
