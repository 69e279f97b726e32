/**
 * The audit of a recording's evidence as opposing counsel would do it (`custody verify`, and the tests' bucket
 * auditor): from what the bucket holds now — the export objects' current versions and their hashes, every version
 * of the manifest, and the Object Lock legal holds — with the public keys only. Pure: the shell lists and reads
 * S3 and hands the facts over; this module decides what is wrong and summarises a whole run.
 *
 * A recording fails when any finding is reported. An incomplete manifest is not a failure when it says why
 * (the schema requires a reason for every missing field); it is counted as incomplete.
 */
import type { KeyObject } from 'node:crypto';
import type { SealedManifest } from './integrity.ts';
import { verifyAgainstObjects, verifyManifest } from './verify.ts';

/** What a finding is about; stable names, used in the JSON and HTML reports. */
export type FindingCheck =
  | 'manifest-missing'
  | 'manifest-deleted'
  | 'manifest-invalid'
  | 'chain'
  | 'fork'
  | 'audio-sha256'
  | 'metadata-sha256'
  | 'object-missing'
  | 'object-version'
  | 'legal-hold'
  | 'recording-mismatch';

/** One thing that failed, with the object key (and version) it concerns. */
export type Finding = Readonly<{ key: string; check: FindingCheck; detail: string }>;

/** A legal hold as read from S3: `unknown` when it could not be read (the reason is in `holdError`). */
export type HoldState = 'ON' | 'OFF' | 'unknown';

/** One stored version of the manifest key. */
export type ManifestVersionFact = Readonly<{
  versionId: string;
  bytes: Uint8Array;
  /** Read only when {@link holdTargets} asked for it. */
  legalHold?: HoldState;
}>;

/** The current version of an export object (audio or metadata) as read now. */
export type ExportObjectFact =
  | Readonly<{
      state: 'present';
      key: string;
      versionId: string | null;
      sha256?: string;
      legalHold?: HoldState;
    }>
  | Readonly<{ state: 'deleted'; key: string }>;

/** Everything the shell found about one recording. */
export type RecordingFacts = Readonly<{
  manifestKey: string;
  conversationId: string;
  recordingId: string;
  /** Start of the conversation's hour (from the export layout), `YYYY-MM-DDTHH:00:00.000Z`. */
  partitionHour: string;
  audio?: ExportObjectFact;
  metadata?: ExportObjectFact;
  manifestVersions: readonly ManifestVersionFact[];
  /** The manifest key's newest entry is a delete marker. */
  manifestDeleted: boolean;
  /** When the export was last written (the newest LastModified of its audio and metadata), epoch ms. */
  exportedAt?: number;
}>;

export type AuditOptions = Readonly<{
  publicKeys: ReadonlyMap<string, KeyObject>;
  /** Every manifest version must carry a legal hold (CUSTODY_MANIFEST_LEGAL_HOLD). */
  expectManifestHold: boolean;
  /** The bucket has Object Lock; without it no hold can exist and holds are not read. */
  objectLock: boolean;
  /**
   * The published JSON Schema (schemas/manifest.v1.schema.json), compiled by the shell: problems of a parsed
   * manifest, empty when valid. Checked in addition to the runtime schema of verifyManifest.
   */
  jsonSchema?: (value: unknown) => readonly string[];
  /**
   * A recording without a manifest whose export was written after this instant (epoch ms) is `pending`, not a
   * finding: the sink has not had the time to write it (`custody verify --pending-grace`). Unset: none is.
   */
  pendingAfter?: number;
}>;

/** The audit of one recording. */
export type RecordingAudit = Readonly<{
  manifestKey: string;
  conversationId: string;
  recordingId: string;
  partitionHour: string;
  /**
   * `missing`: no manifest at all; `pending`: none yet, for an export more recent than `pendingAfter`; `failed`: at
   * least one finding; `verified`: none.
   */
  status: 'verified' | 'failed' | 'missing' | 'pending';
  /** The newest valid manifest's completeness; null without one. */
  completeness: 'complete' | 'incomplete' | null;
  missing: ReadonlyArray<Readonly<{ field: string; reason: string }>>;
  legalHold: 'none' | 'on' | 'released' | null;
  versions: number;
  forked: boolean;
  findings: readonly Finding[];
  newest: SealedManifest | null;
}>;

function peekManifest(
  bytes: Uint8Array,
): { version: number; hold: string | undefined; recordingId: unknown } | undefined {
  try {
    const v = JSON.parse(Buffer.from(bytes).toString('utf8')) as {
      manifest_version?: unknown;
      legal_hold_status?: { status?: unknown };
      recording_id?: unknown;
    };
    const hold = v.legal_hold_status?.status;
    return {
      version: typeof v.manifest_version === 'number' ? v.manifest_version : Number.NaN,
      hold: typeof hold === 'string' ? hold : undefined,
      recordingId: v.recording_id,
    };
  } catch {
    return undefined;
  }
}

