/**
 * The emulator's HTTP server: a small router implementing `Routes` (`:param` segments, JSON and form bodies,
 * 404/405), bearer-token auth on every non-public route, the per-client rate limit and injected faults.
 * Errors use the Genesys error body (`apiError`). WebSocket upgrades are handed to `onUpgrade`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { apiError, type ApiRequest, type ApiResponse, type Handler, type Routes } from './context.ts';
import { parseBearer, type TokenStore } from './auth.ts';
import type { FaultInjector, RateLimiter } from './rate-limit.ts';

type Method = Parameters<Routes['add']>[0];

interface Route {
  readonly method: Method;
  readonly segments: readonly string[];
  readonly handler: Handler;
  readonly isPublic: boolean;
}

/** Largest request body accepted (1,000 topics of 200 characters fit easily). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface Router extends Routes {
  /** Resolves a request to a route, or the status (404/405) that says why none matched. */
  resolve(method: string, path: string): { route: Route; params: Record<string, string> } | 404 | 405;
}

/** Creates an empty router. Literal segments win over `:param` segments when both match. */
export function createRouter(): Router {
  const routes: Route[] = [];
  const match = (
    segments: readonly string[],
    parts: readonly string[],
  ): Record<string, string> | undefined => {
    if (segments.length !== parts.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < segments.length; i++) {
      const s = segments[i] ?? '';
      const p = parts[i] ?? '';
      if (s.startsWith(':')) {
        if (p === '') return undefined;
        params[s.slice(1)] = p;
      } else if (s !== p) return undefined;
    }
    return params;
  };
  const literalCount = (r: Route) => r.segments.filter((s) => !s.startsWith(':')).length;
  return {
    add(method, pattern, handler, opts) {
      if (!pattern.startsWith('/')) throw new Error(`route pattern must start with "/": ${pattern}`);
      const segments = pattern.split('/').slice(1);
      if (routes.some((r) => r.method === method && r.segments.join('/') === segments.join('/'))) {
        throw new Error(`duplicate route ${method} ${pattern}`);
      }
      routes.push({ method, segments, handler, isPublic: opts?.public === true });
      // Most specific first, so `/jobs/batch` beats `/jobs/:id`.
      routes.sort((a, b) => literalCount(b) - literalCount(a));
    },
    resolve(method, path) {
      let parts: string[];
      try {
        parts = path.split('/').slice(1).map(decodeURIComponent);
      } catch {
        return 404;
      }
      let pathMatched = false;
      for (const route of routes) {
        const params = match(route.segments, parts);
        if (!params) continue;
        pathMatched = true;
        if (route.method === method) return { route, params };
      }
      // HEAD falls back to GET (body dropped) when no HEAD route exists.
      if (method === 'HEAD') {
        for (const route of routes) {
          const params = match(route.segments, parts);
          if (params && route.method === 'GET') return { route, params };
        }
      }
      return pathMatched ? 405 : 404;
    },
  };
}

export interface EmulatorServerOptions {
  readonly router: Router;
  readonly tokens: TokenStore;
  readonly faults: FaultInjector;
  readonly rateLimiter?: RateLimiter;
  /** Handles `upgrade` requests (WebSocket); others get 404. */
  readonly onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly log?: (line: string) => void;
}

export interface EmulatorServer {
  readonly server: Server;
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
}

/** Paths that are never faulted or rate limited (the test control API). */
const CONTROL_PREFIX = '/__control';

/** Creates the HTTP server (not yet listening). */
export function createEmulatorServer(opts: EmulatorServerOptions): EmulatorServer {
  const log = opts.log ?? (() => undefined);
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log(`request failed: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) send(res, 'GET', apiError(500, 'internal.server.error', 'The emulator failed.'));
      else res.destroy();
    });
  });
  server.on('upgrade', (req, socket, head) => {
    if (opts.onUpgrade) opts.onUpgrade(req, socket, head);
    else socket.destroy();
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    const control = path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`);
    if (!control) {
      const fault = opts.faults.match(method, path);
      if (fault) return send(res, method, fault);
    }
    const resolved = opts.router.resolve(method, path);
    if (resolved === 404)
      return send(res, method, apiError(404, 'not.found', `No resource at ${method} ${path}.`));
    if (resolved === 405) {
      return send(
        res,
        method,
        apiError(405, 'method.not.allowed', `Method ${method} is not allowed on ${path}.`),
      );
    }
    const { route, params } = resolved;
    let clientId: string | undefined;
    if (!route.isPublic) {
      const token = parseBearer(req.headers['authorization']);
      const verified = token === undefined ? undefined : opts.tokens.verify(token);
      if (!verified) {
        // The real platform's body for a missing, expired or unknown token.
        return send(res, method, apiError(401, 'bad.credentials', 'Invalid login credentials.'));
      }
      clientId = verified.clientId;
      const limited = opts.rateLimiter?.take(clientId);
      if (limited) return send(res, method, limited);
    }
    let body: unknown;
    try {
      body = await readBody(req);
    } catch (err) {
      const tooLarge = err instanceof BodyTooLargeError;
      return send(
        res,
        method,
        tooLarge
          ? apiError(413, 'request.entity.too.large', 'The request body is too large.')
          : apiError(400, 'bad.request', 'The request body is not valid JSON.'),
      );
    }
    const apiReq: ApiRequest = {
      method,
      path,
      params,
      query: url.searchParams,
      headers: req.headers,
      body,
      clientId,
    };
    send(res, method, await route.handler(apiReq));
  }

  return {
    server,
    listen(port, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

class BodyTooLargeError extends Error {}

/** Reads and parses a body: JSON, or `application/x-www-form-urlencoded` into a string record. */
async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError('body too large');
    chunks.push(buf);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (
    type.includes('application/x-www-form-urlencoded') ||
    (!type.includes('json') && /^[\w.%+-]+=/.test(text))
  ) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  if (text.trim() === '') return undefined;
  return JSON.parse(text) as unknown;
}

function send(res: ServerResponse, method: string, r: ApiResponse): void {
  const headers: Record<string, string> = {
    // The real platform returns a correlation id on every response; clients log it.
    'inin-correlation-id': randomUUID(),
    ...r.headers,
  };
  const hasBody = r.body !== undefined && r.status !== 204 && r.status !== 304;
  const payload = hasBody ? Buffer.from(JSON.stringify(r.body)) : undefined;
  if (payload) {
    headers['content-type'] = 'application/json; charset=UTF-8';
    headers['content-length'] = String(payload.length);
  } else if (r.status !== 204 && r.status !== 304) {
    headers['content-length'] = '0';
  }
  res.writeHead(r.status, headers);
  res.end(method === 'HEAD' ? undefined : payload);
}
