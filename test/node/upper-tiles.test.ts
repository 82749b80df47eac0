import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLedger } from '../../src/audit/audit.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { memberSigner } from '../../src/directory/member-signer.js';
import { createLedger } from '../../src/ledger/open.js';
import { storedHashIndex } from '../../src/merkle/stored.js';
import { serveLedger } from '../../src/node/serve.js';
import { HASHES_PER_PAGE, pageKey } from '../../src/storage/keys.js';
import { tempDir } from '../helpers.js';
import { serveAsStored } from './lying-server.js';

/**
 * Level-1 tiles exist from 65,536 entries on. Batches (one signed seal per
 * 4,000 events) make such a ledger in a few seconds.
 */
const BATCHES = 17;
const EVENTS = 4000;
/** Genesis and its block entry, then per batch block its seal, events and block entry. */
const SIZE = 2 + BATCHES * (1 + EVENTS + 1);
let dir: ReturnType<typeof tempDir>;
let path: string;

beforeAll(async () => {
  dir = tempDir();
  path = join(dir.path, 'ledger');
  const sequencer = generateKeyPair('dirchain.example.gov/tiles');
  const admin = generateKeyPair('bureau');
  const ledger = await createLedger(path, {
    origin: 'dirchain.example.gov/tiles',
    sequencerKey: sequencer.signerKey,
    members: [{ id: 'bureau', name: 'b', roles: ['admin', 'consumer'], signingKey: admin.publicKey }],
  });
  const as = memberSigner(admin.signerKey);
  for (let b = 0; b < BATCHES; b++)
    await ledger.submitBatch(
      as,
      'x.event',
      Array.from({ length: EVENTS }, (_, i) => ({ b, i })),
    );
  expect(ledger.head().size).toBe(SIZE);
  await ledger.close();
}, 60_000);

afterAll(() => dir.cleanup());

describe('audit <url> checks the served tiles above level 0', () => {
  it('passes the served level-1 tile, and names the first record under a changed level-8 hash', async () => {
    const good = await serveLedger(path);
    try {
      const r = await auditLedger(good.url, { verifyOnly: true });
      expect(r.ok, JSON.stringify(r.error)).toBe(true);
      expect(r.records).toBe(SIZE);
    } finally {
      await good.close();
    }

    const copy = join(dir.path, 'copy');
    cpSync(path, copy, { recursive: true });
    const db = new ClassicLevel<Uint8Array, Uint8Array>(copy, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    // The root of leaves 66,560..66,815: only the partial level-1 tile 1/001 lists it.
    const at = storedHashIndex(8, 260);
    const key = pageKey(Math.floor(at / HASHES_PER_PAGE));
    const page = (await db.get(key))!;
    page[(at % HASHES_PER_PAGE) * 32]! ^= 0x80;
    await db.put(key, page);
    await db.close();

    // A server that serves its changed storage as it is (serveLedger refuses to).
    const bad = await serveAsStored(copy);
    try {
      const r = await auditLedger(bad.url, { verifyOnly: true });
      expect(r.ok).toBe(false);
      expect(r.error?.code).toBe('E_LEDGER_CORRUPT');
      expect(r.error?.index).toBe(260 * 256);
      expect(r.error?.message).toContain(`tile/1/001.p/${Math.floor(SIZE / 256) - 256} `);
    } finally {
      await bad.close();
    }
  }, 60_000);
});