/** The manifest versions ordered by their own `manifest_version` (S3 times have one-second resolution). */
function ordered(versions: readonly ManifestVersionFact[]) {
  return versions
    .map((v) => ({ ...v, n: peekManifest(v.bytes)?.version ?? Number.NaN }))
    .sort((a, b) => (Number.isNaN(a.n) ? 1 : Number.isNaN(b.n) ? -1 : a.n - b.n));
}

/**
 * Which legal holds the audit needs read, given the manifest versions: every manifest version when
 * `expectManifestHold`; and when the newest manifest says the hold is on, the current audio and metadata too.
 */
export function holdTargets(
  manifestVersions: readonly ManifestVersionFact[],
  opts: Pick<AuditOptions, 'expectManifestHold' | 'objectLock'>,
): Readonly<{ manifestVersions: boolean; exportObjects: boolean }> {
  if (!opts.objectLock) return { manifestVersions: false, exportObjects: false };
  const newest = ordered(manifestVersions).at(-1);
  const on = newest !== undefined && peekManifest(newest.bytes)?.hold === 'on';
  return { manifestVersions: opts.expectManifestHold || on, exportObjects: on };
}

/** Audits one recording. Never throws. */
export function auditRecording(facts: RecordingFacts, opts: AuditOptions): RecordingAudit {
  const findings: Finding[] = [];
  const base = {
    manifestKey: facts.manifestKey,
    conversationId: facts.conversationId,
    recordingId: facts.recordingId,
    partitionHour: facts.partitionHour,
  };
  if (facts.manifestVersions.length === 0) {
    const pending =
      !facts.manifestDeleted &&
      opts.pendingAfter !== undefined &&
      facts.exportedAt !== undefined &&
      facts.exportedAt > opts.pendingAfter;
    if (!pending)
      findings.push(
        facts.manifestDeleted
          ? { key: facts.manifestKey, check: 'manifest-deleted', detail: 'every manifest version is deleted' }
          : {
              key: facts.manifestKey,
              check: 'manifest-missing',
              detail: `no manifest for recording ${facts.recordingId}`,
            },
      );
    return {
      ...base,
      status: pending ? 'pending' : 'missing',
      completeness: null,
      missing: [],
      legalHold: null,
      versions: 0,
      forked: false,
      findings,
      newest: null,
    };
  }
  if (facts.manifestDeleted)
    findings.push({
      key: facts.manifestKey,
      check: 'manifest-deleted',
      detail: 'the newest entry of the manifest key is a delete marker: the manifest was deleted',
    });

  const chain = ordered(facts.manifestVersions);
  let forked = false;
  const numbers = chain.map((v) => v.n);
  if (new Set(numbers).size !== numbers.length) {
    forked = true;
    findings.push({
      key: facts.manifestKey,
      check: 'fork',
      detail: 'two versions carry the same manifest_version (the chain forks)',
    });
  }
  const first = chain[0];
  if (first !== undefined && first.n !== 1) {
    forked = true;
    findings.push({
      key: `${facts.manifestKey}@${first.versionId}`,
      check: 'chain',
      detail: `the chain starts at version ${Number.isNaN(first.n) ? '(unreadable)' : first.n}, not 1`,
    });
  }

  let previous: Uint8Array | undefined;
  let newest: SealedManifest | null = null;
  for (const v of chain) {
    const report = verifyManifest(v.bytes, opts.publicKeys, previous === undefined ? {} : { previous });
    const at = `${facts.manifestKey}@${v.versionId}`;
    for (const c of report.checks.filter((x) => !x.ok)) {
      if (c.name === 'chain') forked = true;
      findings.push({
        key: at,
        check: c.name === 'chain' ? 'chain' : 'manifest-invalid',
        detail: `${c.name}: ${c.detail}`,
      });
    }
    let valid = report.ok;
    if (report.manifest && opts.jsonSchema) {
      const problems = opts.jsonSchema(report.manifest);
      if (problems.length > 0) {
        valid = false;
        findings.push({
          key: at,
          check: 'manifest-invalid',
          detail: `json-schema: ${problems.join('; ')}`,
        });
      }
    }
    if (report.manifest && report.manifest.recording_id !== facts.recordingId.toLowerCase())
      findings.push({
        key: at,
        check: 'recording-mismatch',
        detail: `the manifest is for recording ${report.manifest.recording_id}, its key for ${facts.recordingId}`,
      });
    previous = v.bytes;
    // The state the audit trusts is the last version that verifies; a later invalid one is a finding.
    if (valid) newest = report.manifest;
  }

  if (newest !== null) findings.push(...objectFindings(newest, facts));
  findings.push(...holdFindings(chain, newest, facts, opts));

  return {
    ...base,
    status: findings.length === 0 ? 'verified' : 'failed',
    completeness: newest?.completeness.status ?? null,
    missing: newest?.completeness.missing ?? [],
    legalHold: newest?.legal_hold_status.status ?? null,
    versions: chain.length,
    forked,
    findings,
    newest,
  };
}

