/**
 * Core admission rules every record passes before it may enter a block:
 * pure functions of (state before, record, block time), so every node reaches
 * the same verdict. The author's signature is checked separately (it is the
 * expensive part and runs off the main thread); these rules assume it holds.
 */
import type { LedgerRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode } from '../errors.js';
import { GENESIS_KIND } from '../ledger/genesis.js';
import type { LedgerState } from './state.js';

/** Returns undefined when the record may be appended, else the refusal. */
export function checkAdmission(
  state: LedgerState,
  record: LedgerRecord,
  blockTime: number,
): DirchainError | undefined {
  if (record.origin !== state.origin) {
    return new DirchainError(
      ErrorCode.WRONG_ORIGIN,
      `record is for ${record.origin}, this ledger is ${state.origin}`,
      {
        hint: "sign the record with this ledger's origin",
      },
    );
  }
  if (record.kind === GENESIS_KIND) {
    return new DirchainError(ErrorCode.NOT_AUTHORIZED, 'a ledger has exactly one genesis record, at index 0');
  }
  const member = state.members.get(record.author);
  if (member === undefined) {
    return new DirchainError(
      ErrorCode.UNKNOWN_MEMBER,
      `author ${JSON.stringify(record.author)} is not a member`,
      {
        hint: 'an admin must add the member first',
      },
    );
  }
  if (member.status !== 'active') {
    return new DirchainError(ErrorCode.NOT_AUTHORIZED, `member ${record.author} is ${member.status}`);
  }
  if (record.keyId !== member.activeKeyId) {
    return new DirchainError(
      ErrorCode.UNKNOWN_KEY,
      `member ${record.author} signed with key ${record.keyId}; its current key is ${member.activeKeyId}`,
      { hint: "re-sign with the member's current key" },
    );
  }
  const skew = state.policy.maxClockSkewMs;
  if (skew > 0 && Math.abs(record.timestamp - blockTime) > skew) {
    return new DirchainError(
      ErrorCode.CLOCK_SKEW,
      `record time ${record.timestamp} is more than ${skew} ms from block time ${blockTime}`,
      { hint: "check the author's clock, or sign the record again now" },
    );
  }
  return undefined;
}
