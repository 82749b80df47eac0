/**
 * The status map on disk (storage/status-map-table.ts), in a real LevelDB:
 * the current table answers the next update, and the history answers a proof
 * at any past block boundary exactly as that version did in memory.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/bytes.js';
import { sha256Node } from '../../src/crypto/node-crypto.js';
import { ErrorCode } from '../../src/errors.js';
import { checkMapProof, type MapNode, mapHasher, proveMap, updateMap } from '../../src/state/map.js';
import {
  currentMapReader,
  decodeMapNode,
  encodeMapNode,
  MAP_HISTORY_TABLE,
  MAP_TABLE,
  mapNodeAt,
  mapNodeWrites,
} from '../../src/storage/status-map-table.js';
import { LedgerStore } from '../../src/storage/store.js';
import { tempDir } from '../helpers.js';

const h = mapHasher(sha256Node);

describe('status map table', () => {
  it('nodes round-trip; other bytes are E_LEDGER_CORRUPT', () => {
    const leaf: MapNode = {
      kind: 'leaf',
      key: new Uint8Array(32).fill(1),
      value: new Uint8Array(32).fill(2),
    };
    const inner: MapNode = { kind: 'inner', hash: new Uint8Array(32).fill(3) };
    expect(decodeMapNode(encodeMapNode(leaf))).toEqual(leaf);
    expect(decodeMapNode(encodeMapNode(inner))).toEqual(inner);
    for (const bad of [
      new Uint8Array(0),
      new Uint8Array(33).fill(0),
      new Uint8Array(65).fill(1),
      new Uint8Array(40),
    ])
      expect(() => decodeMapNode(bad)).toThrow(expect.objectContaining({ code: ErrorCode.LEDGER_CORRUPT }));
  });

  it('proofs at every past height, read from the history on disk, are those of that version', async () => {
    const dir = tempDir();
    const store = await LedgerStore.open(dir.path, { create: true });
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(fc.tuple(fc.nat(60), fc.nat(3)), { maxLength: 12 }), {
            minLength: 1,
            maxLength: 8,
          }),
          fc.nat(60),
          async (blocks, asked) => {
            await store.clearPrefix(Uint8Array.of(MAP_TABLE));
            await store.clearPrefix(Uint8Array.of(MAP_HISTORY_TABLE));
            const current = currentMapReader((k) => store.getRaw(k));
            const memory = new Map<string, MapNode>();
            const versions: Array<{ root: Uint8Array; nodes: Map<string, MapNode> }> = [];
            for (const [height, b] of blocks.entries()) {
              const updates = b.map(([id, v]) => ({
                key: h.key('grant', `g${id}`),
                value: h.value(Uint8Array.of(id, v, height)),
              }));
              // The update reads the current table on disk, as the chain will.
              const { root, writes } = updateMap(h, current, updates);
              await store.putRaw(mapNodeWrites(writes, height));
              for (const [pos, node] of writes) memory.set(toHex(pos), node);
              versions.push({ root, nodes: new Map(memory) });
            }
            const key = h.key('grant', `g${asked}`);
            for (const [height, v] of versions.entries()) {
              const fromDisk = await proveMap(h, (pos) => mapNodeAt(store, pos, height), key);
              const fromMemory = await proveMap(h, (pos) => v.nodes.get(toHex(pos)), key);
              expect(fromDisk).toEqual(fromMemory);
              expect(checkMapProof(h, v.root, key, fromDisk)).toBeDefined();
            }
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      await store.close();
      dir.cleanup();
    }
  });
});
