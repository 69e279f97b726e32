/**
 * What `custody doctor` expects, and the pure decisions over what it found: the Genesys permissions custody
 * needs, the topic settings of the topic contract (src/kafka/topics.ts), and clock skew. No I/O here; the shell
 * (doctor.ts) asks the systems and hands the answers over.
 */
import { TOPIC_SPECS } from '../kafka/topics.ts';
import type { TopicRole } from '../kafka/topics.ts';

/** One line of the doctor's output. */
export type DoctorCheck = Readonly<{
  name: string;
  ok: boolean;
  detail: string;
  /** What to do when it failed. */
  fix?: string;
}>;

/**
 * The Genesys permissions custody's calls need, with the role and call needing each. `confirmed: false` marks
 * permissions inferred from the API's domain (Genesys documents them per endpoint; UNCONFIRMED until checked
 * against a real org). `custody hold` will add recording:deletionProtection:apply/revoke when it exists.
 */
export const REQUIRED_PERMISSIONS: ReadonlyArray<
  Readonly<{ permission: string; role: string; call: string; confirmed: boolean }>
> = [
  {
    permission: 'analytics:conversationDetail:view',
    role: 'ingest',
    call: 'POST /api/v2/analytics/conversations/details/query (gap repair)',
    confirmed: true,
  },
  {
    permission: 'conversation:communication:view',
    role: 'ingest',
    call: 'GET /api/v2/conversations/calls/{id} (gap repair)',
    confirmed: false,
  },
  { permission: 'directory:user:view', role: 'ingest', call: 'GET /api/v2/users', confirmed: false },
  {
    permission: 'telephony:station:view',
    role: 'ingest',
    call: 'GET /api/v2/stations, GET /api/v2/stations/{id}, GET /api/v2/users/{id}/station',
    confirmed: false,
  },
  {
    permission: 'integrations:integration:view',
    role: 'exports run',
    call: 'GET /api/v2/integrations',
    confirmed: false,
  },
  {
    permission: 'recording:job:add',
    role: 'exports run',
    call: 'POST /api/v2/recording/jobs',
    confirmed: true,
  },
  {
    permission: 'recording:job:view',
    role: 'exports run',
    call: 'GET /api/v2/recording/jobs/{id}',
    confirmed: true,
  },
  {
    permission: 'recording:job:edit',
    role: 'exports run',
    call: 'PUT /api/v2/recording/jobs/{id}',
    confirmed: true,
  },
  {
    permission: 'recording:recording:editRetention',
    role: 'exports run',
    call: 'PUT /api/v2/recording/jobs/{id}',
    confirmed: true,
  },
  {
    permission: 'recording:screenRecording:editRetention',
    role: 'exports run',
    call: 'PUT /api/v2/recording/jobs/{id}',
    confirmed: true,
  },
  {
    permission: 'recording:recording:view',
    role: 'hold',
    call: 'GET /api/v2/conversations/{id}/recordingmetadata',
    confirmed: true,
  },
  {
    permission: 'recording:deletionProtection:apply',
    role: 'hold',
    call: 'PUT /api/v2/recordings/deletionprotection?protect=true',
    confirmed: true,
  },
  {
    permission: 'recording:deletionProtection:revoke',
    role: 'release',
    call: 'PUT /api/v2/recordings/deletionprotection?protect=false',
    confirmed: true,
  },
];

/** A granted policy as Genesys returns it in `AuthzSubject.grants[].role.policies[]`. */
export type GrantedPolicy = Readonly<{ domain?: string; entityName?: string; actions?: readonly string[] }>;

const matches = (granted: string | undefined, wanted: string) => granted === '*' || granted === wanted;

/** The required permissions no policy grants (wildcards `*` honoured in domain, entity and action). */
export function missingPermissions(
  policies: readonly GrantedPolicy[],
  required: readonly string[] = REQUIRED_PERMISSIONS.map((p) => p.permission),
): string[] {
  return required.filter((perm) => {
    const [domain = '', entity = '', action = ''] = perm.split(':');
    return !policies.some(
      (p) =>
        matches(p.domain, domain) &&
        matches(p.entityName, entity) &&
        (p.actions ?? []).some((a) => matches(a, action)),
    );
  });
}

/** What the broker says about one topic (undefined: it does not exist). */
export type TopicFacts = Readonly<{
  partitions: number;
  config: Readonly<Record<string, string | undefined>>;
}>;

/**
 * With `custody ingest --source eventbridge`: the topic the user bridges EventBridge into must exist (custody reads
 * it and never creates it); its partition count bounds how many ingest processes share the work.
 */
