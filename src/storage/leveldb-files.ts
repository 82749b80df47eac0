/**
 * Checks LevelDB's own files before LevelDB reads them.
 *
 * classic-level opens LevelDB with neither `paranoid_checks` nor
 * `verify_checksums`, so LevelDB reads a damaged table block without checking
 * its CRC, and garbage that happens to parse reaches an assertion that aborts
 * the whole process (e.g. `ExtractUserKey: internal_key.size() >= 8`), or is
 * returned as a value. Here every block of every live table is checked
 * against its CRC-32C: when a folder is opened, and once for each table
 * LevelDB adds while it is open. Tables never change once written, so each is
 * checked once per open.
 *
 * Formats, from LevelDB 1.20 (leveldb/doc/table_format.md, log_format.md,
 * db/version_edit.cc):
 *   - CURRENT names the MANIFEST, a log of version edits; the live tables are
 *     the files the edits add (tag 7) and do not delete (tag 6), with sizes.
 *   - A log is 32 KiB blocks of records: masked CRC-32C (4, LE), length (2,
 *     LE), type (1: full, 2: first, 3: middle, 4: last), data.
 *   - A table is blocks, each followed by a type byte (0 raw, 1 Snappy) and
 *     the masked CRC-32C of the block and that byte, then a 48-byte footer:
 *     the metaindex and index block handles (varint64 offset and size) and a
 *     magic number. The index block maps each data block's last key to its
 *     handle; the metaindex names the filter block.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import snappy from 'snappyjs';
import { concatBytes } from '../crypto/bytes.js';
import { crc32c, unmaskCrc } from './crc32c.js';

/** What a check found wrong, in words a person can act on, and where. */
export class FileDamage extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
    /** The user keys around the damage, when known (the data block's key range). */
    readonly keys: { readonly after?: Uint8Array; readonly upTo?: Uint8Array } = {},
  ) {
    super(`${file}: ${detail}`);
    this.name = 'FileDamage';
  }
}

const LOG_BLOCK = 32768;
const LOG_HEADER = 7;
const FOOTER = 48;
const BLOCK_TRAILER = 5;
/** kTableMagicNumber, 0xdb4775248b80fb57, little-endian. */
const MAGIC = Uint8Array.of(0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb);

/** A varint reader over bytes that may be damaged: every read is bounds-checked. */
class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }
  get done(): boolean {
    return this.pos >= this.end;
  }
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('a number runs past its end');
      const b = this.bytes[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    throw new Error('a number is longer than 10 bytes');
  }
  slice(): Uint8Array {
    const n = this.varint();
    if (this.pos + n > this.end) throw new Error('a length runs past its end');
    this.pos += n;
    return this.bytes.subarray(this.pos - n, this.pos);
  }
}

