/**
 * What only the `dirchain` command needs beyond the public entries (index.ts,
 * verify.ts): helpers that are not part of the library's API. The CLI imports
 * nothing else from below the entries (an architecture rule, `npm run arch`).
 */
export { isLedgerUrl } from './audit/audit.js';
export { buildReport } from './audit/report.js';
export { concatBytes, fromBase64 } from './crypto/bytes.js';
export { MEMBER_ID_PATTERN } from './encoding/record.js';
export { fail } from './errors.js';
