/**
 * A V8 `.cpuprofile` (from `node --cpu-prof` or the inspector's Profiler) as profile-summary.ts and
 * profile-stalls.ts read it: its nodes, and each frame named for a reader (function and file:line) and by owner.
 */
import { readFileSync } from 'node:fs';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
}

export const readProfile = (file: string): Profile => JSON.parse(readFileSync(file, 'utf8')) as Profile;

/** A path relative to the repository (node_modules/<pkg>/…, src/…, dev/…), or the URL as given (node:…). */
export const shortUrl = (url: string): string =>
  url.replace(/^file:\/\/.*?\/(node_modules\/|src\/|bench\/|dev\/|test\/)/, '$1');

/** Who a frame belongs to: custody (src/<dir>), a dependency (its package), the emulator, Node, or V8. */
export const owner = (n: ProfileNode): string => {
  const url = shortUrl(n.callFrame.url);
  if (!url) return n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native)';
  const m = /^(node_modules\/(?:@[^/]+\/)?[^/]+|src\/[^/]+|dev\/[^/]+|bench\/[^/]+)/.exec(url);
  return m?.[1] ?? (url.startsWith('node:') ? 'node internals' : url);
};

/** The function and where it is: `name file:line`. */
export const label = (n: ProfileNode): string => {
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
};
