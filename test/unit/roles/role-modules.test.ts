/**
 * Each role loads only the SDKs it uses: the Genesys SDK costs a process ~40 MB of RSS and the S3 SDK ~35 MB,
 * so `custody sink` must not load the first nor `custody ingest` the second. Checked on the static import graph
 * of the sources (what a process loads at start; `await import()` is lazy by design and not followed).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

/**
 * Value imports and re-exports of a module's source (type-only ones are erased and load nothing), and packages it
 * loads with `createRequire(import.meta.url)(…)`.
 */
export function staticImports(source: string): string[] {
  const specs: string[] = [];
  const re = /^(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(re)) if (!m[1]) specs.push(m[2] as string);
  // A CommonJS package loaded at module level with require() (the Genesys SDK: platform-client.ts).
  for (const m of source.matchAll(/createRequire\(import\.meta\.url\)\(\s*['"]([^'"]+)['"]\s*\)/g))
    specs.push(m[1] as string);
  return specs;
}

/** The packages (by name) a module reaches through static value imports, and the source files it loads. */
function reach(entry: string): { packages: Set<string>; files: Set<string> } {
  const packages = new Set<string>();
  const files = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    for (const spec of staticImports(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:'))
        packages.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] as string),
        );
    }
  };
  visit(resolve(SRC, entry));
  return { packages, files };
}

const GENESYS_SDK = 'purecloud-platform-client-v2';
const S3_SDK = '@aws-sdk/client-s3';

describe('what each role loads at start', () => {
  it('reads static imports, not type-only ones', () => {
    const src = [
      "import { a } from './a.ts';",
      "import type { B } from 'b';",
      'import {\n  c,\n  d,\n} from "c";',
      "import e from 'e';",
      "import 'f';",
      "export { g } from './g.ts';",
      "export type { H } from './h.ts';",
      "  const x = await import('./lazy.ts');",
      "export const sdk = createRequire(import.meta.url)('i');",
    ].join('\n');
    expect(staticImports(src)).toEqual(['./a.ts', 'c', 'e', 'f', './g.ts', 'i']);
  });

  it('the CLI loads no role and neither SDK until a command is chosen', () => {
    const { packages } = reach('cli.ts');
    expect(packages).not.toContain(GENESYS_SDK);
    expect(packages).not.toContain(S3_SDK);
    expect(packages).not.toContain('kafkajs');
  });

  it('custody ingest loads the Genesys SDK, not the S3 SDK', () => {
    const { packages } = reach('roles/ingest-role.ts');
    expect(packages).toContain(GENESYS_SDK);
    expect(packages).toContain('kafkajs');
    expect(packages).not.toContain(S3_SDK);
  });

  it('custody sink loads the S3 SDK, not the Genesys SDK', () => {
    const { packages, files } = reach('roles/sink-role.ts');
    expect(packages).toContain(S3_SDK);
    expect(packages).not.toContain(GENESYS_SDK);
    expect([...files].some((f) => f.includes('/src/ingest/'))).toBe(false);
  });

  it("ingest's snapshot worker, a second heap, loads only what merging and encoding need: no SDK, Kafka or zod", () => {
    const { packages } = reach('ingest/snapshot-worker.ts');
    expect([...packages].sort()).toEqual(['avsc']);
  });

  it('custody verify loads neither Kafka nor the Genesys SDK', () => {
    const { packages } = reach('roles/verify-role.ts');
    expect(packages).toContain(S3_SDK);
    expect(packages).not.toContain(GENESYS_SDK);
    expect(packages).not.toContain('kafkajs');
  });
});
