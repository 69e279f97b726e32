/**
 * `schemas/manifest.v1.schema.json` compiled with ajv (JSON Schema 2020-12, strict, with formats), so
 * `custody verify` checks each manifest against the published schema itself, not only against custody's own
 * runtime schema (which a unit test keeps equal to it).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its types declare a `default` member, but at run time the default import is the plugin.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** `schemas/` at the project root; the same relative path from `src/verify` and a built `dist/verify`. */
const SCHEMA_FILE = new URL('../../schemas/manifest.v1.schema.json', import.meta.url);

/** A validator answering the problems (at most five, `path: message`), empty when the value is valid. */
export function compileManifestJsonSchema(): (value: unknown) => readonly string[] {
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  return (value) =>
    validate(value)
      ? []
      : (validate.errors ?? [])
          .slice(0, 5)
          .map((e) => `${e.instancePath || '(root)'}: ${e.message ?? 'invalid'}`);
}
