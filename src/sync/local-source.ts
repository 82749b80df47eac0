/**
 * A ledger folder on this machine as a follower's source: the same paths a
 * node serves (checkpoint, tiles, entry bundles, block notes), read from the
 * folder by the same code that serves them (node/serve.ts `tileResponse`),
 * without HTTP. A follower checks everything it reads from here exactly as
 * from a server, so a copied folder (a backup, a disk carried over) becomes
 * a verified replica. The folder is opened as `serve` opens it: read only,
 * holding its lock, so no writer may have it open.
 */
import { ErrorCode, fail } from '../errors.js';
import { tileResponse } from '../node/serve.js';
import { LedgerStore } from '../storage/store.js';

export interface LocalSource {
  get(path: string): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** True when `from` names a folder rather than an http(s) address. */
export function isLocalSource(from: string): boolean {
  return !/^https?:\/\//i.test(from);
}

export async function openLocalSource(path: string): Promise<LocalSource> {
  const store = await LedgerStore.open(path, { create: false });
  return {
    async get(p: string): Promise<Uint8Array> {
      const reply = await tileResponse(store, p);
      if (reply.status !== 200)
        fail(
          ErrorCode.REMOTE,
          `the ledger folder ${path} has no ${p}: ${new TextDecoder().decode(reply.body).trim()}`,
          { hint: 'follow from a folder that holds a whole ledger' },
        );
      return reply.body;
    },
    close: () => store.close(),
  };
}
