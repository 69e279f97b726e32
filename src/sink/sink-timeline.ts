/**
 * The custody entries of one recording's manifest, from what the join state holds. Pure: every time comes from the
 * state (Genesys clocks in the tags, custody receive times, S3 LastModified, the stored hash times), never from a
 * clock read here, so any instance builds the same timeline from the same join state.
 */
import type {
  CustodyActor,
  CustodyEntry,
  CustodyEvidence,
  CustodyEventType,
} from '../enrich/custody-entry.ts';
import type { GeneratedBy } from '../enrich/manifest.ts';
import type { LegTags } from '../enrich/session-tags.ts';
import { LEG_TAG_FIELDS } from '../enrich/session-tags.ts';
import type { ExportedObject, ExportJobFacts } from '../kafka/avro-codec.ts';
import type {
  DetectedObject,
  KafkaPointer,
  ObjectHash,
  RecordingState,
  SessionTagsState,
} from './join-state.ts';
import { instantOfMs } from './manifest-inputs.ts';

/** What the timeline is built from. */
export type TimelineFacts = Readonly<{
  /** The conversation's session tags; each entry cites the Kafka record that carried what it states. */
  tags: SessionTagsState | undefined;
  recording: RecordingState;
  /** The hashes the manifest reports (null when the object was not read). */
  audioHash: ObjectHash | null;
  metadataHash: ObjectHash | null;
  /** `manifest_written` entries of the versions before the one being built. */
  previousWritten: readonly CustodyEntry[];
}>;

/**
 * The ingest process that captured a snapshot. Session-tags records do not (yet) say which ingest instance and
 * version wrote them, so the actor says so rather than guessing.
 */
const INGEST_ACTOR: CustodyActor = {
  kind: 'custody',
  component: 'custody-ingest',
  version: 'not-recorded',
  instance: 'not-recorded',
};
const GENESYS: CustodyActor = { kind: 'genesys' };
const S3: CustodyActor = { kind: 's3' };

/** The ingest that captured a record, as its headers name it; else the actor says it was not recorded. */
function ingestActor(pointer: KafkaPointer | null): CustodyActor {
  return pointer?.writer
    ? {
        kind: 'custody',
        component: 'custody-ingest',
        version: pointer.writer.version,
        instance: pointer.writer.instance,
      }
    : INGEST_ACTOR;
}

function kafka(pointer: KafkaPointer | null): CustodyEvidence | null {
  return pointer === null
    ? null
    : { kafka: { topic: pointer.topic, partition: pointer.partition, offset: pointer.offset } };
}

function s3Evidence(bucket: string, object: Pick<ExportedObject, 'key' | 'versionId'>): CustodyEvidence {
  return { s3: { bucket, key: object.key, version_id: object.versionId } };
}

function entry(
  event: CustodyEventType,
  ms: number,
  time_source: CustodyEntry['time_source'],
  actor: CustodyActor,
  evidence: CustodyEvidence | null,
  detail?: CustodyEntry['detail'],
): CustodyEntry | undefined {
  const at = instantOfMs(ms);
  if (at === undefined) return undefined;
  return detail === undefined
    ? { event, at, time_source, actor, evidence }
    : { event, at, time_source, actor, evidence, detail };
}

function legDetail(leg: LegTags): NonNullable<CustodyEntry['detail']> {
  return {
    participant_id: leg.participantId,
    communication_id: leg.communicationId?.value,
    user_id: leg.userId?.value,
  };
}

function legEntries(state: SessionTagsState): (CustodyEntry | undefined)[] {
  const out: (CustodyEntry | undefined)[] = [];
  for (const leg of state.snapshot.legs) {
    const captures = state.captures[leg.legKey] ?? { live: null, reconciled: null };
    const evidence = kafka(captures.live ?? captures.reconciled);
    const detail = legDetail(leg);
    if (leg.connectedTime !== null) {
      out.push(entry('leg_connected', leg.connectedTime.value, 'genesys', GENESYS, evidence, detail));
    }
    if (leg.disconnectedTime !== null) {
      out.push(entry('leg_disconnected', leg.disconnectedTime.value, 'genesys', GENESYS, evidence, detail));
    }
    for (const provenance of ['live', 'reconciled'] as const) {
      const fields = LEG_TAG_FIELDS.filter((f) => leg[f]?.provenance === provenance);
      const times = fields.map((f) => leg[f]?.firstCapturedAt ?? Number.POSITIVE_INFINITY);
      if (fields.length === 0) continue;
      out.push(
        entry(
          provenance === 'live' ? 'session_tags_captured' : 'session_tags_reconciled',
          Math.min(...times),
          'custody-receive',
          ingestActor(provenance === 'live' ? captures.live : captures.reconciled),
          kafka(provenance === 'live' ? captures.live : captures.reconciled),
          { ...detail, fields: [...fields].sort() },
        ),
      );
    }
  }
  return out;
}

/**
 * Conversation start/end as the Genesys clock shows them in the captured legs: the first leg connected and, once
 * every leg has disconnected, the last leg disconnected (`detail.fields` names the leg field each is taken from).
 * The evidence is the session-tags record that first carried that leg.
 */
