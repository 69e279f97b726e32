import { describe, expect, it } from 'vitest';
import { createRouter } from '../../../../dev/emulator/platform/server.ts';

const h = () => ({ status: 200 });

describe('createRouter', () => {
  it('matches :param segments and prefers literal segments', () => {
    const r = createRouter();
    r.add('GET', '/api/v2/recording/jobs/:jobId', h);
    r.add('GET', '/api/v2/recording/jobs/batch', h, { public: true });
    const a = r.resolve('GET', '/api/v2/recording/jobs/abc%2Fdef');
    expect(typeof a === 'object' && a.params).toEqual({ jobId: 'abc/def' });
    const b = r.resolve('GET', '/api/v2/recording/jobs/batch');
    expect(typeof b === 'object' && b.route.isPublic).toBe(true);
  });

  it('answers 404 for unknown paths and 405 for known paths with another method', () => {
    const r = createRouter();
    r.add('POST', '/api/v2/notifications/channels', h);
    expect(r.resolve('GET', '/api/v2/nope')).toBe(404);
    expect(r.resolve('DELETE', '/api/v2/notifications/channels')).toBe(405);
    expect(r.resolve('GET', '/api/v2/notifications/channels/')).toBe(404);
  });

  it('falls back from HEAD to GET and refuses duplicate routes', () => {
    const r = createRouter();
    r.add('GET', '/x/:id', h);
    expect(typeof r.resolve('HEAD', '/x/1')).toBe('object');
    expect(() => r.add('GET', '/x/:id', h)).toThrow(/duplicate/);
  });
});
