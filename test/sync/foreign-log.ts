/**
 * A C2SP tlog-tiles log written without dirchain's code, for verify-log's
 * tests: its own RFC 6962 Merkle hashing, tile layout, path encoding and
 * signed-note signing over node:crypto (SHA-256, Ed25519) alone, so a
 * mistake shared with src/merkle or src/crypto/note.ts cannot hide. Plus a
 * static file server on 127.0.0.1 that can serve a file changed, stall,
 * redirect or send too much, path by path.
 */
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, normalize } from 'node:path';

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};
const leafHash = (entry: Uint8Array): Buffer => sha256(Buffer.of(0), entry);
const nodeHash = (l: Uint8Array, r: Uint8Array): Buffer => sha256(Buffer.of(1), l, r);

/** RFC 6962 §2.1 MTH of leaf hashes [lo, hi): split at the largest power of two below the count. */
function mth(leaves: readonly Buffer[], lo: number, hi: number): Buffer {
  if (hi === lo) return sha256();
  if (hi - lo === 1) return leaves[lo]!;
  let k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

/** N as 3-digit path elements, all but the last prefixed with x (C2SP tlog-tiles). */
function indexPath(n: number): string {
  const groups: string[] = [];
  do {
    groups.unshift(String(n % 1000).padStart(3, '0'));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

export function foreignTilePath(level: number | 'entries', n: number, width: number): string {
  return `tile/${level}/${indexPath(n)}${width === 256 ? '' : `.p/${width}`}`;
}

/** An Ed25519 note key from a 32-byte seed (signed-note: key ID over name, 0x0A, 0x01, key). */
export class ForeignKey {
  readonly name: string;
  readonly #private: ReturnType<typeof createPrivateKey>;
  readonly publicKey: Buffer;
  readonly keyId: Buffer;

  constructor(name: string, seed: Uint8Array) {
    this.name = name;
    // PKCS#8 for an Ed25519 seed: a fixed 16-byte header, then the seed (RFC 8410).
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
    this.#private = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(this.#private).export({ format: 'der', type: 'spki' });
    this.publicKey = spki.subarray(spki.length - 32);
    this.keyId = sha256(Buffer.from(`${name}\n`), Buffer.of(1), this.publicKey).subarray(0, 4);
  }

  /** `name+hex(key ID)+base64(0x01 || key)`. */
  get vkey(): string {
    return `${this.name}+${this.keyId.toString('hex')}+${Buffer.concat([Buffer.of(1), this.publicKey]).toString('base64')}`;
  }

  /** The note `text` with this key's signature line. */
  signNote(text: string): string {
    const sig = sign(null, Buffer.from(text), this.#private);
    return `${text}\n\u2014 ${this.name} ${Buffer.concat([this.keyId, sig]).toString('base64')}\n`;
  }
}

export interface CheckpointOptions {
  readonly origin: string;
  readonly extensions?: readonly string[];
}

/**
 * A log growing in memory, written to `dir` as tlog-tiles: `publish(size)`
 * writes the bundles and tiles a checkpoint of that size implies (full ones
 * once, the right edge's partial ones) and the signed checkpoint.
 */
export class ForeignLog {
  readonly entries: Buffer[] = [];
  readonly leaves: Buffer[] = [];

  constructor(
    readonly dir: string,
    readonly key: ForeignKey,
    readonly checkpointOptions: CheckpointOptions,
  ) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }

  append(...entries: Uint8Array[]): void {
    for (const e of entries) {
      if (e.length > 0xffff) throw new Error('an entry of a bundle is at most 65535 bytes');
      this.entries.push(Buffer.from(e));
      this.leaves.push(leafHash(e));
    }
  }

  root(size = this.entries.length): Buffer {
    return mth(this.leaves, 0, size);
  }

  /** The hashes of tile level `level` (tree level 8·level) over the first `size` entries. */
  levelHashes(level: number, size: number): Buffer[] {
    let hashes = this.leaves.slice(0, size);
    for (let l = 0; l < level; l++) {
      const up: Buffer[] = [];
      for (let i = 0; i + 256 <= hashes.length; i += 256) up.push(mth(hashes, i, i + 256));
      hashes = up;
    }
    return hashes;
  }

  /** Every path a checkpoint of `size` implies, with its bytes. */
  files(size = this.entries.length): Map<string, Buffer> {
    const out = new Map<string, Buffer>();
    for (let n = 0; n * 256 < size; n++) {
      const width = Math.min(256, size - n * 256);
      const parts: Buffer[] = [];
      for (const e of this.entries.slice(n * 256, n * 256 + width)) {
        parts.push(Buffer.of(e.length >> 8, e.length & 0xff), e);
      }
      out.set(foreignTilePath('entries', n, width), Buffer.concat(parts));
    }
    for (let level = 0; ; level++) {
      const hashes = this.levelHashes(level, size);
      if (hashes.length === 0) break;
      for (let n = 0; n * 256 < hashes.length; n++) {
        const width = Math.min(256, hashes.length - n * 256);
        out.set(foreignTilePath(level, n, width), Buffer.concat(hashes.slice(n * 256, n * 256 + width)));
      }
    }
    return out;
  }

  checkpoint(size = this.entries.length): string {
    const { origin, extensions = [] } = this.checkpointOptions;
    const lines = [origin, String(size), this.root(size).toString('base64'), ...extensions];
    return this.key.signNote(`${lines.join('\n')}\n`);
  }

  /** Writes what a checkpoint of `size` (default all) implies, and the checkpoint; returns it. */
  publish(size = this.entries.length): string {
    for (const [path, bytes] of this.files(size)) write(join(this.dir, path), bytes);
    const note = this.checkpoint(size);
    write(join(this.dir, 'checkpoint'), Buffer.from(note));
    return note;
  }
}

function write(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
}

/** Deterministic bytes (a seeded SHA-256 stream), so a failing case can be replayed. */
export function seededBytes(seed: string, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let at = 0, block = 0; at < length; block++, at += 32) {
    sha256(Buffer.from(`${seed}/${block}`)).copy(out, at);
  }
  return out;
}

/** What the static server does for one path instead of serving its file. */
export type Override =
  | { readonly body: Uint8Array }
  | { readonly status: number; readonly headers?: Record<string, string> }
  | { readonly stall: true }
  | { readonly endless: true };

/**
 * Serves the files under `root` read-only on 127.0.0.1 (GET, 200 or 404),
 * except the paths in `overrides`. `requests` lists the paths asked for.
 */
export class StaticServer {
  readonly overrides = new Map<string, Override>();
  readonly requests: string[] = [];
  readonly #server: Server;
  url = '';

  private constructor(readonly root: string) {
    this.#server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
      this.requests.push(path);
      const o = this.overrides.get(path);
      if (o !== undefined) {
        if ('body' in o) {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.end(o.body);
        } else if ('status' in o) {
          res.writeHead(o.status, o.headers);
          res.end();
        } else if ('stall' in o) {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.write(Buffer.alloc(1)); // headers and a byte, then nothing
        } else {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          const chunk = Buffer.alloc(64 * 1024, 7);
          const pump = () => {
            while (!res.destroyed && res.write(chunk)) {}
            if (!res.destroyed) res.once('drain', pump);
          };
          pump();
        }
        return;
      }
      const file = normalize(join(root, path));
      let bytes: Buffer;
      try {
        if (!file.startsWith(normalize(root))) throw new Error('outside');
        bytes = readFileSync(file);
      } catch {
        res.writeHead(404);
        res.end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(bytes);
    });
  }

  static async start(root: string): Promise<StaticServer> {
    const s = new StaticServer(root);
    // Idle connections stay open: the tests build logs synchronously in this same process, and a
    // keep-alive timer that fires late would close a connection fetch is about to reuse (ECONNRESET).
    s.#server.keepAliveTimeout = 0;
    await new Promise<void>((resolve) => s.#server.listen(0, '127.0.0.1', resolve));
    s.url = `http://127.0.0.1:${(s.#server.address() as AddressInfo).port}/`;
    return s;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
