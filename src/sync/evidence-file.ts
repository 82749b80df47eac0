/**
 * Where followers and witnesses keep what they saw a log do wrong: one JSON
 * file per finding, never overwritten (encoding/evidence.ts has the formats).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes `json` to a new file `<kind>-<name>.json` in `dir` (made if missing); returns its path.
 * `name` is when it was seen (ISO 8601), or what identifies the finding, so one seen again is
 * refused (EEXIST) rather than kept twice.
 */
export function keepEvidence(dir: string, kind: string, name: string, json: object): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${kind}-${name.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`, { flag: 'wx' });
  return file;
}
