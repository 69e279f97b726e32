import { describe, expect, it } from 'vitest';
import { componentLogger, createLogger } from '../../../src/observability/logger.ts';

function capture() {
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    instance: 'test',
    destination: { write: (s: string) => lines.push(s) },
  });
  return { log, lines };
}

/** How many times `key` is a member name of the JSON line (JSON.parse would keep only the last). */
const occurrences = (line: string, key: string) => line.split(`"${key}":`).length - 1;

describe('componentLogger', () => {
  it("keeps the role's stage, written once, when the role's logger names one", () => {
    const { log, lines } = capture();
    componentLogger(log.child({ stage: 'exports-run' }), 'exports', { component: 'exports-run' }).info('x');
    expect(occurrences(lines[0] ?? '', 'stage')).toBe(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ stage: 'exports-run', component: 'exports-run' });
  });

  it('names the stage itself under a logger without one', () => {
    const { log, lines } = capture();
    componentLogger(log, 'sink', { component: 'sink-pipeline' }).info('x');
    expect(occurrences(lines[0] ?? '', 'stage')).toBe(1);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ stage: 'sink', component: 'sink-pipeline' });
  });
});
