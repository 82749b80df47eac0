/**
 * A least-recently-used cache of stored values by number (hash pages, entry
 * bundles), loading misses through `load`. A Map keeps insertion order, so
 * re-inserting on use makes its first key the least recently used.
 */
export class ValueCache {
  readonly #values = new Map<number, Uint8Array>();
  readonly #limit: number;
  readonly #load: (n: number) => Uint8Array | undefined;

  constructor(limit: number, load: (n: number) => Uint8Array | undefined) {
    this.#limit = limit;
    this.#load = load;
  }

  get(n: number): Uint8Array | undefined {
    const held = this.cached(n);
    if (held !== undefined) return held;
    const bytes = this.#load(n);
    if (bytes !== undefined) this.put(n, bytes);
    return bytes;
  }

  /** The value if it holds it (now the most recently used), without loading a miss. */
  cached(n: number): Uint8Array | undefined {
    const bytes = this.#values.get(n);
    if (bytes !== undefined) {
      this.#values.delete(n);
      this.#values.set(n, bytes);
    }
    return bytes;
  }

  /** Replaces a value it holds (a stored value that changed); one it does not hold stays out. */
  replace(n: number, bytes: Uint8Array): void {
    if (this.#values.has(n)) this.#values.set(n, bytes);
  }

  put(n: number, bytes: Uint8Array): void {
    this.#values.delete(n);
    this.#values.set(n, bytes);
    if (this.#values.size > this.#limit) this.#values.delete(this.#values.keys().next().value!);
  }

  clear(): void {
    this.#values.clear();
  }
}
