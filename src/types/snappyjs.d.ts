// snappyjs ships no types; the one function dirchain uses.
declare module 'snappyjs' {
  /** Decompresses a raw Snappy block; throws if it is malformed or longer than `maxLength`. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  const snappy: { uncompress: typeof uncompress };
  export default snappy;
}
