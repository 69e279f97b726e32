/**
 * `GET /api/v2/integrations`: the org's installed integrations, paged, optionally filtered by `integrationType`.
 * The org has its "AWS S3 recording bulk actions" integration (the one bulk export jobs name) beside an unrelated
 * one, so a client must pick by type rather than take the first entry.
 */
import type { Models } from 'purecloud-platform-client-v2';
import { pageListing, readPaging } from './directory.ts';
import type { PlatformContext } from './context.ts';

/** The integration type id of the S3 recording export integration (the `integrationType.id` field). */
export const EXPORT_INTEGRATION_TYPE = 'aws-s3-recording-bulk-actions-integration';

/** The integrations the simulated org has installed. */
export function orgIntegrations(ctx: Pick<PlatformContext, 'org' | 'baseUrl'>): Models.Integration[] {
  const item = (id: string, name: string, typeId: string, typeName: string): Models.Integration => ({
    id,
    name,
    integrationType: { id: typeId, name: typeName, provider: 'Genesys', category: 'Recording' },
    notes: '',
    intendedState: 'ENABLED',
    reportedState: { code: 'ACTIVE', effective: 'Active' },
    attributes: {},
    selfUri: `/api/v2/integrations/${id}`,
  });
  return [
    item(
      ctx.org.integrationId,
      'Recording exports to S3',
      EXPORT_INTEGRATION_TYPE,
      'AWS S3 Recording Bulk Actions',
    ),
    item(
      `${ctx.org.integrationId.slice(0, 24)}0000dada0001`,
      'Web Services Data Actions',
      'custom-rest-actions',
      'Web Services Data Actions',
    ),
  ];
}

export function registerIntegrationRoutes(ctx: PlatformContext): void {
  ctx.routes.add('GET', '/api/v2/integrations', (req) => {
    const paging = readPaging(req.query, 100);
    if ('status' in paging) return paging;
    const type = req.query.get('integrationType');
    const all = orgIntegrations(ctx).filter((i) => type === null || i.integrationType?.id === type);
    return { status: 200, body: pageListing(all, paging, '/api/v2/integrations', req.query) };
  });
}
