import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/** A SHA-256 function: node's native one on the hot path, noble's in browsers. */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** Pure-JS SHA-256 (noble), used by the verify entry and in browsers. */
export const sha256Noble: Sha256 = (data) => nobleSha256(data);
