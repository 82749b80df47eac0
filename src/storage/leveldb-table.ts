/**
 * Checks LevelDB's tables (leveldb/doc/table_format.md): a table is blocks,
 * each followed by a type byte (0 raw, 1 Snappy) and the masked CRC-32C of
 * the block and that byte, then a 48-byte footer: the metaindex and index
 * block handles (varint64 offset and size) and a magic number. The index
 * block maps each data block's last key to its handle; the metaindex names
 * the filter block.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import snappy from 'snappyjs';
import { crc32c, unmaskCrc } from './crc32c.js';
import { FileDamage, Reader, u32, unreadable } from './leveldb-bytes.js';
import type { LiveTable } from './leveldb-version.js';

const FOOTER = 48;
const BLOCK_TRAILER = 5;
/** kTableMagicNumber, 0xdb4775248b80fb57, little-endian. */
const MAGIC = Uint8Array.of(0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb);

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
