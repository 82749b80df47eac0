/**
 * What every rule works with: the record under judgement (with its author and
 * block time), the state before it, and the effects it builds. Rules refuse by
 * throwing; `evaluate` turns the throw into a returned DirchainError.
 */
import type { Verify } from '../crypto/ed25519.js';
import type { LedgerRecord } from '../encoding/record.js';
import { DirchainError, type ErrorCodeValue } from '../errors.js';
import type { Change, IndexEntry, MemberEntity, StateView } from './entities.js';
import type { PolicyParams, Role } from './genesis.js';

export interface PolicyContext {
  readonly origin: string;
  readonly policy: PolicyParams;
  readonly verify: Verify;
}

/** What an accepted record does to the state and the indexes. */
export interface Effects {
  readonly changes: Change[];
  readonly indexes: IndexEntry[];
  /** The record's leaf hash, remembered so the same bytes are never accepted twice. */
  readonly leaf?: Uint8Array;
}

class Refusal extends DirchainError {}

export function refuse(code: ErrorCodeValue, message: string, hint?: string): never {
  throw new Refusal(code, message, hint === undefined ? {} : { hint });
}

export const has = (m: MemberEntity, role: Role): boolean => m.roles.includes(role);

/** The largest time a JavaScript Date holds (±8.64e15 ms, year 275760). */
const MAX_DATE_MS = 8.64e15;

/**
 * A time (ms since the epoch) as refusal messages give it: ISO 8601 UTC beside
 * the milliseconds, `2025-01-01T00:10:00.000Z (1735690200000 ms)`. Pure (no
 * clock is read) and total: a time past what a Date holds (a grant's `validTo`
 * may be any safe integer) is given in milliseconds alone.
 */
export function timeText(ms: number): string {
  if (!Number.isFinite(ms) || Math.abs(ms) > MAX_DATE_MS) return `${ms} ms`;
  return `${new Date(ms).toISOString()} (${ms} ms)`;
}

/** A length of time for people: `10 min`, `1 h 5 min`, `2.5 s`, `12 ms`. */
export function durationText(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${abs} ms`;
  if (abs < 60_000) return `${Number((abs / 1000).toFixed(3))} s`;
  const units: Array<[number, string]> = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1000, 's'],
  ];
  const parts: string[] = [];
  let rest = abs;
  for (const [size, unit] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n} ${unit}`);
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** One record being judged: what the rules read, and the changes and index entries they add. */
export class RuleScope {
  readonly changes: Change[] = [];
  readonly indexes: IndexEntry[] = [];

  constructor(
    readonly ctx: PolicyContext,
    readonly view: StateView,
    readonly record: LedgerRecord,
    readonly index: number,
    readonly time: number,
    readonly author: MemberEntity,
    /** An event of a batch: indexed by what it refers to, not by kind (its seal is). */
    readonly event = false,
  ) {}

  put<T extends Change['type']>(type: T, entity: Extract<Change, { type: T }>['entity']): void {
    this.changes.push({ type, entity } as Change);
  }
}
