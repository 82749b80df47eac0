/**
 * Blind-index search tokens (DESIGN.md "Privacy-preserving queries"; the
 * CipherSweet construction): a searchable term of a sensitive resource is
 * stored only as a keyed, truncated token, so a node can match a token it is
 * asked for without learning the term, and a token matches several records on
 * purpose (no token names one record). Pure: no I/O.
 *
 *   index key   = HKDF-SHA256(department key, info = BLIND_INDEX_KEY_INFO ‖ MessagePack [index, fields])
 *   token       = the first `bits` bits of HMAC-SHA256(index key, MessagePack [normalised terms])
 *
 * The department key never leaves the department (its local-only store);
 * index keys reach grantees inside sealed payloads. Token length is planned
 * from the expected number of records R so that each token matches between 2
 * and √R of them (CipherSweet's rule): 2 ≤ R / 2^bits ≤ √R.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { checkBytes, concatBytes, show, utf8 } from '../crypto/bytes.js';
import { BLIND_INDEX_KEY_INFO } from '../crypto/domain.js';
import { pack } from '../encoding/msgpack.js';
import { ErrorCode, fail } from '../errors.js';

/** An index over one or more fields; a low-entropy field (a level, a department, a flag) only with others. */
export interface BlindIndexSpec {
  readonly name: string;
  readonly fields: readonly string[];
  /** Fields with few values: an index of these alone would name its values by counting, so it is refused. */
  readonly lowEntropy?: readonly string[];
}

/** Terms compare equal after NFKC, lower case, trimming and collapsing inner white space. */
export function normalizeTerm(term: string): string {
  if (typeof term !== 'string')
    fail(ErrorCode.INVALID_ARGUMENT, `a search term must be a string, not ${show(term)}`);
  return term.normalize('NFKC').toLowerCase().trim().replace(/\s+/gu, ' ');
}

export function checkIndexSpec(spec: BlindIndexSpec): void {
  if (typeof spec?.name !== 'string' || spec.name === '')
    fail(ErrorCode.INVALID_ARGUMENT, 'a blind index needs a name');
  if (!Array.isArray(spec.fields) || spec.fields.length === 0)
    fail(ErrorCode.INVALID_ARGUMENT, `blind index ${spec.name} needs at least one field`);
  const low = new Set(spec.lowEntropy ?? []);
  if (spec.fields.every((f) => low.has(f)))
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `blind index ${spec.name} has only low-entropy fields (${spec.fields.join(', ')})`,
      {
        hint: 'index a low-entropy field only together with a field of many values (a compound index)',
      },
    );
}

/** The key of index `spec` under a department's 32-byte key. */
export function blindIndexKey(departmentKey: Uint8Array, spec: BlindIndexSpec): Uint8Array {
  checkBytes(departmentKey, 'department key');
  if (departmentKey.length !== 32) fail(ErrorCode.INVALID_ARGUMENT, 'a department key is 32 bytes');
  checkIndexSpec(spec);
  return hkdf(
    sha256,
    departmentKey,
    undefined,
    concatBytes(utf8(BLIND_INDEX_KEY_INFO), pack([spec.name, [...spec.fields]])),
    32,
  );
}

/** The token of `terms` (one per field of the index, in its order), `bits` long (the last byte's unused bits zero). */
export function blindToken(indexKey: Uint8Array, terms: readonly string[], bits: number): Uint8Array {
  if (!Number.isInteger(bits) || bits < 1 || bits > 256)
    fail(ErrorCode.INVALID_ARGUMENT, `a token is 1 to 256 bits, not ${bits}`);
  const mac = hmac(sha256, indexKey, pack(terms.map(normalizeTerm)));
  const out = mac.slice(0, Math.ceil(bits / 8));
  if (bits % 8 !== 0) out[out.length - 1]! &= 0xff << (8 - (bits % 8));
  return out;
}

/** A token length for `records` expected records, and what it means. */
export interface TokenPlan {
  readonly bits: number;
  /** Records a token matches by chance, R / 2^bits (the planner keeps it in [2, √R]). */
  readonly matchesPerToken: number;
  /** The chance that a given record matches a token it does not hold: 2^-bits. */
  readonly falsePositiveRate: number;
}

/**
 * CipherSweet's rule: each token should match between 2 and √R records, so
 * 2^bits ≤ R / 2 and 2^bits ≥ √R. The shortest such length is taken (the
 * most matches per token, the least a token says), at least 1 bit.
 */
export function planTokenBits(records: number): TokenPlan {
  if (!Number.isSafeInteger(records) || records < 8)
    fail(ErrorCode.INVALID_ARGUMENT, `plan a blind index for at least 8 records, not ${show(records)}`);
  const bits = Math.max(1, Math.ceil(Math.log2(records) / 2));
  if (2 ** bits > records / 2) fail(ErrorCode.INTERNAL, `no token length fits ${records} records`);
  return { bits, matchesPerToken: records / 2 ** bits, falsePositiveRate: 2 ** -bits };
}
