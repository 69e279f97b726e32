/**
 * `GET /api/v2/authorization/subjects/me`: the grants (role → permission policies) of the caller. For a
 * client-credentials token the subject is the OAuth client, whose roles are set on the client in Genesys
 * (UNCONFIRMED that Genesys answers this route for client-credentials tokens; `custody doctor` says so when it
 * does not). Each client's permissions come from `EmulatorOptions.permissions` (`domain:entity:action`, `*`
 * allowed in any part); a client not listed there has every permission (`*:*:*`).
 */
import type { Models } from 'purecloud-platform-client-v2';
import type { PlatformContext } from './context.ts';

export type PermissionsByClient = Readonly<Record<string, readonly string[]>>;

/** The policies of a permission list: one per domain:entity, with its actions. */
function policiesOf(permissions: readonly string[]): Models.AuthzGrantPolicy[] {
  const byEntity = new Map<string, Set<string>>();
  for (const p of permissions) {
    const [domain = '*', entity = '*', action = '*'] = p.split(':');
    const k = `${domain}:${entity}`;
    const actions = byEntity.get(k) ?? new Set<string>();
    actions.add(action);
    byEntity.set(k, actions);
  }
  return [...byEntity].map(([k, actions]) => {
    const [domain, entityName] = k.split(':');
    return { domain, entityName, actions: [...actions] };
  });
}

export function registerAuthorizationRoutes(
  ctx: Pick<PlatformContext, 'routes' | 'org'>,
  permissions: PermissionsByClient = {},
): void {
  ctx.routes.add('GET', '/api/v2/authorization/subjects/me', (req) => {
    const clientId = req.clientId ?? '';
    const granted = permissions[clientId] ?? ['*:*:*'];
    const subject: Models.AuthzSubject = {
      id: clientId,
      name: `OAuth client ${clientId}`,
      grants: [
        {
          subjectId: clientId,
          division: { id: '*', name: 'All divisions' } as Models.AuthzDivision,
          role: { id: 'emulated-role', name: 'custody (emulated)', policies: policiesOf(granted) },
          grantMadeAt: new Date(0).toISOString(),
        },
      ],
      version: 1,
      selfUri: '/api/v2/authorization/subjects/me',
    };
    return { status: 200, body: subject };
  });
}
