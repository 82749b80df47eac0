/**
 * `dirchain node <dir>`: the long-running process that owns a ledger folder
 * and answers over HTTP (docs/http-api.md). stdout's first line is the URL;
 * logs are JSON lines on stderr.
 */

import { mkdirSync } from 'node:fs';
import { fail } from '../cli-api.js';
import { createNodeLog, ErrorCode, type LogLevel, type ReplicaOptions, startNode } from '../index.js';
import { type Ctx, EXIT } from './commands.js';
import { keyArgument, ledgerPath, readKeyFile, requireLedgerFolder, sequencerKeyPath } from './node-dir.js';
import { resolveNodeMember } from './target.js';

export interface NodeArgs {
  readonly listen: string;
  readonly public: boolean;
  readonly metricsListen: string | undefined;
  readonly maxBody: number | undefined;
  readonly logLevel: string | undefined;
  /**
   * A sequencer node: witnesses to ask for cosignatures, `<url>=<verifier key or file>` each.
   * A replica: witness keys whose cosignatures the followed checkpoints need (`quorum` of them).
   */
  readonly witnesses?: readonly string[];
  readonly quorum?: number;
  /** Follow another node instead of sequencing: its URL, the key to pin, who signs the requests. */
  readonly replica?: {
    readonly from: string | undefined;
    readonly key: string | undefined;
    readonly as: string | undefined;
  };
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** HOST:PORT (IPv6 in brackets), port 0..65535. */
export function parseListen(text: string, flag: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+):(\d{1,5})$/.exec(text);
  const port = m === null ? Number.NaN : Number(m[2]);
  if (m === null || port > 65535) {
    fail(ErrorCode.INVALID_ARGUMENT, `${flag} takes HOST:PORT, not ${JSON.stringify(text)}`, {
      hint: `e.g. ${flag} 127.0.0.1:8080 (port 0 picks a free one; IPv6 as [::1]:8080)`,
    });
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export async function node(ctx: Ctx, dir: string, args: NodeArgs): Promise<number> {
  const listen = parseListen(args.listen, '--listen');
  const metricsListen =
    args.metricsListen === undefined ? undefined : parseListen(args.metricsListen, '--metrics-listen');
  const level = (args.logLevel ?? 'info') as LogLevel;
  if (!LEVELS.includes(level))
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `--log-level takes ${LEVELS.join(', ')}, not ${JSON.stringify(args.logLevel)}`,
    );
  let role: { sequencerKey: string } | { replica: ReplicaOptions };
  if (args.replica === undefined) {
    if (args.quorum !== undefined)
      fail(
        ErrorCode.INVALID_ARGUMENT,
        '--quorum is for a replica (--replica) that follows witnessed checkpoints',
      );
    requireLedgerFolder(dir);
    role = { sequencerKey: readKeyFile(sequencerKeyPath(dir)) };
  } else {
    const { from, key, as } = args.replica;
    if (from === undefined || !/^https?:\/\//i.test(from))
      fail(ErrorCode.INVALID_ARGUMENT, 'a replica node needs --replica <URL of the node it follows>');
    if (key === undefined)
      fail(
        ErrorCode.INVALID_ARGUMENT,
        'a replica node needs --key <sequencer.pub>: the published key to pin',
      );
    const verifierKey = keyArgument(key);
    if (args.quorum !== undefined && (args.witnesses ?? []).length === 0)
      fail(
        ErrorCode.INVALID_ARGUMENT,
        '--quorum counts cosignatures of the witnesses given: give --witness <key>',
        { hint: 'without --witness, the replica requires no cosignature at all' },
      );
    const required = (args.witnesses ?? []).map((w) => {
      if (/^https?:\/\//i.test(w))
        fail(
          ErrorCode.INVALID_ARGUMENT,
          'a replica asks no witness: --witness <key> names one whose cosignatures the followed checkpoints need',
        );
      return keyArgument(w);
    });
    mkdirSync(dir, { recursive: true });
    role = {
      replica: {
        from,
        verifierKey,
        ...(as === undefined ? {} : { as: await resolveNodeMember(from, verifierKey, as) }),
        ...(required.length === 0 ? {} : { witnesses: required, quorum: args.quorum ?? required.length }),
      },
    };
  }
  const witnesses = (args.replica === undefined ? (args.witnesses ?? []) : []).map((w) => {
    const at = w.indexOf('=');
    if (at <= 0 || !/^https?:\/\//i.test(w))
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `--witness takes <url>=<verifier key or file>, not ${JSON.stringify(w)}`,
      );
    return { url: w.slice(0, at), verifierKey: keyArgument(w.slice(at + 1)) };
  });
  const running = await startNode(ledgerPath(dir), {
    ...role,
    ...(witnesses.length === 0 ? {} : { witnesses }),
    host: listen.host,
    port: listen.port,
    public: args.public,
    ...(metricsListen === undefined ? {} : { metricsListen }),
    ...(args.maxBody === undefined ? {} : { maxBody: args.maxBody }),
    log: createNodeLog({ level }),
  });
  ctx.out(
    ctx.json
      ? JSON.stringify({
          url: running.url,
          origin: running.origin,
          size: running.size,
          ...(running.metricsUrl === undefined ? {} : { metricsUrl: running.metricsUrl }),
        })
      : running.url,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await running.close();
  return EXIT.ok;
}
