/**
 * Status proofs agree with the ledger's own judgment, for random sequences of
 * grant issues and revocations, member suspensions and reinstatements and
 * resource retirements over a few ids: at every checkpoint along the way, the
 * status a bundle proves (checked offline) is what the materialised state and
 * `activeGrants` said then.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { statusBundleToJSON } from '../../src/state/status-proof.js';
import { checkStatus } from '../../src/verify.js';
import { type Actors, grantTerms, makeActors, openCity, resource, seed } from '../directory/city.js';
import { tempDir } from '../helpers.js';

const a: Actors = makeActors();
const dirs: Array<ReturnType<typeof tempDir>> = [];
afterAll(() => {
  for (const d of dirs) d.cleanup();
});

const GRANTS = ['g-0', 'g-1', 'g-2', 'g-3'];
/** Every status the runs proved, so the test shows it reached each kind. */
const proved = new Set<string>();
const CONSUMERS = ['health', 'public-security'] as const;
const RESOURCES = ['civil/set-0', 'civil/set-1'];

type Op =
  | { op: 'issue'; grant: number; consumer: number; resource: number }
  | { op: 'revoke'; grant: number }
  | { op: 'suspend' | 'reinstate'; consumer: number }
  | { op: 'retire'; resource: number };

const ops: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    op: fc.constant('issue' as const),
    grant: fc.nat(GRANTS.length - 1),
    consumer: fc.nat(1),
    resource: fc.nat(1),
  }),
  fc.record({ op: fc.constant('revoke' as const), grant: fc.nat(GRANTS.length - 1) }),
  fc.record({ op: fc.constantFrom('suspend' as const, 'reinstate' as const), consumer: fc.nat(1) }),
  fc.record({ op: fc.constant('retire' as const), resource: fc.nat(1) }),
);

describe('status proofs and the replayed state', () => {
  it('agree at every checkpoint of random sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(ops, { minLength: 1, maxLength: 14 }), async (random) => {
        // Each run also revokes one grant it issued, so every status kind is reached.
        const sequence: Op[] = [
          { op: 'issue', grant: 3, consumer: 0, resource: 0 },
          ...random,
          { op: 'revoke', grant: 3 },
        ];
        const dir = tempDir('dirchain-status-');
        dirs.push(dir);
        const ledger = await openCity(dir.path, a);
        try {
          await seed(ledger, a);
          const d = ledger.directory;
          for (const id of RESOURCES) await d.registerResource(a.civil.as, resource('civil-affairs', id));
          const admin = a.bureau.as;
          // What the ledger itself says after each operation, at that checkpoint.
          const seen: Array<{ size: number; time: number; statuses: Map<string, string> }> = [];
          for (const o of sequence) {
            const attempt =
              o.op === 'issue'
                ? d.issueGrant(
                    a.civil.as,
                    grantTerms({
                      id: GRANTS[o.grant]!,
                      consumer: CONSUMERS[o.consumer],
                      resource: RESOURCES[o.resource],
                    }),
                  )
                : o.op === 'revoke'
                  ? d.revokeGrant(a.civil.as, GRANTS[o.grant]!)
                  : o.op === 'retire'
                    ? d.retireResource(a.civil.as, RESOURCES[o.resource]!)
                    : o.op === 'suspend'
                      ? d.suspendMember(admin, CONSUMERS[o.consumer]!)
                      : d.reinstateMember(admin, CONSUMERS[o.consumer]!);
            // Refusals (a duplicate id, a revocation of nothing) leave the state as it was: still a checkpoint to check.
            await attempt.catch(() => undefined);
            const head = ledger.head();
            const time = ledger.block(head.height).header.time;
            const statuses = new Map<string, string>();
            for (const g of GRANTS) {
              const grant = ledger.query.get('grant', g);
              if (grant === undefined) statuses.set(`grant:${g}`, 'absent');
              else {
                const live = (await ledger.query.activeGrants(grant.consumer, time, { limit: 100 })).items;
                statuses.set(`grant:${g}`, live.some((x) => x.id === g) ? 'active' : 'not active');
              }
            }
            for (const m of CONSUMERS) statuses.set(`member:${m}`, ledger.query.get('member', m)!.status);
            for (const r of RESOURCES) statuses.set(`resource:${r}`, ledger.query.get('resource', r)!.status);
            seen.push({ size: head.size, time, statuses });
          }
          for (const { size, time, statuses } of seen) {
            for (const [k, want] of statuses) {
              const [type, id] = [k.slice(0, k.indexOf(':')), k.slice(k.indexOf(':') + 1)];
              const r = checkStatus(
                JSON.parse(JSON.stringify(statusBundleToJSON(await ledger.proveStatus(type, id, size)))),
                [a.sequencer.verifierKey],
              );
              expect(r.asOf).toMatchObject({ size, time });
              const got =
                type === 'grant' && r.status !== 'absent' && r.status !== 'active' ? 'not active' : r.status;
              expect(got, `${k} at size ${size}`).toBe(want);
              proved.add(`${type}:${r.status}`);
            }
          }
        } finally {
          await ledger.close();
        }
      }),
      { numRuns: 12 },
    );
    for (const s of ['grant:active', 'grant:revoked', 'grant:absent', 'member:suspended', 'resource:retired'])
      expect(proved, [...proved].join(', ')).toContain(s);
  }, 120_000);
});
