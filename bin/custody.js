#!/usr/bin/env node
// Runs the compiled CLI when `npm run build` has produced dist/; else the TypeScript sources, with Node's own type
// stripping where it has it (Node ≥ 22.18: ~45 MB less memory than a transpiler) and tsx otherwise. Node does not
// strip types under node_modules, so an installed copy without dist/ falls back to tsx too.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const viaTsx = async () => (await import('tsx/esm/api')).tsImport('../src/cli.ts', import.meta.url);
let cli;
if (existsSync(dist)) {
  cli = await import(dist);
} else if (process.features.typescript) {
  try {
    cli = await import('../src/cli.ts');
  } catch (e) {
    if (e?.code !== 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING') throw e;
    cli = await viaTsx();
  }
} else {
  cli = await viaTsx();
}
await cli.runCli(process.argv.slice(2));
