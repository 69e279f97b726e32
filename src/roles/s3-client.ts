/** custody's S3 client, built from the validated config. */
import { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../config.ts';

/**
 * What custody's S3 clients set besides the endpoint and credentials: SHA-256 checksums are asked for explicitly
 * where custody writes evidence, and the SDK's default CRC32 on every request and response (a second pass over
 * every audio file read) is left off. The benchmarks build their clients with these too.
 */
export const S3_CLIENT_OPTIONS = {
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
} as const;

export function s3FromConfig(config: Config): S3Client {
  const s3 = config.s3;
  return new S3Client({
    region: s3.region,
    endpoint: s3.endpoint,
    forcePathStyle: s3.forcePathStyle,
    credentials: s3.credentials
      ? {
          accessKeyId: s3.credentials.accessKeyId,
          secretAccessKey: s3.credentials.secretAccessKey.reveal(),
          sessionToken: s3.credentials.sessionToken?.reveal(),
        }
      : undefined,
    ...S3_CLIENT_OPTIONS,
  });
}
