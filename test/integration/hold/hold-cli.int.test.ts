/**
 * `custody hold|release` as a process: --help, usage errors (64), configuration errors (78), a hold recorded
 * without waiting (0, keyed {conversationId}/{matterId} in the conversation's partition), a release nothing
 * holds (1), and a wait for a sink that is not running (69).
 */
import { describe, expect, it } from 'vitest';
import { singleObjectCodecFor } from '../../../src/kafka/avro-codec.ts';
import { conversationPartition } from '../../../src/kafka/partitioning.ts';
import { kafkaClient, uniqueName } from '../../support/clients.ts';
import { infraEnv, spawnCustody } from '../../support/custody-process.ts';
import { readTopicToEnd } from '../../support/kafka-read.ts';
import { createTopics, sinkTopics } from '../../support/sink-fixtures.ts';

const CID = '5e0c8a4f-3b2d-4e1f-9a8b-7c6d5e4f3a2b';

async function run(args: string[], env: Record<string, string>) {
  const p = spawnCustody(args, env);
  const code = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

describe('custody hold (process)', () => {
  it('prints its help, and refuses bad ids before touching anything', async () => {
    const help = await run(['hold', '--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: custody hold --conversation <id> --matter <id>');
    expect((await run(['release', '--help'], {})).stdout).toContain('usage: custody release');
    const bad = await run(['hold', '--conversation', 'not-a-uuid', '--matter', 'M-1'], {});
    expect(bad.code).toBe(64);
    expect(bad.stderr).toBe('custody: custody hold needs --conversation <conversation id (UUID)>\n');
    const matter = await run(['hold', '--conversation', CID, '--matter', 'has space'], {});
    expect(matter.code).toBe(64);
    const noKafka = await run(['hold', '--conversation', CID, '--matter', 'M-1', '--no-genesys'], {});
    expect(noKafka.code).toBe(78);
    expect(noKafka.stderr).toContain('KAFKA_BROKERS');
  });

  it('records a hold in its conversation partition, refuses a release nothing holds, and says when no sink processed it', async () => {
    const kafka = kafkaClient('hold-cli');
    const topics = sinkTopics();
    await createTopics(kafka, Object.values(topics));
    const env = {
      ...infraEnv(),
      CUSTODY_TOPIC_LEGAL_HOLDS: topics.legalHolds,
      CUSTODY_TOPIC_MANIFESTS: topics.manifests,
      CUSTODY_SINK_GROUP_ID: uniqueName('no-sink'),
      CUSTODY_INSTANCE_ID: 'ops-host',
    };
    const held = await run(
      [
        'hold',
        '--conversation',
        CID,
        '--matter',
        'M-1',
        '--no-genesys',
        '--no-wait',
        '--json',
        '--actor',
        'jane',
      ],
      env,
    );
    expect(held.code, held.stderr).toBe(0);
    const result = JSON.parse(held.stdout) as { ok: boolean; event: { partition: number; offset: string } };
    expect(result).toMatchObject({ ok: true, heldBy: ['M-1'], genesys: { status: 'skipped' } });
    expect(result.event.partition).toBe(conversationPartition(CID, 3));

    const records = await readTopicToEnd(kafka, topics.legalHolds);
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record?.key).toBe(`${CID}/M-1`);
    expect(record?.partition).toBe(conversationPartition(CID, 3));
    const event = singleObjectCodecFor('legal-hold.v1').decode(record?.value as Buffer);
    expect(event).toMatchObject({
      action: 'hold',
      conversationId: CID,
      matterId: 'M-1',
      requestedBy: 'jane',
      instance: 'ops-host',
      genesysDeletionProtection: null,
    });

    const nothing = await run(['release', '--conversation', CID, '--matter', 'M-2', '--no-genesys'], env);
    expect(nothing.code).toBe(1);
    expect(nothing.stdout).toContain('matter M-2 does not hold conversation');

    const waited = await run(
      ['release', '--conversation', CID, '--matter', 'M-1', '--no-genesys', '--timeout', '2'],
      env,
    );
    expect(waited.code).toBe(69);
    expect(waited.stdout).toContain('did not process it within 2 s: is custody sink running?');
    expect(await readTopicToEnd(kafka, topics.legalHolds)).toHaveLength(2);
  });
});
