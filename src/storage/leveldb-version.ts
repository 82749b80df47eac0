/**
 * What LevelDB's current version holds (db/version_edit.cc): CURRENT names
 * the MANIFEST, a log of version edits; the live tables are the files the
 * edits add (tag 7) and do not delete (tag 6), with sizes, and the logs
 * LevelDB will replay are those from the edits' log number on (tags 2, 9).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileDamage, Reader, unreadable } from './leveldb-bytes.js';
import { checkLogFile, logRecords } from './leveldb-log.js';

/** A live table: its file number and its size as LevelDB recorded it. */
export interface LiveTable {
  readonly number: number;
  readonly size: number;
}

/** What the MANIFEST says of the current version: live tables, and which logs LevelDB will replay. */
export interface Version {
  readonly tables: LiveTable[];
  /** Logs numbered from this one on hold writes not yet in a table (VersionEdit tag 2). */
  readonly logNumber: number;
  /** An older log still to replay, or 0 (tag 9). */
  readonly prevLogNumber: number;
}

/**
 * The tables LevelDB's current version holds, from CURRENT and the MANIFEST
 * it names; undefined for a folder LevelDB has not created yet (no CURRENT).
 */
export function liveTables(dir: string): LiveTable[] | undefined {
  return readVersion(dir)?.tables;
}

/** The current version (see `Version`); undefined for a folder LevelDB has not created yet. */
export function readVersion(dir: string): Version | undefined {
  let current: string;
  try {
    current = readFileSync(join(dir, 'CURRENT'), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const name = current.endsWith('\n') ? current.slice(0, -1) : current;
  if (!/^MANIFEST-\d+$/.test(name)) throw new FileDamage('CURRENT', 'does not name a MANIFEST file');
  let manifest: Uint8Array;
  try {
    manifest = readFileSync(join(dir, name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new FileDamage(name, 'is missing');
    throw e;
  }
  const state: EditState = { live: new Map(), logNumber: 0, prevLogNumber: 0 };
  for (const edit of logRecords(name, manifest)) {
    try {
      applyEdit(edit, state);
    } catch (e) {
      throw new FileDamage(name, `a version edit does not parse (${(e as Error).message})`);
    }
  }
  return { tables: [...state.live.values()], logNumber: state.logNumber, prevLogNumber: state.prevLogNumber };
}

interface EditState {
  /** Live tables keyed level/number. */
  readonly live: Map<string, LiveTable>;
  logNumber: number;
  prevLogNumber: number;
}

/** Applies one VersionEdit (db/version_edit.cc, `DecodeFrom`). */
function applyEdit(edit: Uint8Array, state: EditState): void {
  const r = new Reader(edit);
  while (!r.done) {
    const tag = r.varint();
    switch (tag) {
      case 1: // comparator name
        r.slice();
        break;
      case 2:
        state.logNumber = r.varint();
        break;
      case 9:
        state.prevLogNumber = r.varint();
        break;
      case 3: // next file number
      case 4: // last sequence
        r.varint();
        break;
      case 5: // compaction pointer: level, internal key
        r.varint();
        r.slice();
        break;
      case 6: {
        const level = r.varint();
        state.live.delete(`${level}/${r.varint()}`);
        break;
      }
      case 7: {
        const level = r.varint();
        const number = r.varint();
        const size = r.varint();
        r.slice(); // smallest key
        r.slice(); // largest key
        state.live.set(`${level}/${number}`, { number, size });
        break;
      }
      default:
        throw new Error(`unknown tag ${tag}`);
    }
  }
}

/**
 * Checks the logs LevelDB will replay when it opens the folder. With
 * `paranoid_checks` off, LevelDB's recovery skips a damaged record (and the
 * rest of its 32 KiB block) and goes on: acknowledged blocks would vanish
 * without a word. A bad record is accepted only where a crash can leave one,
 * at the very end: nothing but zeros after it (a write cut short, or space
 * the file system had allocated). Anything written after it is damage.
 */
export function checkLogs(dir: string, version: Version): void {
  for (const name of readdirSync(dir)) {
    const m = /^(\d+)\.log$/.exec(name);
    if (m === null) continue;
    const number = Number(m[1]);
    if (number < version.logNumber && number !== version.prevLogNumber) continue; // obsolete
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(join(dir, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted since listed: not replayed
      throw unreadable(name, e);
    }
    checkLogFile(name, bytes);
  }
}