const u32 = (b: Uint8Array, at: number): number =>
  (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/**
 * The records of a log file. A record cut short at the end of the file is
 * where LevelDB's reader stops too (a write in progress, or torn by a crash);
 * a record whose CRC fails, or that runs past its block, is damage.
 */
function* logRecords(file: string, bytes: Uint8Array): Generator<Uint8Array> {
  let pos = 0;
  let parts: Uint8Array[] | undefined;
  while (pos < bytes.length) {
    const left = LOG_BLOCK - (pos % LOG_BLOCK);
    if (left < LOG_HEADER) {
      pos += left; // a block's trailer, zeros
      continue;
    }
    if (pos + LOG_HEADER > bytes.length) return;
    const length = bytes[pos + 4]! | (bytes[pos + 5]! << 8);
    const type = bytes[pos + 6]!;
    if (type === 0 && length === 0) {
      pos += left; // preallocated space, as LevelDB's reader skips it
      continue;
    }
    if (pos + LOG_HEADER + length > bytes.length) return;
    if (LOG_HEADER + length > left)
      throw new FileDamage(file, `the record at byte ${pos} runs past its block`);
    if (unmaskCrc(u32(bytes, pos)) !== crc32c(bytes, pos + 6, pos + LOG_HEADER + length)) {
      throw new FileDamage(file, `the record at byte ${pos} fails its checksum`);
    }
    const data = bytes.subarray(pos + LOG_HEADER, pos + LOG_HEADER + length);
    pos += LOG_HEADER + length;
    if (type === 1) yield data;
    else if (type === 2) parts = [data];
    else if (type === 3 && parts) parts.push(data);
    else if (type === 4 && parts) {
      parts.push(data);
      yield concatBytes(...parts);
      parts = undefined;
    } else throw new FileDamage(file, `the record at byte ${pos} has type ${type} out of place`);
  }
}

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

function checkLogFile(file: string, bytes: Uint8Array): void {
  let pos = 0;
  let inRecord = false;
  const after = (end: number, what: string): void => {
    for (let i = Math.min(end, bytes.length); i < bytes.length; i++) {
      if (bytes[i] !== 0) throw new FileDamage(file, `${what}, and records written after it would be lost`);
    }
    pos = bytes.length; // a crash's cut-short end: LevelDB stops here too
  };
  while (pos < bytes.length) {
    const left = LOG_BLOCK - (pos % LOG_BLOCK);
    if (left < LOG_HEADER) {
      pos += left;
      continue;
    }
    if (pos + LOG_HEADER > bytes.length) {
      after(pos, `the record at byte ${pos} is cut short`);
      continue;
    }
    const length = bytes[pos + 4]! | (bytes[pos + 5]! << 8);
    const type = bytes[pos + 6]!;
    const end = pos + LOG_HEADER + length;
    if (type === 0 && length === 0) {
      after(pos, `the log has a gap of zeros at byte ${pos}`);
      continue;
    }
    if (end > bytes.length) {
      after(end, `the record at byte ${pos} is cut short`);
      continue;
    }
    if (LOG_HEADER + length > left || unmaskCrc(u32(bytes, pos)) !== crc32c(bytes, pos + 6, end)) {
      after(
        LOG_HEADER + length > left ? pos + LOG_HEADER : end,
        `the record at byte ${pos} fails its checksum`,
      );
      continue;
    }
    const fits = type === 1 || type === 2 ? !inRecord : (type === 3 || type === 4) && inRecord;
    if (!fits) {
      after(end, `the record at byte ${pos} has type ${type} out of place`);
      continue;
    }
    inRecord = type === 2 || type === 3;
    pos = end;
  }
}

/** The file a table number is stored in: `NNNNNN.ldb`, or the older `.sst`. */
export function tableFile(dir: string, number: number): string {
  const base = join(dir, String(number).padStart(6, '0'));
  try {
    statSync(`${base}.ldb`);
    return `${base}.ldb`;
  } catch {
    return `${base}.sst`;
  }
}

interface Handle {
  readonly offset: number;
  readonly size: number;
}

/**
 * Checks every block of one table: the footer's magic and handles, the CRC of
 * the index, metaindex, filter and every data block, and that the blocks
 * tile the file exactly. Throws `FileDamage` naming the first bad block.
 */
export function checkTable(dir: string, table: LiveTable): void {
  const { file, path } = tableName(dir, table);
  let bytes: Uint8Array;
  try {
    bytes = readWhole(path);
  } catch (e) {
    throw unreadable(file, e);
  }
  for (const check of tableChecks(file, bytes, table)) check();
}

/**
 * `checkTable` for a folder in use: reads without blocking and yields to the
 * event loop after each ~1 MiB checked, so a writer's acknowledgements never
 * wait behind a whole table's checksums.
 */
export async function checkTableGently(dir: string, table: LiveTable): Promise<void> {
  const { file, path } = tableName(dir, table);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw unreadable(file, e);
  }
  let since = 0;
  for (const check of tableChecks(file, bytes, table)) {
    since += check();
    if (since >= YIELD_BYTES) {
      since = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

const YIELD_BYTES = 1024 * 1024;

function tableName(dir: string, table: LiveTable): { file: string; path: string } {
  const path = tableFile(dir, table.number);
  return { file: path.slice(dir.length + 1), path };
}

/**
 * A missing file is damage; any other read error (too many open files, no
 * memory, permissions) says nothing about the data and is thrown as it is.
 */
function unreadable(file: string, e: unknown): unknown {
  return (e as NodeJS.ErrnoException).code === 'ENOENT' ? new FileDamage(file, 'is missing') : e;
}

/**
 * A table's structure, checked at once (size, footer, index and metaindex
 * blocks), then one check per block in file order; each returns the bytes it
 * checked. Throws `FileDamage`.
 */
function* tableChecks(file: string, bytes: Uint8Array, table: LiveTable): Generator<() => number> {
  if (bytes.length !== table.size) {
    throw new FileDamage(file, `is ${bytes.length} bytes, LevelDB recorded ${table.size}`);
  }
  if (bytes.length < FOOTER || !MAGIC.every((b, i) => bytes[bytes.length - 8 + i] === b)) {
    throw new FileDamage(file, 'has no table footer');
  }
  const footer = new Reader(bytes, bytes.length - FOOTER, bytes.length - 8);
  let metaindex: Handle;
  let index: Handle;
  try {
    metaindex = { offset: footer.varint(), size: footer.varint() };
    index = { offset: footer.varint(), size: footer.varint() };
  } catch {
    throw new FileDamage(file, 'has a damaged footer');
  }
  // LevelDB pads the handles with zeros to 40 bytes (Footer::EncodeTo).
  for (let i = footer.pos; i < bytes.length - 8; i++) {
    if (bytes[i] !== 0) throw new FileDamage(file, 'has a damaged footer');
  }
  const blocks: Array<Handle & { what: string; keys?: FileDamage['keys'] }> = [
    { ...metaindex, what: 'metaindex block' },
    { ...index, what: 'index block' },
  ];
  let previous: Uint8Array | undefined;
  for (const [key, value] of blockEntries(file, bytes, index, 'index block')) {
    const handle = decodeHandle(file, value, 'index block');
    const userKey = key.length >= 8 ? key.subarray(0, key.length - 8) : key;
    blocks.push({
      ...handle,
      what: 'data block',
      keys: { ...(previous ? { after: previous } : {}), upTo: userKey },
    });
    previous = userKey;
  }
  for (const [, value] of blockEntries(file, bytes, metaindex, 'metaindex block')) {
    blocks.push({ ...decodeHandle(file, value, 'metaindex block'), what: 'filter block' });
  }
  blocks.sort((a, b) => a.offset - b.offset);
  let expect = 0;
  for (const b of blocks) {
    if (b.offset !== expect) {
      throw new FileDamage(
        file,
        `the ${b.what} at byte ${b.offset} does not follow the block before it`,
        b.keys,
      );
    }
    yield () => {
      checkChecksum(file, bytes, b, b.what, b.keys);
      return b.size;
    };
    expect = b.offset + b.size + BLOCK_TRAILER;
  }
  if (expect !== bytes.length - FOOTER) throw new FileDamage(file, 'its blocks do not reach the footer');
}

function readWhole(path: string): Uint8Array {
  // One read of the whole file (tables are a few MiB), without readFileSync's
  // extra copy into a growing buffer.
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const out = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const n = readSync(fd, out, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    return at === size ? out : out.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}

function decodeHandle(file: string, value: Uint8Array, where: string): Handle {
  try {
    const r = new Reader(value);
    return { offset: r.varint(), size: r.varint() };
  } catch {
    throw new FileDamage(file, `a block handle in its ${where} does not parse`);
  }
}

/** Checks that a block lies inside the file and matches its CRC. */
function checkChecksum(
  file: string,
  bytes: Uint8Array,
  h: Handle,
  what: string,
  keys?: FileDamage['keys'],
): void {
  const end = h.offset + h.size;
  if (end + BLOCK_TRAILER > bytes.length - FOOTER) {
    throw new FileDamage(file, `its ${what} at byte ${h.offset} runs past the end of the file`, keys);
  }
  if (unmaskCrc(u32(bytes, end + 1)) !== crc32c(bytes, h.offset, end + 1)) {
    throw new FileDamage(file, `its ${what} at byte ${h.offset} fails its checksum`, keys);
  }
}

/** Checks a block (see `checkChecksum`) and returns its contents, uncompressed: for index blocks. */
function checkBlock(file: string, bytes: Uint8Array, h: Handle, what: string): Uint8Array {
  checkChecksum(file, bytes, h, what);
  const end = h.offset + h.size;
  const keys = undefined;
  const type = bytes[end]!;
  const raw = bytes.subarray(h.offset, end);
  if (type === 0) return raw;
  if (type === 1) {
    try {
      return snappy.uncompress(raw, 64 * 1024 * 1024);
    } catch {
      throw new FileDamage(file, `its ${what} at byte ${h.offset} does not decompress`, keys);
    }
  }
  throw new FileDamage(file, `its ${what} at byte ${h.offset} has compression type ${type}`, keys);
}

/** The key/value entries of a block (table/block.cc): prefix-compressed keys, then the restart array. */
function blockEntries(
  file: string,
  bytes: Uint8Array,
  h: Handle,
  what: string,
): Array<[Uint8Array, Uint8Array]> {
  const block = checkBlock(file, bytes, h, what);
  try {
    if (block.length < 4) throw new Error('too short');
    const restarts = u32(block, block.length - 4);
    const end = block.length - 4 - 4 * restarts;
    if (restarts === 0 || end < 0) throw new Error('bad restart count');
    const r = new Reader(block, 0, end);
    const out: Array<[Uint8Array, Uint8Array]> = [];
    let key = new Uint8Array(0);
    while (!r.done) {
      const shared = r.varint();
      const unshared = r.varint();
      const valueLength = r.varint();
      if (shared > key.length || r.pos + unshared + valueLength > end) throw new Error('entry out of bounds');
      const next = new Uint8Array(shared + unshared);
      next.set(key.subarray(0, shared));
      next.set(block.subarray(r.pos, r.pos + unshared), shared);
      r.pos += unshared;
      key = next;
      out.push([key, block.subarray(r.pos, r.pos + valueLength)]);
      r.pos += valueLength;
    }
    return out;
  } catch (e) {
    throw new FileDamage(file, `its ${what} does not parse (${(e as Error).message})`);
  }
}
