import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CUSTODY_VERSION } from '../../src/version.ts';

it('CUSTODY_VERSION is the package version (records and custody events carry it)', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(CUSTODY_VERSION).toBe(pkg.version);
});
