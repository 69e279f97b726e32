/**
 * Which Genesys answers no retry can fix, and what the operator must change for each: wrong OAuth client
 * credentials (a setting) or a permission the client's role lacks. Everything else that fails is either
 * retriable (network, 429, 5xx: see isRetriable) or a single failed call that the caller handles.
 */
import { errorChain, FatalError } from '../runtime/errors.ts';
import { GenesysApiError } from './genesys-api.ts';

/** The settings to check when Genesys refuses custody's OAuth client. */
export const GENESYS_CREDENTIAL_SETTINGS = 'GENESYS_CLIENT_ID/GENESYS_CLIENT_SECRET';

/**
 * The permission each call needs where the Genesys API reference is known to custody; a real 403 also names the
 * missing permissions in its message, which takes precedence.
 */
const PERMISSION_HINTS: Readonly<Record<string, string>> = {
  'POST /api/v2/analytics/conversations/details/query': 'analytics:conversationDetail:view',
};

const PERMISSION = /\b[a-zA-Z]+:[a-zA-Z]+:[a-zA-Z]+\b/g;

/**
 * A Genesys refusal that only the operator can fix, as a FatalError naming the setting or the permission;
 * undefined for any other error (retriable or not).
 */
export function genesysFatal(e: unknown): FatalError | undefined {
  const chain = errorChain(e);
  const fatal = chain.find((x): x is FatalError => x instanceof FatalError);
  if (fatal) return fatal;
  const g = chain.find((x): x is GenesysApiError => x instanceof GenesysApiError);
  if (!g || g.status === undefined) return undefined;
  const login = g.operation === 'oauth token';
  if (g.status === 401 || (login && (g.status === 400 || g.status === 403))) {
    return new FatalError(
      `Genesys Cloud does not accept the OAuth client (${g.operation}: ${g.status}${g.code ? ` ${g.code}` : ''}): ` +
        `check ${GENESYS_CREDENTIAL_SETTINGS} (a client-credentials client of this org and region)`,
      { setting: GENESYS_CREDENTIAL_SETTINGS, cause: g },
    );
  }
  if (g.status === 403) {
    const named = [...new Set(g.apiMessage.match(PERMISSION) ?? [])];
    const permission = named.length > 0 ? named.join(', ') : PERMISSION_HINTS[g.operation];
    return new FatalError(
      `Genesys Cloud refused ${g.operation} (403${g.code ? ` ${g.code}` : ''}: ${g.apiMessage}): ` +
        (permission
          ? `give the OAuth client's role the permission ${permission}`
          : `give the OAuth client's role the permission this call needs`),
      { setting: permission ?? `permission for ${g.operation}`, cause: g },
    );
  }
  return undefined;
}

/** The wait Genesys asked for (Retry-After on a 429), for retryUntilDone's `retryAfterMs`. */
export function genesysRetryAfterMs(e: unknown): number | undefined {
  const g = errorChain(e).find((x): x is GenesysApiError => x instanceof GenesysApiError);
  return g?.retryAfterMs;
}
