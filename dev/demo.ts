/**
 * `npm run demo`. The end-to-end demo (emulated Genesys org -> ingest -> exports -> sink -> manifests)
 * is not built yet; until it is, this starts the real local Kafka and S3 servers and says so.
 */
import { formatSettings, startInfra } from '../infra/local.ts';

const infra = await startInfra({ name: 'dev', kafkaPort: 9092, s3Port: 7070 });
process.stdout.write(
  [
    '',
    'custody demo: the end-to-end demo is not built yet (see the open issues).',
    `For now this started the local infrastructure${infra.reused ? ' (already running)' : ''}:`,
    '',
    formatSettings(infra.settings),
    '',
    'Configure a shell with:  eval "$(npm run -s infra:up)"',
    'Stop it with:            npm run infra:down',
    '',
  ].join('\n'),
);
