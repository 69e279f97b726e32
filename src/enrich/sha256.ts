/** SHA-256 as custody writes it everywhere: lower-case hex. Its own module so that parsing code can hash without
 * depending on the manifest (which would close an import circle). */
import { createHash } from 'node:crypto';

/** Lower-case hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
