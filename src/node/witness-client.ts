/**
 * The node's side of C2SP tlog-witness: on an interval, off the path of any
 * append's acknowledgement, it sends its latest checkpoint (the same one to
 * every witness) with a consistency proof from the size each witness last
 * cosigned, and keeps the checkpoint with the cosignatures it got. A witness
 * that answers 409 tells the size it holds; the node proves from there.
 * Witnesses of either cosignature type (Ed25519 cosignature/v1, ML-DSA-44
 * subtree/v1) are asked alike; a line is kept only if it verifies under the
 * witness's key.
 */
import { toBase64 } from '../crypto/bytes.js';
import { ErrorCode, fail } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { verifyCosignatures } from '../verify.js';
import { readCapped } from './http.js';
import type { NodeLog } from './log.js';

/** Largest add-checkpoint answer read: a few cosignature lines (an ML-DSA-44 one is about 3.3 KB). */
const MAX_ANSWER = 64 * 1024;

export interface WitnessTarget {
  /** The witness's base URL (its add-checkpoint is `<url>add-checkpoint`). */
  readonly url: string;
  /** Its verifier key (`name+hash+base64(type || key)`: 0x04 Ed25519 cosignature/v1 or 0x06 ML-DSA-44). */
  readonly verifierKey: string;
}

export class WitnessCollector {
  readonly #ledger: Ledger;
  readonly #witnesses: readonly WitnessTarget[];
  readonly #log: NodeLog;
  /** The size each witness last cosigned, as far as this node knows. */
  readonly #known = new Map<string, number>();
  #cosigned: string | undefined;
  #cosignedSize = -1;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(ledger: Ledger, witnesses: readonly WitnessTarget[], log: NodeLog) {
    this.#ledger = ledger;
    this.#witnesses = witnesses;
    this.#log = log;
  }

  /** The latest checkpoint with the cosignatures collected for it; undefined before the first. */
  get cosigned(): string | undefined {
    return this.#cosigned;
  }

  start(intervalMs: number): void {
    const tick = () => {
      this.#running ??= this.collect().finally(() => {
        this.#running = undefined;
      });
    };
    tick();
    this.#timer = setInterval(tick, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running?.catch(() => {});
  }

  /** One round: the latest checkpoint to every witness; kept with the lines that verify. */
  async collect(): Promise<void> {
    const head = this.#ledger.head();
    if (head.size === this.#cosignedSize) return;
    const lines = await Promise.all(this.#witnesses.map((w) => this.#ask(w, head.checkpoint, head.size)));
    const got = lines.filter((l): l is string => l !== undefined);
    if (got.length === 0) return;
    this.#cosigned = head.checkpoint + got.join('');
    this.#cosignedSize = head.size;
  }

  async #ask(w: WitnessTarget, note: string, size: number): Promise<string | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const old = Math.min(this.#known.get(w.url) ?? 0, size);
      try {
        const proof =
          old > 0 && old < size ? (await this.#ledger.proveConsistency(old, size)).consistency : [];
        const body = `old ${old}\n${proof.map((h) => `${toBase64(h)}\n`).join('')}\n${note}`;
        const res = await fetch(new URL('add-checkpoint', w.url), {
          method: 'POST',
          body,
          signal: AbortSignal.timeout(10_000),
        });
        const text = (
          await readCapped(res, MAX_ANSWER, () =>
            fail(ErrorCode.TOO_LARGE, `the witness's answer is over ${MAX_ANSWER} bytes`),
          )
        ).toString('utf8');
        if (res.status === 409 && /^\d+\n$/.test(text)) {
          // The witness holds another size: prove from there.
          this.#known.set(w.url, Number(text));
          continue;
        }
        if (res.status !== 200) {
          this.#log.write('warn', 'witness refused the checkpoint', {
            witness: w.url,
            status: res.status,
            size,
          });
          return undefined;
        }
        // Kept only if it is this witness's valid cosignature of this very checkpoint.
        verifyCosignatures(note + text, { witnesses: [w.verifierKey], quorum: 1 });
        this.#known.set(w.url, size);
        return text;
      } catch (e) {
        this.#log.write('warn', 'witness not reached or its answer did not verify', {
          witness: w.url,
          error: e,
        });
        return undefined;
      }
    }
    return undefined;
  }
}
