/**
 * OAuth for the emulator: the client-credentials grant of the Genesys login service (`POST /oauth/token`
 * with HTTP Basic `clientId:clientSecret` and form body `grant_type=client_credentials`) and the bearer
 * tokens it issues. Tokens expire in simulated time and can be revoked by the control API.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiRequest, ApiResponse, Routes, SimClock } from './context.ts';

export interface OAuthClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

export interface IssuedToken {
  readonly clientId: string;
  readonly expiresAt: number;
}

export interface TokenStore {
  /** Issues a token for a client (after its credentials were checked). */
  issue(clientId: string): { token: string; expiresInSeconds: number };
  /** The token's client if the token is known, unrevoked and unexpired at simulated `now`. */
  verify(token: string): IssuedToken | undefined;
  /** Revokes every token (of one client, when given); returns how many were revoked. */
  revoke(clientId?: string): number;
  /** Called after a token stops being valid (expiry or revocation), with the token's key (not the secret). */
  onInvalidated(listener: (tokenKey: string, reason: 'expired' | 'revoked') => void): void;
  /** A stable, non-secret key for a token (a hash prefix), used to link channels to the token that made them. */
  keyOf(token: string): string;
}

/** Creates the token store. Token values are random; only they are secret, and they are never logged. */
export function createTokenStore(clock: SimClock, ttlSeconds: number): TokenStore {
  if (!(ttlSeconds > 0)) throw new RangeError('tokenTtlSeconds must be positive');
  const tokens = new Map<string, IssuedToken & { cancelExpiry: () => void }>();
  const listeners: Array<(tokenKey: string, reason: 'expired' | 'revoked') => void> = [];
  const keyOf = (token: string): string =>
    `tok-${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
  const invalidate = (token: string, reason: 'expired' | 'revoked'): void => {
    const t = tokens.get(token);
    if (!t) return;
    tokens.delete(token);
    t.cancelExpiry();
    for (const l of listeners) l(keyOf(token), reason);
  };
  return {
    issue(clientId) {
      const token = randomBytes(32).toString('base64url');
      const expiresAt = clock.now() + ttlSeconds * 1000;
      const cancelExpiry = clock.at(expiresAt, () => invalidate(token, 'expired'));
      tokens.set(token, { clientId, expiresAt, cancelExpiry });
      return { token, expiresInSeconds: ttlSeconds };
    },
    verify(token) {
      const t = tokens.get(token);
      if (!t) return undefined;
      if (t.expiresAt <= clock.now()) {
        invalidate(token, 'expired');
        return undefined;
      }
      return { clientId: t.clientId, expiresAt: t.expiresAt };
    },
    revoke(clientId) {
      let n = 0;
      for (const [token, t] of [...tokens]) {
        if (clientId === undefined || t.clientId === clientId) {
          invalidate(token, 'revoked');
          n++;
        }
      }
      return n;
    },
    onInvalidated(listener) {
      listeners.push(listener);
    },
    keyOf,
  };
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Parses `Authorization: Basic base64(id:secret)`; undefined when absent or malformed. */
export function parseBasicAuth(header: string | string[] | undefined): OAuthClient | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { clientId: decoded.slice(0, colon), clientSecret: decoded.slice(colon + 1) };
}

/** Parses `Authorization: Bearer <token>`. */
export function parseBearer(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

/** The login service's OAuth error body (`invalid_client`, `unsupported_grant_type`, ...). */
function oauthError(status: number, error: string, description: string): ApiResponse {
  return { status, body: { error, description, error_description: description } };
}

/**
 * Registers `POST /oauth/token`. Credentials are compared in constant time; a wrong id or secret gives
 * 401 `invalid_client` without saying which was wrong.
 */
export function registerOAuthRoutes(
  routes: Routes,
  clients: readonly OAuthClient[],
  tokens: TokenStore,
): void {
  const handler = (req: ApiRequest): ApiResponse => {
    const creds = parseBasicAuth(req.headers['authorization']) ?? clientFromBody(req.body);
    const known = creds && clients.find((c) => safeEqual(c.clientId, creds.clientId));
    if (!creds || !known || !safeEqual(known.clientSecret, creds.clientSecret)) {
      return oauthError(401, 'invalid_client', 'client not found or wrong secret');
    }
    const grant = isRecord(req.body) ? req.body['grant_type'] : undefined;
    if (grant !== 'client_credentials') {
      return oauthError(400, 'unsupported_grant_type', 'only grant_type=client_credentials is supported');
    }
    const { token, expiresInSeconds } = tokens.issue(known.clientId);
    return {
      status: 200,
      headers: { 'cache-control': 'no-store' },
      body: { access_token: token, token_type: 'bearer', expires_in: expiresInSeconds },
    };
  };
  routes.add('POST', '/oauth/token', handler, { public: true });
}

/** RFC 6749 also allows client_id/client_secret in the form body; the SDK uses Basic, but accept both. */
function clientFromBody(body: unknown): OAuthClient | undefined {
  if (!isRecord(body)) return undefined;
  const id = body['client_id'];
  const secret = body['client_secret'];
  return typeof id === 'string' && typeof secret === 'string'
    ? { clientId: id, clientSecret: secret }
    : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
