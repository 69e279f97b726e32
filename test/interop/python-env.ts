/**
 * The Python side of the interop tests: a project-local virtual environment under .infra/ (git-ignored) built from
 * the pinned test/interop/requirements.txt with the machine's python3 and PyPI. Its folder is named after the
 * requirements' hash, so a rerun reuses it and a changed pin builds a new one.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const REQUIREMENTS = new URL('./requirements.txt', import.meta.url).pathname;

function run(cmd: string, args: string[], log: (line: string) => void): void {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 2, 2] });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

/** Creates the virtual environment unless it is already complete; returns its python. */
export function ensurePythonEnv(infraHome: string, log: (line: string) => void): string {
  const hash = createHash('sha256').update(readFileSync(REQUIREMENTS)).digest('hex').slice(0, 12);
  const dir = join(infraHome, `python-interop-${hash}`);
  const python = join(dir, 'bin', 'python');
  const done = join(dir, '.complete');
  if (existsSync(done) && existsSync(python)) return python;
  log(`creating the Python interop environment in ${dir} (first run only)`);
  rmSync(dir, { recursive: true, force: true });
  run('python3', ['-m', 'venv', dir], log);
  run(
    python,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', REQUIREMENTS],
    log,
  );
  writeFileSync(done, `${new Date().toISOString()}\n`);
  return python;
}
