/**
 * `dirchain witness keygen <name> [--type ed25519|ml-dsa-44] [--out DIR]` and `dirchain witness serve
 * --listen HOST:PORT --key <name>.key --log <origin>=<verifier key> … [--state FILE]`:
 * a C2SP tlog-witness (src/sync/witness-server.ts).
 */
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../cli-api.js';
import { ErrorCode, generateWitnessKey, startWitness } from '../index.js';
import { type Ctx, EXIT } from './commands.js';
import { parseListen } from './node-command.js';
import { keyArgument, readKeyFile } from './node-dir.js';

export interface WitnessArgs {
  readonly out: string | undefined;
  /** keygen: `ed25519` (cosignature/v1, the default) or `ml-dsa-44`. */
  readonly type: string | undefined;
  readonly key: string | undefined;
  readonly logs: readonly string[];
  readonly listen: string;
  readonly state: string | undefined;
}

export async function witnessCommand(
  ctx: Ctx,
  action: string | undefined,
  name: string | undefined,
  a: WitnessArgs,
): Promise<number> {
  if (action === 'keygen') {
    if (name === undefined)
      fail(ErrorCode.INVALID_ARGUMENT, 'witness keygen needs a name, e.g. witness.example.org/court');
    const type = a.type ?? 'ed25519';
    if (type !== 'ed25519' && type !== 'ml-dsa-44')
      fail(ErrorCode.INVALID_ARGUMENT, `--type takes ed25519 or ml-dsa-44, not ${JSON.stringify(type)}`);
    const key = generateWitnessKey(name, { type });
    const file = join(a.out ?? '.', `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.key`);
    if (existsSync(file))
      fail(ErrorCode.INVALID_ARGUMENT, `${file} exists: a witness key is never overwritten`);
    writeFileSync(file, `${key.signerKey}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(file, 0o600);
    ctx.out(ctx.json ? JSON.stringify({ file, type, verifierKey: key.verifierKey }) : key.verifierKey);
    return EXIT.ok;
  }
  if (action !== 'serve')
    fail(ErrorCode.INVALID_ARGUMENT, 'witness takes keygen or serve', {
      hint: 'run dirchain witness --help',
    });
  if (a.type !== undefined)
    fail(ErrorCode.INVALID_ARGUMENT, '--type is for witness keygen: serve reads it from the key');
  if (a.key === undefined)
    fail(ErrorCode.INVALID_ARGUMENT, 'witness serve needs --key <name>.key (from witness keygen)');
  if (a.logs.length === 0)
    fail(
      ErrorCode.INVALID_ARGUMENT,
      'witness serve needs --log <origin>=<verifier key or file> for each log it witnesses',
    );
  const logs = new Map<string, string[]>();
  for (const l of a.logs) {
    const at = l.indexOf('=');
    if (at <= 0)
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `--log takes <origin>=<verifier key or file>, not ${JSON.stringify(l)}`,
      );
    const origin = l.slice(0, at);
    logs.set(origin, [...(logs.get(origin) ?? []), keyArgument(l.slice(at + 1))]);
  }
  const listen = parseListen(a.listen, '--listen');
  const running = await startWitness({
    signerKey: readKeyFile(a.key),
    logs: [...logs].map(([origin, verifierKeys]) => ({ origin, verifierKeys })),
    statePath: a.state ?? `${a.key.replace(/\.key$/, '')}.state.json`,
    host: listen.host,
    port: listen.port,
  });
  ctx.out(ctx.json ? JSON.stringify({ url: running.url }) : running.url);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await running.close();
  return EXIT.ok;
}