export function eventBridgeTopicCheck(topic: string, facts: TopicFacts | undefined): DoctorCheck {
  if (facts === undefined)
    return {
      name: `topic ${topic}`,
      ok: false,
      detail: 'the EventBridge bridge topic (CUSTODY_TOPIC_EVENTBRIDGE) does not exist',
      fix: 'create it and bridge the Genesys EventBridge events into it (README, "Bridging EventBridge into Kafka"), or set CUSTODY_TOPIC_EVENTBRIDGE',
    };
  return {
    name: `topic ${topic}`,
    ok: true,
    detail: `EventBridge bridge topic, ${facts.partitions} partition(s): at most that many ingest processes read it`,
  };
}

/**
 * Checks every custody topic against the contract: present, cleanup policy, retention, and one partition count
 * for the sink's input topics and its state changelog (the join meets a conversation's records in one partition
 * number only then).
 */
export function topicChecks(
  topics: Readonly<Record<TopicRole, string>>,
  facts: ReadonlyMap<string, TopicFacts>,
): DoctorCheck[] {
  const out: DoctorCheck[] = [];
  for (const spec of TOPIC_SPECS) {
    const name = topics[spec.role];
    const f = facts.get(name);
    if (f === undefined) {
      out.push({
        name: `topic ${name}`,
        ok: false,
        detail: 'does not exist',
        fix: `create it (any custody role creates its topics at start, with CUSTODY_TOPIC_PARTITIONS partitions and cleanup.policy=${spec.cleanup}${spec.retentionMs !== undefined ? `, retention.ms=${spec.retentionMs}` : ''})`,
      });
      continue;
    }
    const problems: string[] = [];
    const fixes: string[] = [];
    const cleanup = (f.config['cleanup.policy'] ?? 'delete').split(',').map((s) => s.trim());
    if (spec.cleanup === 'compact' && !cleanup.includes('compact')) {
      problems.push(`cleanup.policy is ${cleanup.join(',')}, not compact`);
      fixes.push(
        `kafka-configs --alter --entity-type topics --entity-name ${name} --add-config cleanup.policy=compact`,
      );
    }
    if (spec.cleanup === 'delete' && cleanup.includes('compact')) {
      problems.push(`cleanup.policy is ${cleanup.join(',')}: records of this log would be compacted away`);
      fixes.push(`set cleanup.policy=delete on ${name}`);
    }
    if (spec.retentionMs !== undefined) {
      const r = Number(f.config['retention.ms'] ?? Number.NaN);
      const shorter = spec.retentionMs === -1 ? r !== -1 : r !== -1 && r < spec.retentionMs;
      if (shorter) {
        problems.push(
          `retention.ms is ${f.config['retention.ms'] ?? '(unknown)'}, shorter than ${spec.retentionMs === -1 ? 'forever (-1)' : spec.retentionMs}`,
        );
        fixes.push(`set retention.ms=${spec.retentionMs} on ${name}`);
      }
    }
    out.push({
      name: `topic ${name}`,
      ok: problems.length === 0,
      detail:
        problems.length === 0
          ? `${f.partitions} partitions, cleanup.policy=${cleanup.join(',')}${spec.retentionMs !== undefined ? `, retention.ms=${f.config['retention.ms'] ?? '?'}` : ''}`
          : problems.join('; '),
      fix: fixes.length ? fixes.join('; ') : undefined,
    });
  }
  // The sink joins its inputs and keeps its state changelog partition by partition: all of them must agree.
  const joined = [topics.sessionTags, topics.recordingExports, topics.legalHolds, topics.sinkState].flatMap(
    (name) => {
      const f = facts.get(name);
      return f === undefined ? [] : [{ name, partitions: f.partitions }];
    },
  );
  if (joined.length >= 2) {
    const same = new Set(joined.map((j) => j.partitions)).size === 1;
    out.push({
      name: 'topics co-partitioned',
      ok: same,
      detail: joined.map((j) => `${j.name}=${j.partitions}`).join(', '),
      fix: same
        ? undefined
        : 'give the sink’s input topics and its state changelog the same partition count (recreate the smaller one, or add partitions before any data is keyed into it): the sink refuses to start otherwise',
    });
  }
  return out;
}

/** Clock skew tolerated before the check fails (HTTP Date headers have one-second resolution). */
export const MAX_CLOCK_SKEW_MS = 5_000;

/**
 * The skew between a server's `Date` header and our clock, measured at the middle of the request (the server
 * stamps its Date somewhere between sending and receiving); within a second's resolution.
 */
