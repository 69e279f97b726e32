/**
 * Finds the org's "AWS S3 recording bulk actions" integration, the one a bulk export job must name, so
 * `custody exports run` needs no integration id when the org has exactly one (the usual case). With none, or
 * several, it is one clear error naming the candidates and GENESYS_EXPORT_INTEGRATION_ID.
 */
import type { Models } from 'purecloud-platform-client-v2';
import { FatalError } from '../runtime/errors.ts';
import { platformClient } from './platform-client.ts';
import type { GenesysPlatformClient } from './platform-client.ts';

/** `integrationType.id` of the S3 recording export integration. */
export const EXPORT_INTEGRATION_TYPE = 'aws-s3-recording-bulk-actions-integration';

/** The setting that names the integration when discovery cannot choose. */
const SETTING = 'GENESYS_EXPORT_INTEGRATION_ID';

/** Picks the one enabled export integration among an org's integrations. @throws {FatalError} none or several. */
export function chooseExportIntegration(integrations: readonly Models.Integration[]): string {
  const exports = integrations.filter(
    (i) => i.integrationType?.id?.toLowerCase() === EXPORT_INTEGRATION_TYPE && typeof i.id === 'string',
  );
  const enabled = exports.filter((i) => i.intendedState?.toUpperCase() === 'ENABLED');
  const describe = (i: Models.Integration) =>
    `${i.id} (${(i.name ?? 'unnamed').slice(0, 80)}, ${i.intendedState ?? 'state unknown'})`;
  if (enabled.length === 1) return enabled[0]?.id as string;
  if (enabled.length === 0) {
    throw new FatalError(
      exports.length === 0
        ? `this org has no ${EXPORT_INTEGRATION_TYPE} integration: install "AWS S3 recording bulk actions" in Genesys Cloud, or set ${SETTING}`
        : `this org's ${EXPORT_INTEGRATION_TYPE} integrations are not enabled: ${exports.map(describe).join(', ')}; enable one, or set ${SETTING}`,
      { setting: SETTING },
    );
  }
  throw new FatalError(
    `this org has ${enabled.length} enabled ${EXPORT_INTEGRATION_TYPE} integrations: ${enabled.map(describe).join(', ')}; set ${SETTING} (or --integration-id) to one of them`,
    { setting: SETTING },
  );
}

/** Lists the org's integrations of the export type (every page) and chooses one. Needs `integrations:integration:view`. */
export async function discoverExportIntegration(client: GenesysPlatformClient): Promise<string> {
  const api = new platformClient.IntegrationsApi(client.sdk);
  const all: Models.Integration[] = [];
  for (let pageNumber = 1; pageNumber <= 50; pageNumber++) {
    const page = await client.call<Models.IntegrationEntityListing>('GET /api/v2/integrations', () =>
      api.getIntegrations({ pageSize: 100, pageNumber, integrationType: EXPORT_INTEGRATION_TYPE }),
    );
    const entities = page.entities ?? [];
    all.push(...entities);
    if (entities.length === 0 || !page.pageCount || pageNumber >= page.pageCount) break;
  }
  return chooseExportIntegration(all);
}
