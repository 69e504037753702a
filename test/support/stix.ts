/**
 * The OASIS STIX 2.1 JSON schemas (vendored under test/fixtures/stix2.1, BSD-3-Clause, so that a
 * clean clone needs nothing outside the repository), compiled once with ajv.
 */
import fs from 'node:fs';
import path from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const SCHEMAS = path.resolve(import.meta.dirname, '../fixtures/stix2.1/schemas');
const BASE = 'http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/';

/** `validate(object, 'sdos/indicator.json')` → the schema's error messages (empty when valid). */
export function stixValidator(): (obj: unknown, schema: string) => string[] {
  const ajv = new Ajv2020.default({ strict: false, allErrors: true, unicodeRegExp: false });
  addFormats.default(ajv);
  const walk = (d: string): string[] => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.json') ? [path.join(d, e.name)] : []));
  for (const f of walk(SCHEMAS)) ajv.addSchema(JSON.parse(fs.readFileSync(f, 'utf8')));
  return (obj, schema) => {
    const v = ajv.getSchema(BASE + schema)!;
    return v(obj) ? [] : (v.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
  };
}

/** The schema an object of a bundle is checked against. */
export function schemaOf(o: { type: string }): string {
  if (o.type === 'marking-definition') return 'common/marking-definition.json';
  if (o.type === 'sighting' || o.type === 'relationship') return `sros/${o.type}.json`;
  if (o.type === 'software') return 'observables/software.json';
  return `sdos/${o.type}.json`;
}

/**
 * Every object against its own schema, and the envelope against bundle.json. bundle.json's list of
 * object schemas predates the incident SDO (an extended incident matches two branches of its
 * `oneOf`), so the envelope is checked with the other objects.
 */
export function validateBundle(validate: ReturnType<typeof stixValidator>, bundle: { objects: Array<{ type: string }> }): string[] {
  const errors = validate({ ...bundle, objects: bundle.objects.filter((o) => o.type !== 'incident') }, 'common/bundle.json').map((e) => `bundle: ${e}`);
  for (const o of bundle.objects) errors.push(...validate(o, schemaOf(o)).map((e) => `${o.type}: ${e}`));
  return errors;
}