export function clockSkewCheck(
  name: string,
  dateHeader: string | undefined,
  sentAt: number,
  receivedAt: number,
): DoctorCheck {
  const server = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader);
  if (!Number.isFinite(server))
    return {
      name,
      ok: false,
      detail: 'no Date header in the answer',
      fix: 'check a proxy is not stripping it',
    };
  // The header truncates to the second: compare with the middle of that second.
  const skew = server + 500 - (sentAt + receivedAt) / 2;
  const ok = Math.abs(skew) <= MAX_CLOCK_SKEW_MS;
  return {
    name,
    ok,
    detail: `${skew >= 0 ? '+' : ''}${Math.round(skew)} ms (server ahead when positive; ±1 s resolution, round trip ${receivedAt - sentAt} ms)`,
    fix: ok
      ? undefined
      : 'synchronise this host’s clock (NTP/chrony): manifests record custody’s processing times',
  };
}

/** One entry of `GET /api/v2/notifications/availabletopics?expand=requiresPermissions,transports`. */
export type AvailableTopic = Readonly<{
  id?: string;
  requiresPermissions?: readonly string[];
  transports?: readonly string[];
}>;

/**
 * Whether the client may subscribe to every per-user topic ingest uses: each is listed, offered over WebSocket
 * (transport `Websocket` or `All`), and its required permissions are granted. Names the topics that are not.
 */
export function subscriptionCheck(
  suffixes: readonly string[],
  listing: readonly AvailableTopic[],
  policies: readonly GrantedPolicy[],
): DoctorCheck {
  const problems: string[] = [];
  for (const suffix of suffixes) {
    const id = `v2.users.{id}.${suffix}`;
    const topic = listing.find((t) => t.id === id);
    if (topic === undefined) {
      problems.push(`${id} is not offered`);
      continue;
    }
    const transports = topic.transports ?? ['All'];
    if (!transports.some((t) => /^(all|websocket)$/i.test(t)))
      problems.push(`${id} is not offered over WebSocket (${transports.join(', ')})`);
    const missing = missingPermissions(policies, topic.requiresPermissions ?? []);
    if (missing.length > 0) problems.push(`${id} needs ${missing.join(', ')}`);
  }
  return {
    name: 'genesys subscriptions',
    ok: problems.length === 0,
    detail:
      problems.length === 0
        ? `may subscribe to ${suffixes.map((s) => `v2.users.{id}.${s}`).join(', ')}`
        : problems.join('; '),
    fix: problems.length === 0 ? undefined : 'grant the missing permissions to a role of the OAuth client',
  };
}

/** The broker setting every fresh consumer group waits out before its first assignment. */
export const GROUP_START_DELAY_SETTING = 'group.initial.rebalance.delay.ms';

/**
 * What the brokers' `group.initial.rebalance.delay.ms` costs the sink: kafkajs cannot assign partitions by hand, so
 * each restore of the join state (every start and every rebalance) reads through a group of its own and waits that
 * long first. Never a failure (a broker-wide trade-off the Kafka team owns), but the operator should know why a sink
 * takes seconds to be ready. `found`: broker id → the value (undefined: not returned), or why it was unreadable.
 */
export function groupStartDelayCheck(
  found: Readonly<{ byBroker: ReadonlyMap<string, string | undefined> }> | Readonly<{ unreadable: string }>,
): DoctorCheck {
  const name = 'kafka group start delay';
  if ('unreadable' in found) {
    return {
      name,
      ok: true,
      detail:
        `${GROUP_START_DELAY_SETTING} not readable (${found.unreadable}): each sink restore (every start and ` +
        'rebalance) may wait it out, 3 s by default',
    };
  }
  const known = [...found.byBroker.values()].map(Number).filter(Number.isFinite); // undefined → NaN, dropped
  if (known.length === 0)
    return {
      name,
      ok: true,
      detail: `${GROUP_START_DELAY_SETTING} not returned by broker(s) ${[...found.byBroker.keys()].join(', ')}`,
    };
  const longest = Math.max(...known);
  const where = [...found.byBroker]
    .map(([id, v]) => `broker ${id}: ${v === undefined ? 'not returned' : `${v} ms`}`)
    .join(', ');
  return {
    name,
    ok: true,
    detail:
      longest === 0
        ? `${GROUP_START_DELAY_SETTING} is 0 (${where}): the sink's restores read at once`
        : `${GROUP_START_DELAY_SETTING} up to ${longest} ms (${where}): each sink restore (every start and ` +
          `rebalance) waits that long before it reads; 0 on the brokers removes the wait, for every group`,
  };
}
