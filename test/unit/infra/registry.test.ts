import { describe, expect, it } from 'vitest';
import { parseJavaMajor, registryUrl } from '../../../infra/registry.ts';

describe('the local schema registry', () => {
  it('reads the Java major version from `java -version` (Apicurio 3.3 needs 21)', () => {
    expect(parseJavaMajor('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment')).toBe(17);
    expect(parseJavaMajor('openjdk version "25.0.3" 2026-04-21 LTS')).toBe(25);
    expect(parseJavaMajor('java version "1.8.0_392"')).toBe(8);
    expect(parseJavaMajor('openjdk version "21" 2023-09-19')).toBe(21);
    expect(parseJavaMajor('not java')).toBeUndefined();
  });

  it('is used through its Confluent-compatible API', () => {
    expect(registryUrl(8081)).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
  });
});
