/**
 * Which record kinds may carry committed attributes, the names each declares
 * and the fixed leaf count of its commitment (src/privacy/commitment.ts). A
 * name a kind does not declare is refused when committing and when checking a
 * disclosure (SD-JWT's rule for undeclared claims). Pure: no I/O.
 */

import { unpackChecked } from '../encoding/msgpack.js';
import { decodeRecord, type LedgerRecord } from '../encoding/record.js';
import type { AttributeSchema } from './commitment.js';

/** Every commitment has this many leaves (real attributes and decoys): its count says nothing. */
export const ATTRIBUTE_SLOTS = 8;

const schema = (...names: string[]): AttributeSchema => ({ names, slots: ATTRIBUTE_SLOTS });

/** A resource's attributes, the same in each of its versions. */
const RESOURCE = schema(
  'description',
  'sourceSystem',
  'contact',
  'fields',
  'legalBasis',
  'location',
  'notes',
);

export const ATTRIBUTE_SCHEMAS: Readonly<Record<string, AttributeSchema>> = {
  'resource.register': RESOURCE,
  'resource.update': RESOURCE,
  'request.open': schema('justification', 'purpose', 'subjects', 'fields', 'notes'),
  'grant.issue': schema('conditions', 'terms', 'purpose', 'fields', 'legalBasis', 'notes'),
  'access.log': schema('purpose', 'subject', 'query', 'result', 'notes'),
};

/**
 * The commitment a record carries (`committed` in its body; for a grant, in
 * its terms), or undefined when it carries none or its kind takes none.
 */
export function commitmentOf(record: LedgerRecord | Uint8Array): Uint8Array | undefined {
  const r = record instanceof Uint8Array ? decodeRecord(record) : record;
  if (ATTRIBUTE_SCHEMAS[r.kind] === undefined) return undefined;
  const c = fieldsOf(r)?.committed;
  return c instanceof Uint8Array && c.length === 32 ? c : undefined;
}

/**
 * A record's own fields: its body, or for a grant the terms its body carries
 * as bytes (so approvals cover them). Undefined when the body is no map.
 */
export function fieldsOf(record: {
  readonly kind: string;
  readonly body: unknown;
}): Record<string, unknown> | undefined {
  let body = record.body as Record<string, unknown> | null;
  if (record.kind === 'grant.issue' && body !== null && body.terms instanceof Uint8Array)
    body = unpackChecked(body.terms) as Record<string, unknown>;
  return typeof body === 'object' && body !== null ? body : undefined;
}
