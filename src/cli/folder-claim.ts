/**
 * Claiming a node folder for `dirchain init`, so that of several inits racing
 * on one folder exactly one goes on, and no init writes or removes anything
 * another one made.
 *
 * The claim is `mkdir <dir>/keys` without `recursive`: the kernel makes a
 * directory for exactly one caller and answers every other EEXIST. <dir> itself
 * cannot be the claim, since init accepts an existing empty folder (often a
 * mounted volume). The other design, building the folder as a temporary sibling
 * and renaming it into place, was rejected: rename replaces an existing empty
 * folder (its owner and mode with it), fails on a mount point (EBUSY), and a
 * crash leaves hidden siblings behind.
 *
 * Everything made after the claim is recorded, so a failed init removes exactly
 * that. sequencer.pub is written last, so keys/ without it is an init that is
 * running or stopped midway, and a rerun says so.
 */

import { existsSync, mkdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fail } from '../cli-api.js';
import { ErrorCode } from '../index.js';
import { keysPath, ledgerPath } from './node-dir.js';

/** The sequencer's verifier key, to publish: the last file init writes. */
export const publicKeyPath = (dir: string): string => join(dir, 'sequencer.pub');

type Made = { readonly path: string; readonly kind: 'file' | 'dir' | 'tree' };

export class FolderClaim {
  /** What this init made, oldest first. */
  readonly #made: Made[] = [];

  private constructor() {}

  /** Claims `dir` (made if missing), or fails with E_LEDGER_EXISTS having changed nothing. */
  static take(dir: string): FolderClaim {
    if (existsSync(dir) && !statSync(dir).isDirectory())
      fail(ErrorCode.INVALID_ARGUMENT, `${dir} is not a folder`, { hint: 'give a new or empty folder' });
    if (existsSync(ledgerPath(dir)) || existsSync(publicKeyPath(dir))) refuseExisting(dir);
    const claim = new FolderClaim();
    const top = mkdirSync(dir, { recursive: true });
    if (top !== undefined) {
      // The folders made for `dir` (`top` is the outermost), outermost first: undo goes innermost first.
      const made: string[] = [];
      for (let d = resolve(dir); ; d = dirname(d)) {
        made.unshift(d);
        if (d === resolve(top) || d === dirname(d)) break;
      }
      for (const d of made) claim.#made.push({ path: d, kind: 'dir' });
    }
    try {
      mkdirSync(keysPath(dir), { mode: 0o700 });
    } catch (e) {
      // Lost the race, or found an earlier init's keys: leave everything as it is.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') refuseExisting(dir);
      claim.undo();
      throw e;
    }
    claim.#made.push({ path: keysPath(dir), kind: 'dir' });
    return claim;
  }

  /** Writes a new file (never over one already there) and records it. */
  writeFile(path: string, text: string, mode = 0o644): void {
    try {
      writeFileSync(path, text, { flag: 'wx', mode });
    } catch (e) {
      // Half-written is still ours; one that was already there is not.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') this.#made.push({ path, kind: 'file' });
      throw e;
    }
    this.#made.push({ path, kind: 'file' });
  }

  /** Makes a new folder whose whole contents will be this init's (the LevelDB folder). */
  makeTree(path: string): void {
    mkdirSync(path);
    this.#made.push({ path, kind: 'tree' });
  }

  /** Removes what this claim made, newest first, and nothing else (a folder only if empty). */
  undo(): void {
    for (const m of this.#made.splice(0).reverse()) {
      try {
        if (m.kind === 'file') rmSync(m.path, { force: true });
        else if (m.kind === 'tree') rmSync(m.path, { recursive: true, force: true });
        else rmdirSync(m.path);
      } catch {
        // Best effort: a folder someone else has put something in stays.
      }
    }
  }
}

function refuseExisting(dir: string): never {
  if (existsSync(keysPath(dir)) && !existsSync(publicKeyPath(dir))) {
    fail(
      ErrorCode.LEDGER_EXISTS,
      `${dir} holds keys/ but no sequencer.pub: another dirchain init is making a ledger there, or one stopped midway`,
      { hint: 'if no init is running, remove the folder and run `dirchain init` again' },
    );
  }
  fail(ErrorCode.LEDGER_EXISTS, `${dir} already holds a ledger`, {
    hint: 'open it, or give init a new or empty folder',
  });
}
