/**
 * JSON Schemas of varied shape for structured-output tests (Node and the browser worker): every
 * string, array and number is bounded so that even a model that knows no JSON (stories260K)
 * finishes within a few dozen tokens, and every output must parse and validate.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

const addFormats = addFormatsModule as unknown as (a: Ajv2020) => Ajv2020;
/** A standard validator (JSON Schema 2020-12 with formats) for checking what was generated. */
export const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));

export const SCHEMAS: { name: string; schema: Record<string, unknown> }[] = [
  { name: 'flag', schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'], additionalProperties: false } },
  { name: 'person', schema: { type: 'object', properties: { name: { type: 'string', maxLength: 12 }, age: { type: 'integer', minimum: 0, maximum: 120 } }, required: ['name', 'age'], additionalProperties: false } },
  { name: 'optional_props', schema: { type: 'object', properties: { id: { type: 'integer', minimum: 1, maximum: 999 }, note: { type: 'string', maxLength: 8 } }, required: ['id'] } },
  { name: 'enum_color', schema: { type: 'object', properties: { color: { enum: ['red', 'green', 'blue'] } }, required: ['color'] } },
  { name: 'const_version', schema: { type: 'object', properties: { version: { const: 2 }, kind: { const: 'event' } }, required: ['version', 'kind'] } },
  { name: 'bounded_array', schema: { type: 'object', properties: { tags: { type: 'array', items: { type: 'string', maxLength: 6 }, minItems: 1, maxItems: 3 } }, required: ['tags'] } },
  { name: 'number_bounds', schema: { type: 'object', properties: { t: { type: 'number', minimum: -10, maximum: 40 }, n: { type: 'integer', exclusiveMinimum: 0, exclusiveMaximum: 10 } }, required: ['t', 'n'] } },
  { name: 'nested', schema: { type: 'object', properties: { user: { type: 'object', properties: { name: { type: 'string', maxLength: 10 }, admin: { type: 'boolean' } }, required: ['name', 'admin'] } }, required: ['user'] } },
  { name: 'any_of', schema: { type: 'object', properties: { v: { anyOf: [{ type: 'integer', minimum: 0, maximum: 99 }, { type: 'boolean' }] } }, required: ['v'] } },
  { name: 'one_of_disjoint', schema: { type: 'object', properties: { shape: { oneOf: [{ type: 'object', properties: { r: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['r'], additionalProperties: false }, { type: 'object', properties: { w: { type: 'integer', minimum: 1, maximum: 9 }, h: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['w', 'h'], additionalProperties: false }] } }, required: ['shape'] } },
  { name: 'ref_defs', schema: { type: 'object', $defs: { point: { type: 'object', properties: { x: { type: 'integer', minimum: 0, maximum: 9 }, y: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['x', 'y'] } }, properties: { a: { $ref: '#/$defs/point' }, b: { $ref: '#/$defs/point' } }, required: ['a', 'b'] } },
  { name: 'pattern', schema: { type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{2}$' } }, required: ['code'] } },
  { name: 'format_date', schema: { type: 'object', properties: { day: { type: 'string', format: 'date' } }, required: ['day'] } },
  { name: 'clock_pattern', schema: { type: 'object', properties: { at: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' } }, required: ['at'] } },
  { name: 'nullable', schema: { type: 'object', properties: { middle: { type: ['string', 'null'], maxLength: 5 } }, required: ['middle'] } },
  { name: 'string_lengths', schema: { type: 'object', properties: { pin: { type: 'string', minLength: 4, maxLength: 4 }, pin2: { type: 'string', pattern: '^[0-9]{4}$' } }, required: ['pin', 'pin2'] } },
  { name: 'array_of_objects', schema: { type: 'object', properties: { items: { type: 'array', maxItems: 2, items: { type: 'object', properties: { sku: { type: 'integer', minimum: 1, maximum: 99 }, qty: { type: 'integer', minimum: 1, maximum: 5 } }, required: ['sku', 'qty'], additionalProperties: false } } }, required: ['items'] } },
  { name: 'tuple', schema: { type: 'object', properties: { pair: { type: 'array', prefixItems: [{ type: 'integer', minimum: 0, maximum: 9 }, { type: 'boolean' }], items: false } }, required: ['pair'] } },
  { name: 'root_array', schema: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 50 }, minItems: 2, maxItems: 4 } },
  { name: 'root_enum', schema: { enum: ['yes', 'no', 'maybe'] } },
  { name: 'additional_schema', schema: { type: 'object', properties: { kind: { const: 'map' } }, required: ['kind'], additionalProperties: false } },
  { name: 'deep_nesting', schema: { type: 'object', properties: { a: { type: 'object', properties: { b: { type: 'object', properties: { c: { type: 'array', maxItems: 2, items: { enum: [1, 2, 3] } } }, required: ['c'] } }, required: ['b'] } }, required: ['a'] } },
  { name: 'uuid', schema: { type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] } },
];
