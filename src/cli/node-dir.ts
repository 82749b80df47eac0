/**
 * A node folder as the CLI lays it out:
 *   <dir>/ledger/          the LevelDB ledger
 *   <dir>/keys/sequencer.key  the sequencer's signer key (mode 0600)
 *   <dir>/keys/<member>.key   member signer keys made by init (mode 0600)
 *   <dir>/sequencer.pub    the sequencer's verifier key, to publish
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fail } from '../cli-api.js';
import { ErrorCode } from '../index.js';

export const ledgerPath = (dir: string): string => join(dir, 'ledger');
export const keysPath = (dir: string): string => join(dir, 'keys');
export const sequencerKeyPath = (dir: string): string => join(dir, 'keys', 'sequencer.key');

/** What a file system path is, without following it into an error. */
function kindOf(path: string): 'file' | 'dir' | 'missing' | 'other' {
  try {
    const s = statSync(path);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    return fail(ErrorCode.STORAGE, `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

const INIT_MADE = 'give the folder `dirchain init` made (it holds ledger/ and keys/)';

/**
 * Fails with E_LEDGER_NOT_FOUND, naming `dir` and what it lacks, unless `dir`
 * holds a ledger (`<dir>/ledger` with its LevelDB). Only looks: a command that
 * reads never creates anything where there is no ledger, so `dirchain init`
 * can make one there afterwards.
 */
export function requireLedgerFolder(dir: string): void {
  const ledger = ledgerPath(dir);
  if (kindOf(join(ledger, 'CURRENT')) === 'file') return;
  const initHere = `\`dirchain init ${dir} --origin <name>\``;
  const folder = kindOf(dir);
  if (folder === 'missing') {
    fail(ErrorCode.LEDGER_NOT_FOUND, `no ledger at ${dir}: the folder does not exist`, {
      hint: `${INIT_MADE}, or create a ledger there with ${initHere}`,
    });
  }
  if (folder !== 'dir')
    fail(ErrorCode.LEDGER_NOT_FOUND, `no ledger at ${dir}: it is not a folder`, { hint: INIT_MADE });
  if (kindOf(join(dir, 'CURRENT')) === 'file') {
    fail(ErrorCode.LEDGER_NOT_FOUND, `${dir} is a ledger's LevelDB folder, not a dirchain folder`, {
      hint: `give the folder that holds it: ${dirname(resolve(dir))}`,
    });
  }
  if (kindOf(ledger) !== 'missing') {
    fail(ErrorCode.LEDGER_NOT_FOUND, `no ledger at ${dir}: ${ledger} holds no ledger database`, {
      hint: `${INIT_MADE}; if ${ledger} is left from an init that failed, remove it and run ${initHere}`,
    });
  }
  fail(ErrorCode.LEDGER_NOT_FOUND, `${dir} is not a dirchain folder: it holds no ledger/`, {
    hint: `${INIT_MADE}, or create a ledger there with ${initHere}`,
  });
}

/**
 * The sequencer key of the node folder `dir`, to write to its ledger. A folder
 * that holds no ledger is E_LEDGER_NOT_FOUND (it is the wrong folder, not a
 * missing key); a ledger without its key (a copy) is E_READ_ONLY.
 */
export function readSequencerKey(dir: string): string {
  requireLedgerFolder(dir);
  const path = sequencerKeyPath(dir);
  if (kindOf(path) !== 'file') {
    fail(
      ErrorCode.READ_ONLY,
      `${dir} holds a ledger but not its sequencer key (${path}): it can only be read`,
      {
        hint: 'write on the node that holds keys/sequencer.key (a copy of a ledger has no key to sign its blocks)',
      },
    );
  }
  return readFileSync(path, 'utf8').trim();
}

export function readKeyFile(path: string): string {
  if (!existsSync(path)) {
    // `<dir>/keys/sequencer.key` (the key a write opens its ledger with): say what is wrong with <dir>.
    const dir = dirname(dirname(path));
    if (resolve(path) === resolve(sequencerKeyPath(dir))) return readSequencerKey(dir);
    fail(ErrorCode.INVALID_ARGUMENT, `key file ${path} does not exist`);
  }
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
