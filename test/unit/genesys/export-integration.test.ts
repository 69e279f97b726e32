import { describe, expect, it } from 'vitest';
import type { Models } from 'purecloud-platform-client-v2';
import { chooseExportIntegration, EXPORT_INTEGRATION_TYPE } from '../../../src/genesys/export-integration.ts';
import { FatalError } from '../../../src/runtime/errors.ts';

const integration = (id: string, typeId: string, intendedState = 'ENABLED'): Models.Integration => ({
  id,
  name: `integration ${id}`,
  integrationType: { id: typeId },
  intendedState,
});

describe('chooseExportIntegration', () => {
  it('takes the one enabled export integration among others', () => {
    expect(
      chooseExportIntegration([
        integration('a', 'custom-rest-actions'),
        integration('b', EXPORT_INTEGRATION_TYPE),
        integration('c', EXPORT_INTEGRATION_TYPE, 'DISABLED'),
      ]),
    ).toBe('b');
  });

  it('compares the type and state case-insensitively', () => {
    expect(
      chooseExportIntegration([integration('b', 'AWS-S3-Recording-Bulk-Actions-Integration', 'enabled')]),
    ).toBe('b');
  });

  it('names every candidate and the setting when several are enabled', () => {
    const e = (() => {
      try {
        chooseExportIntegration([
          integration('b', EXPORT_INTEGRATION_TYPE),
          integration('c', EXPORT_INTEGRATION_TYPE),
        ]);
      } catch (x) {
        return x;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(FatalError);
    expect((e as FatalError).setting).toBe('GENESYS_EXPORT_INTEGRATION_ID');
    expect((e as Error).message).toMatch(
      /2 enabled .* b \(integration b, ENABLED\), c \(integration c, ENABLED\)/,
    );
  });

  it('says what to do when there is none, or none enabled', () => {
    expect(() => chooseExportIntegration([integration('a', 'custom-rest-actions')])).toThrow(
      /no aws-s3-recording-bulk-actions-integration integration/,
    );
    expect(() => chooseExportIntegration([integration('c', EXPORT_INTEGRATION_TYPE, 'DISABLED')])).toThrow(
      /not enabled: c/,
    );
  });
});