/** The newest manifest's hashes and versions against the export objects as they are now. */
function objectFindings(m: SealedManifest, facts: RecordingFacts): Finding[] {
  const out: Finding[] = [];
  const compare = (
    role: 'audio' | 'metadata',
    recorded: Readonly<{ sha256: string | null; versionId: string | null; key: string }> | null,
    now: ExportObjectFact | undefined,
  ) => {
    if (recorded === null) return;
    if (now === undefined || now.state === 'deleted') {
      out.push({
        key: recorded.key,
        check: 'object-missing',
        detail: `the ${role} object the manifest describes is ${now === undefined ? 'not in the bucket' : 'deleted (delete marker)'}`,
      });
      return;
    }
    // A new version with the same bytes (an export written twice) changes nothing the manifest vouches for.
    const sameBytes = now.sha256 === undefined || now.sha256 === recorded.sha256;
    if (
      !sameBytes &&
      recorded.versionId !== null &&
      now.versionId !== null &&
      recorded.versionId !== now.versionId
    )
      out.push({
        key: now.key,
        check: 'object-version',
        detail: `the ${role} key now holds version ${now.versionId}; the manifest describes version ${recorded.versionId}`,
      });
  };
  compare(
    'audio',
    m.audio ? { sha256: m.audio.sha256, versionId: m.audio.s3.version_id, key: m.audio.s3.key } : null,
    facts.audio,
  );
  const g = m.genesys_metadata;
  compare(
    'metadata',
    g.s3 ? { sha256: g.sha256, versionId: g.s3.version_id, key: g.s3.key } : null,
    facts.metadata,
  );
  const sha = (f: ExportObjectFact | undefined) => (f?.state === 'present' ? f.sha256 : undefined);
  const hashes = verifyAgainstObjects(m, {
    audioSha256: m.audio ? sha(facts.audio) : undefined,
    metadataSha256: g.sha256 ? sha(facts.metadata) : undefined,
  });
  for (const c of hashes.checks.filter((x) => !x.ok)) {
    const key = (c.name === 'audio-sha256' ? facts.audio?.key : facts.metadata?.key) ?? facts.manifestKey;
    out.push({
      key,
      check: c.name === 'audio-sha256' ? 'audio-sha256' : 'metadata-sha256',
      detail: c.detail,
    });
  }
  return out;
}

