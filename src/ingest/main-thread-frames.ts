/**
 * Which frames ingest's main thread parses itself. Most frames are parsed once, by the snapshot worker, which hands
 * back what their evidence record needs (frame-summary.ts); the main thread must parse, as the frame arrives, those
 * it acts on at once: control frames the channel handles (channel.metadata, v2.system.*, a bare `{"result":…}`), and
 * station and persistent-connection events, which change the user contexts extraction reads before the next frame.
 *
 * Decided from the topic name, read without parsing: Genesys sends `topicName` first (research/genesys.md §2.3), so
 * a frame that starts `{"topicName":"<name>"` names its topic there. It could still name another one later, since
 * JSON.parse keeps the last of duplicate keys, so a frame with a second `"topicName"` key, or with any `\u` escape
 * (a key may be escaped), is parsed here too, as is any frame laid out otherwise. Parsing a data frame here costs
 * time, never correctness.
 */
const HEAD = '{"topicName":"';

export function mayNeedMainThread(text: string): boolean {
  if (!text.startsWith(HEAD)) return true;
  const end = text.indexOf('"', HEAD.length);
  if (end < 0) return true;
  const topic = text.slice(HEAD.length, end);
  if (
    topic === 'channel.metadata' ||
    topic.startsWith('v2.system.') ||
    topic.endsWith('.station') ||
    topic.endsWith('.persistentconnection') ||
    topic.includes('\\')
  )
    return true;
  return text.includes('"topicName"', end) || text.includes('\\u', end);
}
