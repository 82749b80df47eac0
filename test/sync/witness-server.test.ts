/**
 * The witness against C2SP tlog-witness's own cases for add-checkpoint, over
 * real HTTP on 127.0.0.1: each status code the spec names, the 409 body and
 * type, the cosignature verifying with verifyCheckpoint's witness policy, and
 * the recorded checkpoint surviving a restart.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair, loadSigner } from '../../src/crypto/keys.js';
import { signNote } from '../../src/crypto/note.js';
import { formatCheckpoint } from '../../src/encoding/checkpoint.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { createLedger } from '../../src/ledger/open.js';
import { generateWitnessKey } from '../../src/sync/witness.js';
import {
  addCheckpointBody,
  REFUSED_TYPE,
  type RunningWitness,
  startWitness,
} from '../../src/sync/witness-server.js';
import { verifyBundle, verifyCheckpoint } from '../../src/verify.js';
import { tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';

let dir: ReturnType<typeof tempDir>;
let city: City;
let a: Ledger;
let forkAt2: string;
const w = generateWitnessKey('witness.example.org/court');
const other = generateKeyPair('other.example/log');
let witness: RunningWitness;

const options = () => ({
  signerKey: w.signerKey,
  logs: [
    { origin: ORIGIN, verifierKeys: [city.sequencer.verifierKey] },
    { origin: 'other.example/log', verifierKeys: [other.verifierKey] },
  ],
  statePath: join(dir.path, 'witness-state.json'),
});

beforeAll(async () => {
  dir = tempDir();
  city = makeCity(1);
  a = await newLedger(join(dir.path, 'a'), city);
  const b = await createLedger(join(dir.path, 'b'), {
    origin: ORIGIN,
    sequencerKey: city.sequencer.signerKey,
    genesisRecord: a.getEntry(0),
    clock: () => Date.now() + 5000,
  });
  forkAt2 = b.checkpoint(2);
  await b.close();
  for (let i = 0; i < 3; i++) await a.append(signedBy(city.departments[0]!, { i }));
  witness = await startWitness(options());
});

afterAll(async () => {
  await witness?.close();
  await a?.close();
  dir?.cleanup();
});

async function add(body: string, to = witness) {
  const res = await fetch(new URL('add-checkpoint', to.url), { method: 'POST', body });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

const sizes = () => [2, 4, 6, 8].filter((s) => s <= a.head().size);

describe('add-checkpoint (C2SP tlog-witness)', () => {
  it('cosigns the first checkpoint from old 0; the cosignature verifies under the witness key', async () => {
    const note = a.checkpoint(2);
    const r = await add(addCheckpointBody(0, [], note));
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/^— witness\.example\.org\/court [A-Za-z0-9+/=]+\n$/);
    const cp = verifyCheckpoint(note + r.text, [city.sequencer.verifierKey], {
      witnesses: [w.verifierKey],
      quorum: 1,
    });
    expect(cp.cosigners.map((c) => c.name)).toEqual(['witness.example.org/court']);
  });

  it('409 with the latest size (text/x.tlog.size) for a stale old size', async () => {
    const r = await add(addCheckpointBody(0, [], a.checkpoint(2)));
    expect([r.status, r.type, r.text]).toEqual([409, 'text/x.tlog.size', '2\n']);
  });

  it('422 for another root at the size already cosigned, keeping both signed checkpoints as fork evidence', async () => {
    const before = new Set(readdirSync(dir.path));
    const r = await add(addCheckpointBody(2, [], forkAt2));
    expect(r.status).toBe(422);
    expect(r.text).toContain('the log forked');
    const kept = readdirSync(dir.path).filter((f) => !before.has(f));
    expect(kept).toEqual([expect.stringMatching(/^fork-.*\.json$/)]);
    const evidence = JSON.parse(readFileSync(join(dir.path, kept[0]!), 'utf8')) as Record<string, unknown>;
    expect(evidence.checkpoint1).toBe(a.checkpoint(2));
    expect(evidence.checkpoint2).toBe(forkAt2);
    const report = verifyBundle(evidence, [city.sequencer.verifierKey]);
    expect(report.ok, JSON.stringify(report.checks)).toBe(true);
    expect(report.kind).toBe('fork');
  });

  it('200 with a consistency proof; 422 when the proof does not verify', async () => {
    const [, four] = sizes();
    const proof = (await a.proveConsistency(2, four!)).consistency;
    const bad = proof.map((h, i) => (i === 0 ? Uint8Array.from(h, (x, j) => (j === 0 ? x ^ 1 : x)) : h));
    const before = new Set(readdirSync(dir.path));
    expect((await add(addCheckpointBody(2, bad, a.checkpoint(four)))).status).toBe(422);
    // Kept for the operator (not proof on its own): both signed checkpoints and the proof as sent.
    const kept = readdirSync(dir.path).filter((f) => !before.has(f));
    expect(kept).toEqual([expect.stringMatching(/^refused-.*\.json$/)]);
    const record = JSON.parse(readFileSync(join(dir.path, kept[0]!), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({
      type: REFUSED_TYPE,
      origin: ORIGIN,
      cosigned: a.checkpoint(2),
      cosignedSize: 2,
      refused: a.checkpoint(four),
      proof: bad.map((h) => Buffer.from(h).toString('base64')),
    });
    expect((await add(addCheckpointBody(2, proof, a.checkpoint(four)))).status).toBe(200);
    expect((await add(addCheckpointBody(2, proof, a.checkpoint(four)))).text).toBe(`${four}\n`);
  });

  it('404 for an unknown origin, 403 without a valid trusted signature', async () => {
    const stranger = generateKeyPair('stranger.example/log');
    const unknown = signNote(
      formatCheckpoint({ origin: 'stranger.example/log', size: 0, root: new Uint8Array(32), extensions: [] }),
      [loadSigner(stranger.signerKey)],
    );
    expect((await add(addCheckpointBody(0, [], unknown))).status).toBe(404);
    const impostor = generateKeyPair(ORIGIN);
    const forged = signNote(
      formatCheckpoint({ origin: ORIGIN, size: 9, root: new Uint8Array(32), extensions: [] }),
      [loadSigner(impostor.signerKey)],
    );
    expect((await add(addCheckpointBody(4, [], forged))).status).toBe(403);
  });

  it('400 for a malformed body, an old size above the checkpoint, more than 63 proof lines', async () => {
    expect((await add('old 4\n')).status).toBe(400);
    expect((await add(`old 04\n\n${a.checkpoint(4)}`)).status).toBe(400);
    expect((await add(addCheckpointBody(40, [], a.checkpoint(4)))).status).toBe(400);
    const many = Array.from({ length: 64 }, () => new Uint8Array(32));
    expect((await add(addCheckpointBody(4, many, a.checkpoint(a.head().size)))).status).toBe(400);
    expect((await fetch(new URL('add-checkpoint', witness.url))).status).toBe(405);
  });

  it('422 for a size-0 checkpoint with a root other than the empty tree, or a proof from size 0', async () => {
    const sign = (size: number, root: Uint8Array) =>
      signNote(formatCheckpoint({ origin: 'other.example/log', size, root, extensions: [] }), [
        loadSigner(other.signerKey),
      ]);
    expect((await add(addCheckpointBody(0, [], sign(0, new Uint8Array(32))))).status).toBe(422);
    expect((await add(addCheckpointBody(0, [new Uint8Array(32)], sign(3, new Uint8Array(32))))).status).toBe(
      422,
    );
  });

  it('a refused checkpoint sent again and again (anyone may send) is kept once, and the answer names no file', async () => {
    const folder = join(dir.path, 'flood');
    mkdirSync(folder);
    const flooded = await startWitness({ ...options(), statePath: join(folder, 'state.json') });
    try {
      expect((await add(addCheckpointBody(0, [], a.checkpoint(2)), flooded)).status).toBe(200);
      const [, four] = sizes();
      const proof = (await a.proveConsistency(2, four!)).consistency;
      const bad = proof.map((h) => Uint8Array.from(h, (x) => x ^ 1));
      const refused = await Promise.all(
        Array.from({ length: 25 }, () => add(addCheckpointBody(2, bad, a.checkpoint(four!)), flooded)),
      );
      const forks = await Promise.all(
        Array.from({ length: 25 }, () => add(addCheckpointBody(2, [], forkAt2), flooded)),
      );
      expect(refused.map((r) => r.status)).toEqual(refused.map(() => 422));
      expect(forks.map((r) => r.status)).toEqual(forks.map(() => 422));
      for (const r of [...refused, ...forks]) expect(r.text).not.toContain(dir.path);
      const files = readdirSync(folder).filter((f) => f !== 'state.json');
      expect(files.filter((f) => f.startsWith('refused-'))).toHaveLength(1);
      expect(files.filter((f) => f.startsWith('fork-'))).toHaveLength(1);
      expect(files).toHaveLength(2);
    } finally {
      await flooded.close();
    }
  });

  it('the latest cosigned checkpoint is durable: a restarted witness answers 409 with it', async () => {
    await witness.close();
    witness = await startWitness(options());
    const r = await add(addCheckpointBody(0, [], a.checkpoint(2)));
    expect([r.status, r.text]).toEqual([409, `${sizes()[1]}\n`]);
  });
});
