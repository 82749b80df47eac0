/**
 * The e2e tests' way to run the built CLI (or another built script) as a child
 * process to its end, without blocking this process, which may be the server
 * the child talks to.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { repoRoot } from '../helpers.js';

/** The built CLI (`npm run build`; `npm test` does it). */
export const CLI = path.join(repoRoot, 'dist', 'cli.js');

/** This process's environment as a user's shell has it: no DIRCHAIN_DIR or DIRCHAIN_NODE, no colour. */
export function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.DIRCHAIN_DIR;
  delete env.DIRCHAIN_NODE;
  return env;
}

export interface ChildResult {
  /** The exit code; -1 when a signal ended it. */
  readonly code: number;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface ChildOptions {
  /** Default `cliEnv()`. */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** After this long it gets `killSignal` (default 60 s). */
  readonly timeoutMs?: number;
  /** Default SIGKILL; SIGTERM lets a child that started processes stop them. */
  readonly killSignal?: NodeJS.Signals;
}

/** `node <script> ...args` run to its end (its output read to the last byte). */
export function runScript(
  script: string,
  args: readonly string[],
  o: ChildOptions = {},
): Promise<ChildResult> {
  const child = spawn(process.execPath, [script, ...args], {
    env: o.env ?? cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(o.cwd === undefined ? {} : { cwd: o.cwd }),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill(o.killSignal ?? 'SIGKILL'), o.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, signal, stdout, stderr });
    });
  });
}

/** `dirchain ...args` run to its end. */
export function dirchain(args: readonly string[], o: ChildOptions = {}): Promise<ChildResult> {
  return runScript(CLI, args, o);
}
