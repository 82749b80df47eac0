/**
 * Where followers and witnesses keep what they saw a log do wrong: one JSON
 * file per finding, never overwritten (encoding/evidence.ts has the formats).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `json` to a new file `<kind>-<time>.json` in `dir` (made if missing); returns its path. */
export function keepEvidence(dir: string, kind: string, seenAt: string, json: object): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${kind}-${seenAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`, { flag: 'wx' });
  return file;
}
