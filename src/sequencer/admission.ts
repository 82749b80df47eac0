/**
 * Admission of records signed elsewhere: the author's key from the state, the
 * signature checked off the main thread (admission-pool.ts). Only a record's
 * head is read here; its body is decoded strictly when its block is formed
 * (chain/apply.ts), so the records waiting hold no decoded bodies.
 */
import { copyBytes, typeOf } from '../crypto/bytes.js';
import { BATCH_KIND, isEventEntry } from '../encoding/event.js';
import { type RecordHead, readRecordHead } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import type { StateView } from '../policy/entities.js';
import type { AdmissionPool } from './admission-pool.js';
import { badRecordSignature, batchSealAlone, type Pending, toError } from './pending.js';

export class Admission {
  readonly #pool: AdmissionPool;
  readonly #state: StateView;

  constructor(pool: AdmissionPool, state: StateView) {
    this.#pool = pool;
    this.#state = state;
  }

  /** The public key a record's author and keyId name (refusals for unknown ones). */
  authorKey(record: { readonly author: string; readonly keyId: number }): Uint8Array {
    const member = this.#state.get('member', record.author);
    if (member === undefined) {
      fail(ErrorCode.UNKNOWN_MEMBER, `author ${JSON.stringify(record.author)} is not a member`, {
        hint: 'an admin must add the member first',
      });
    }
    const key = member.keys[record.keyId];
    if (key === undefined) fail(ErrorCode.UNKNOWN_KEY, `member ${record.author} has no key ${record.keyId}`);
    return key;
  }

  /**
   * Checks a record's author signature (off the main thread) and returns the
   * pending item. Only the record's head is read here: the body is decoded
   * strictly when its block is formed, so the records waiting here hold no
   * decoded bodies.
   */
  async signed(entry: Uint8Array): Promise<Pending> {
    // A copy: the caller may reuse its buffer before the block is written.
    const bytes = copyBytes(entry);
    const { head, key } = this.#signedHead(bytes);
    if (!(await this.#pool.verify(key, head.signed, head.signature))) throw badRecordSignature(head);
    return { bytes, verifiedKey: key };
  }

  /** A signed record's head and the key its author and keyId name (refusals: a seal or event alone, unknown keys). */
  #signedHead(bytes: Uint8Array): { head: RecordHead; key: Uint8Array } {
    if (isEventEntry(bytes))
      fail(ErrorCode.BATCH_MISMATCH, 'an event must come with its batch seal', {
        hint: 'use appendBatch(seal, events)',
      });
    const head = readRecordHead(bytes);
    if (head.kind === BATCH_KIND) batchSealAlone();
    return { head, key: this.authorKey(head) };
  }

  /**
   * `#admitSigned` for many records at once: one copy of all their bytes, one
   * signature job per worker, one promise. Per record, only its bytes and the
   * key its signature is checked under wait for the verdicts.
   */
  async manySigned(entries: readonly Uint8Array[]): Promise<Array<Pending | DirchainError>> {
    const n = entries.length;
    let total = 0;
    for (const e of entries) if (e instanceof Uint8Array) total += e.length;
    // Copies (the caller may reuse its buffers), as views of one buffer.
    const all = new Uint8Array(total);
    const out: Array<Pending | DirchainError> = new Array(n);
    const at: number[] = [];
    const keys: Uint8Array[] = [];
    const signed: Uint8Array[] = [];
    const signatures: Uint8Array[] = [];
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const entry = entries[i]!;
      if (!(entry instanceof Uint8Array)) {
        out[i] = new DirchainError(
          ErrorCode.INVALID_ARGUMENT,
          `entry ${i}: expected a Uint8Array, got ${typeOf(entry)}`,
        );
        continue;
      }
      all.set(entry, offset);
      const bytes = all.subarray(offset, offset + entry.length);
      offset += entry.length;
      try {
        const { head, key } = this.#signedHead(bytes);
        keys.push(key);
        signed.push(head.signed);
        signatures.push(head.signature);
        at.push(i);
        out[i] = { bytes, verifiedKey: key };
      } catch (e) {
        out[i] = toError(e);
      }
    }
    const verdicts = this.#pool.verifyMany(keys, signed, signatures);
    // Packed by now: the views need not wait for the verdicts too.
    signed.length = 0;
    signatures.length = 0;
    let ok: boolean[];
    try {
      ok = await verdicts;
    } catch (e) {
      // A worker failed: each record waiting on it gets that error, as from `append`.
      for (const i of at) out[i] = toError(e);
      return out;
    }
    for (let j = 0; j < at.length; j++) {
      if (ok[j]) continue;
      const head = readRecordHead((out[at[j]!] as Pending).bytes);
      out[at[j]!] = badRecordSignature(head);
    }
    return out;
  }
}
