/**
 * LevelDB's log format (leveldb/doc/log_format.md): 32 KiB blocks of records,
 * each a masked CRC-32C (4, LE), a length (2, LE), a type (1: full, 2: first,
 * 3: middle, 4: last) and its data. The MANIFEST is such a log of version
 * edits (leveldb-version.ts); the `.log` files hold writes not yet in a table.
 */
import { concatBytes } from '../crypto/bytes.js';
import { crc32c, unmaskCrc } from './crc32c.js';
import { FileDamage, u32 } from './leveldb-bytes.js';

const LOG_BLOCK = 32768;
const LOG_HEADER = 7;

/**
 * The records of a log file. A record cut short at the end of the file is
 * where LevelDB's reader stops too (a write in progress, or torn by a crash);
 * a record whose CRC fails, or that runs past its block, is damage.
 */
export function* logRecords(file: string, bytes: Uint8Array): Generator<Uint8Array> {
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

export function checkLogFile(file: string, bytes: Uint8Array): void {
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
