/**
 * custody as the container image runs it: `npm run build` (tsconfig.build.json) compiled to dist/, started by
 * bin/custody.js, with no TypeScript sources beside it (so a fallback to tsx would fail instead of passing).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Compiles custody into a fresh directory laid out like the image; returns the path of its bin/custody.js. */
export function compileCustody(): string {
  const dir = mkdtempSync(join(tmpdir(), 'custody-compiled-'));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  execFileSync(
    process.execPath,
    [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(dir, 'dist')],
    {
      stdio: 'pipe',
    },
  );
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(ROOT, 'bin', 'custody.js'), join(dir, 'bin', 'custody.js'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'schemas'), join(dir, 'schemas'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return join(dir, 'bin', 'custody.js');
}
