// hypercore ships no type declarations; this is the small part of its API figure 1 uses.
declare module 'hypercore' {
  export default class Hypercore {
    constructor(storage: string, options?: Record<string, unknown>);
    ready(): Promise<void>;
    /** Appends the blocks in one batch (one signed tree update); resolves with the new length. */
    append(blocks: Uint8Array | readonly Uint8Array[]): Promise<{ length: number; byteLength: number }>;
    close(): Promise<void>;
    readonly length: number;
    readonly byteLength: number;
  }
}
