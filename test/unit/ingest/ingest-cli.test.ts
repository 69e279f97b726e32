import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli.ts';

describe('custody ingest arguments', () => {
  it.each([
    [['--source', 'sqs'], /usage: custody ingest \[--source websocket\|eventbridge\]/],
    [['--source'], /--source needs a value/],
  ])('refuses %j before reading any setting', async (args, message) => {
    await expect(main(['ingest', ...args])).rejects.toThrow(message);
  });
});
