import { logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkajsLogLevel } from '../../../src/kafka/kafkajs-log.ts';

const response = (error: string) => ({
  level: logLevel.ERROR,
  namespace: 'Connection',
  message: 'Response Metadata(key: 3, version: 6)',
  error,
});

describe('kafkajsLogLevel', () => {
  it('writes the retriable error responses kafkajs retries itself at debug', () => {
    for (const error of [
      'This server does not host this topic-partition',
      "The coordinator is loading and hence can't process requests for this group",
      'The group coordinator is not available',
      'There is no leader for this topic-partition as we are in the middle of a leadership election',
    ])
      expect(kafkajsLogLevel(response(error)), error).toBe('debug');
  });

  it("writes kafkajs's summary of a CreateTopics answer at debug (ensureTopics reports what it cannot use)", () => {
    const createTopics = {
      ...response('Topic creation errors'),
      message: 'Response CreateTopics(key: 19, version: 3)',
    };
    expect(kafkajsLogLevel(createTopics)).toBe('debug');
    // The same text from another request, or another error of CreateTopics, keeps its level.
    expect(kafkajsLogLevel(response('Topic creation errors'))).toBe('error');
    expect(
      kafkajsLogLevel({
        ...createTopics,
        error: 'Not authorized to access topics: [Topic authorization failed]',
      }),
    ).toBe('error');
  });

  it('keeps a response error that is not retriable at error', () => {
    expect(kafkajsLogLevel(response('Not authorized to access topics: [Topic authorization failed]'))).toBe(
      'error',
    );
    expect(kafkajsLogLevel(response('something kafkajs has never said'))).toBe('error');
  });

  it('keeps every other error line at error, and warn and info as they are', () => {
    const other = {
      level: logLevel.ERROR,
      namespace: 'Consumer',
      message: 'Crash: KafkaJSNumberOfRetriesExceeded',
    };
    expect(kafkajsLogLevel({ ...other, error: 'The group coordinator is not available' })).toBe('error');
    expect(kafkajsLogLevel({ ...response('x'), message: 'Connection error: read ECONNRESET' })).toBe('error');
    expect(kafkajsLogLevel({ ...other, level: logLevel.WARN })).toBe('warn');
    expect(kafkajsLogLevel({ ...other, level: logLevel.INFO })).toBe('info');
  });
});