function holdFindings(
  chain: ReadonlyArray<ManifestVersionFact & { n: number }>,
  newest: SealedManifest | null,
  facts: RecordingFacts,
  opts: AuditOptions,
): Finding[] {
  const out: Finding[] = [];
  const on = newest?.legal_hold_status.status === 'on';
  if (!opts.objectLock) {
    if (on)
      out.push({
        key: facts.manifestKey,
        check: 'legal-hold',
        detail: `the manifest says legal hold is on (matter ${newest?.legal_hold_status.matter ?? '?'}) but the bucket has no Object Lock`,
      });
    return out;
  }
  const why = on
    ? `the manifest says legal hold is on (matter ${newest?.legal_hold_status.matter ?? '?'})`
    : 'every manifest version is held (CUSTODY_MANIFEST_LEGAL_HOLD)';
  if (on || opts.expectManifestHold) {
    for (const v of chain) {
      if (v.legalHold === 'ON') continue;
      out.push({
        key: `${facts.manifestKey}@${v.versionId}`,
        check: 'legal-hold',
        detail: `${v.legalHold === 'unknown' ? 'its legal hold cannot be read' : 'no legal hold on this manifest version'}; ${why}`,
      });
    }
  }
  if (on) {
    for (const [role, f] of [
      ['audio', facts.audio],
      ['metadata', facts.metadata],
    ] as const) {
      if (f?.state !== 'present' || f.legalHold === 'ON') continue;
      out.push({
        key: f.versionId ? `${f.key}@${f.versionId}` : f.key,
        check: 'legal-hold',
        detail: `${f.legalHold === 'unknown' ? `the ${role} object's legal hold cannot be read` : `no legal hold on the ${role} object`}; ${why}`,
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The summary of a run

/** Counts of a period (or of the whole run). */
export type AuditCounts = {
  recordings: number;
  verified: number;
  failed: number;
  missingManifest: number;
  /** Without a manifest yet, exported within the pending grace: neither verified nor failed. */
  pending: number;
  complete: number;
  incomplete: number;
};

export type FindingRow = Finding & Readonly<{ conversationId: string; recordingId: string }>;

/** A recording whose newest manifest is incomplete: which, and each field it still lacks with why. */
export type IncompleteRow = Readonly<{
  manifestKey: string;
  conversationId: string;
  recordingId: string;
  missing: readonly string[];
}>;

/** The report of a run: what `--json` prints and the HTML report shows. */
export type VerifyReport = Readonly<{
  tool: 'custody verify';
  version: string;
  generatedAt: string;
  scope: Readonly<{
    bucket: string;
    prefix: string;
    manifestBucket: string;
    manifestPrefix: string;
    from: string | null;
    to: string | null;
    conversations: readonly string[] | null;
    publicKeyIds: readonly string[];
    objectLock: boolean;
    expectManifestHold: boolean;
    /** `--pending-grace`: exports this recent without a manifest are pending; null: strict. */
    pendingGraceMinutes: number | null;
  }>;
  ok: boolean;
  counts: AuditCounts & Readonly<{ manifestVersions: number; findings: number; forkedChains: number }>;
  /** Completeness by day of the conversations' start (UTC), oldest first. */
  byDay: ReadonlyArray<AuditCounts & Readonly<{ day: string }>>;
  /** Why manifests are incomplete: `field: reason` → recordings. */
  incompleteReasons: Readonly<Record<string, number>>;
  /** Each recording whose newest manifest is incomplete, by manifest key: what to follow up (e.g. by a backfill). */
  incomplete: readonly IncompleteRow[];
  findingsByCheck: Readonly<Partial<Record<FindingCheck, number>>>;
  findings: readonly FindingRow[];
}>;

const zero = (): AuditCounts => ({
  recordings: 0,
  verified: 0,
  failed: 0,
  missingManifest: 0,
  pending: 0,
  complete: 0,
  incomplete: 0,
});

function count(c: AuditCounts, a: RecordingAudit): void {
  c.recordings++;
  if (a.status === 'verified') c.verified++;
  else if (a.status === 'pending') c.pending++;
  else c.failed++;
  if (a.status === 'missing') c.missingManifest++;
  if (a.completeness === 'complete') c.complete++;
  if (a.completeness === 'incomplete') c.incomplete++;
}

/** Accumulates recording audits (in any order) into a {@link VerifyReport}; memory grows with findings only. */
export class AuditSummary {
  readonly #total = zero();
  readonly #days = new Map<string, AuditCounts>();
  readonly #reasons = new Map<string, number>();
  readonly #findings: FindingRow[] = [];
  readonly #incomplete: IncompleteRow[] = [];
  #versions = 0;
  #forked = 0;

  add(a: RecordingAudit): void {
    count(this.#total, a);
    const day = a.partitionHour.slice(0, 10);
    const d = this.#days.get(day) ?? zero();
    count(d, a);
    this.#days.set(day, d);
    this.#versions += a.versions;
    if (a.forked) this.#forked++;
    const missing = a.missing.map((m) => `${m.field}: ${m.reason}`);
    for (const k of missing) this.#reasons.set(k, (this.#reasons.get(k) ?? 0) + 1);
    if (a.completeness === 'incomplete') {
      const { manifestKey, conversationId, recordingId } = a;
      this.#incomplete.push({ manifestKey, conversationId, recordingId, missing });
    }
    for (const f of a.findings)
      this.#findings.push({ ...f, conversationId: a.conversationId, recordingId: a.recordingId });
  }

  get counts(): Readonly<AuditCounts> {
    return this.#total;
  }

  report(meta: Pick<VerifyReport, 'version' | 'generatedAt' | 'scope'>): VerifyReport {
    const findings = [...this.#findings].sort(
      (x, y) => x.key.localeCompare(y.key) || x.check.localeCompare(y.check),
    );
    const byCheck: Partial<Record<FindingCheck, number>> = {};
    for (const f of findings) byCheck[f.check] = (byCheck[f.check] ?? 0) + 1;
    return {
      tool: 'custody verify',
      ...meta,
      ok: findings.length === 0,
      counts: {
        ...this.#total,
        manifestVersions: this.#versions,
        findings: findings.length,
        forkedChains: this.#forked,
      },
      byDay: [...this.#days].sort(([a], [b]) => a.localeCompare(b)).map(([day, c]) => ({ day, ...c })),
      incompleteReasons: Object.fromEntries([...this.#reasons].sort((a, b) => b[1] - a[1])),
      incomplete: [...this.#incomplete].sort((x, y) => x.manifestKey.localeCompare(y.manifestKey)),
      findingsByCheck: byCheck,
      findings,
    };
  }
}
