/**
 * A node folder as the CLI lays it out:
 *   <dir>/ledger/          the LevelDB ledger
 *   <dir>/keys/sequencer.key  the sequencer's signer key (mode 0600)
 *   <dir>/keys/<member>.key   member signer keys made by init (mode 0600)
 *   <dir>/sequencer.pub    the sequencer's verifier key, to publish
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../cli-api.js';
import { ErrorCode } from '../index.js';

export const ledgerPath = (dir: string): string => join(dir, 'ledger');
export const keysPath = (dir: string): string => join(dir, 'keys');
export const sequencerKeyPath = (dir: string): string => join(dir, 'keys', 'sequencer.key');

export function readKeyFile(path: string): string {
  if (!existsSync(path)) fail(ErrorCode.INVALID_ARGUMENT, `key file ${path} does not exist`);
  return readFileSync(path, 'utf8').trim();
}

/** `--key` accepts a key or a file holding one. */
export function keyArgument(value: string): string {
  if (existsSync(value)) return readFileSync(value, 'utf8').trim();
  // Keys contain '+'; something without one was meant as a path.
  if (!value.includes('+')) {
    fail(ErrorCode.INVALID_ARGUMENT, `no key file ${value}`, {
      hint: 'give a key file path, or the key text itself',
    });
  }
  return value.trim();
}