function conversationEntries(state: SessionTagsState): (CustodyEntry | undefined)[] {
  const legs = state.snapshot.legs;
  const evidenceOf = (leg: LegTags): CustodyEvidence | null => {
    const captures = state.captures[leg.legKey];
    return kafka(captures?.live ?? captures?.reconciled ?? null);
  };
  const pick = (time: 'connectedTime' | 'disconnectedTime', better: (a: number, b: number) => boolean) => {
    let best: LegTags | undefined;
    for (const leg of legs) {
      const t = leg[time]?.value;
      if (t === undefined) continue;
      const b = best?.[time]?.value;
      if (b === undefined || better(t, b)) best = leg;
    }
    return best;
  };
  const out: (CustodyEntry | undefined)[] = [];
  const first = pick('connectedTime', (a, b) => a < b);
  if (first?.connectedTime) {
    out.push(
      entry('conversation_started', first.connectedTime.value, 'genesys', GENESYS, evidenceOf(first), {
        fields: ['connectedTime'],
      }),
    );
  }
  const last = pick('disconnectedTime', (a, b) => a > b);
  if (legs.length > 0 && legs.every((l) => l.disconnectedTime !== null) && last?.disconnectedTime) {
    out.push(
      entry('conversation_ended', last.disconnectedTime.value, 'genesys', GENESYS, evidenceOf(last), {
        fields: ['disconnectedTime'],
      }),
    );
  }
  return out;
}

const JOB_EVENTS: Readonly<Record<string, CustodyEventType>> = {
  PROCESSING: 'export_job_executed',
  FULFILLED: 'export_job_fulfilled',
};

/**
 * The job's state changes as custody observed them (custody's clock, `custody-process`). The actor is the Genesys
 * job and its creator (`user_id`: the job's `user.id`, with client credentials the OAuth client custody ran it
 * with): the job facts may reach the sink through any custody process (the runner, or the watcher that attached
 * them from the job ledger), so the detector of the export is not who created or executed the job.
 */
function jobEntries(job: ExportJobFacts, detector: DetectedObject | null): (CustodyEntry | undefined)[] {
  if (detector === null) return [];
  const actor: CustodyActor =
    job.createdBy === null
      ? { kind: 'genesys', job_id: job.jobId }
      : { kind: 'genesys', job_id: job.jobId, user_id: job.createdBy };
  return job.states.map((s, i) => {
    // The first state observed is the job's creation as custody saw it; PROCESSING after it is the execution.
    const event = i === 0 ? 'export_job_created' : JOB_EVENTS[s.state];
    if (event === undefined) return undefined;
    return entry(event, s.observedAtMs, 'custody-process', actor, null, {
      job_id: job.jobId,
      job_state: s.state,
    });
  });
}

function objectEntries(
  bucket: string,
  detected: DetectedObject | null,
  hash: ObjectHash | null,
  created: 'audio_object_created' | 'metadata_object_created',
  hashed: 'audio_hashed' | 'metadata_hashed',
): (CustodyEntry | undefined)[] {
  if (detected === null) return [];
  const o = detected.object;
  const out = [
    entry(created, o.lastModifiedMs, 's3-last-modified', S3, s3Evidence(bucket, o), { size: o.size }),
    entry(
      'export_detected',
      detected.detectedAtMs,
      'custody-receive',
      {
        kind: 'custody',
        component: `custody-exports`,
        version: detected.detectorVersion,
        instance: detected.detectorInstance,
      },
      kafka(detected.source),
    ),
  ];
  if (hash !== null) {
    out.push(
      entry(
        hashed,
        hash.hashedAtMs,
        'custody-process',
        { kind: 'custody', component: 'custody-sink', version: hash.version, instance: hash.instance },
        s3Evidence(bucket, o),
        { sha256: hash.sha256, size: hash.size },
      ),
    );
  }
  return out;
}

/** Every custody entry of the recording (unordered; `buildCustodyTimeline` validates, orders and de-duplicates). */
export function custodyEntries(facts: TimelineFacts): CustodyEntry[] {
  const rec = facts.recording;
  const all: (CustodyEntry | undefined)[] = [];
  if (facts.tags !== undefined) {
    all.push(...legEntries(facts.tags));
    all.push(...conversationEntries(facts.tags));
  }
  if (rec.job !== null) all.push(...jobEntries(rec.job, rec.audio ?? rec.metadata));
  all.push(...objectEntries(rec.bucket, rec.audio, facts.audioHash, 'audio_object_created', 'audio_hashed'));
  all.push(
    ...objectEntries(
      rec.bucket,
      rec.metadata,
      facts.metadataHash,
      'metadata_object_created',
      'metadata_hashed',
    ),
  );
  all.push(...facts.previousWritten);
  return all.filter((e): e is CustodyEntry => e !== undefined);
}

/** The `manifest_written` entry of a manifest version, timed by its S3 LastModified. */
export function manifestWrittenEntry(
  written: Readonly<{
    bucket: string;
    key: string;
    versionId: string | null;
    lastModifiedMs: number;
    manifestVersion: number;
    manifestSha256: string;
    generatedBy: GeneratedBy;
  }>,
): CustodyEntry | undefined {
  return entry(
    'manifest_written',
    written.lastModifiedMs,
    's3-last-modified',
    { kind: 'custody', ...written.generatedBy },
    { s3: { bucket: written.bucket, key: written.key, version_id: written.versionId } },
    { manifest_version: written.manifestVersion, manifest_sha256: written.manifestSha256 },
  );
}
