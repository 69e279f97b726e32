import { describe, expect, it, vi } from 'vitest';
import { main } from '../../../src/cli.ts';

describe('custody verify arguments', () => {
  it('prints its help', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await main(['verify', '--help'])).toBe(0);
      expect(String(write.mock.calls[0]?.[0])).toContain('usage: custody verify');
      expect(String(write.mock.calls[0]?.[0])).toContain('exit codes: 0 nothing failed, 1 findings, 69');
    } finally {
      write.mockRestore();
    }
  });

  it.each([
    [['--from', '2026-03-01T00:00:00Z'], /--from and --to go together/],
    [['--from', '2026-03-02T00:00:00Z', '--to', '2026-03-01T00:00:00Z'], /from before to/],
    [['--from', 'yesterday', '--to', '2026-03-01T00:00:00Z'], /ISO-8601/],
    [['--conversations', 'not-a-uuid'], /not a conversation id: not-a-uuid/],
    [
      [
        '--conversations',
        '7d0f9c42-5b1e-4e8a-b3c6-2a9d8e7f6a50',
        '--from',
        '2026-03-01T00:00:00Z',
        '--to',
        '2026-03-02T00:00:00Z',
      ],
      /give one of/,
    ],
    [['--concurrency', '0'], /--concurrency/],
    [['--bucket', 'Not_A_Bucket'], /--bucket/],
    [['--public-key'], /--public-key needs a value/],
    [['--frm', 'x'], /unknown option --frm/],
  ])('refuses %j', async (args, message) => {
    await expect(main(['verify', ...args])).rejects.toThrow(message);
  });
});
