/**
 * Child processes the figures run beside the bench (a `dirchain node`, an
 * S3-compatible server): started, their first stdout line read as JSON (the
 * address they listen on), stopped. A child never outlives the bench: it is
 * SIGKILLed from a process `exit` handler if the bench dies with an error, and
 * from SIGINT/SIGTERM handlers (which then end the bench as the signal would).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface BenchChild {
  readonly pid: number | undefined;
  /** The first line it printed, parsed as JSON. */
  readonly first: Record<string, unknown>;
  /** SIGTERM, SIGKILL if it has not gone in `graceMs`; its exit code. */
  stop(graceMs: number): Promise<number | null>;
}

/** Starts `node <args>` and waits (at most `startMs`) for its first stdout line, a JSON object. */
export async function startChild(
  what: string,
  args: readonly string[],
  startMs = 60_000,
): Promise<BenchChild> {
  const child: ChildProcess = spawn(process.execPath, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const onSignal = (signal: NodeJS.Signals): void => {
    child.kill('SIGKILL');
    process.kill(process.pid, signal); // the default action again: this listener is gone
  };
  const release = (): void => {
    child.kill('SIGKILL');
    process.off('exit', release);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('exit', release);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Its logs, kept short, for an error message.
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  try {
    const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${what} printed nothing in ${startMs / 1000} s`)),
        startMs,
      );
      // The interface keeps reading (and dropping) later lines, so the pipe never fills.
      createInterface({ input: child.stdout! }).once('line', (line) => {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line) as Record<string, unknown>);
        } catch {
          reject(new Error(`${what} printed ${JSON.stringify(line)}, not its JSON address line`));
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${what} exited (code ${code}) before printing its address: ${stderr.trim()}`));
      });
    });
    return {
      pid: child.pid,
      first,
      stop: async (graceMs) => {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await exited;
        clearTimeout(timer);
        release(); // no-op kill of an exited child; removes the listeners
        return code;
      },
    };
  } catch (e) {
    release();
    await exited;
    throw e;
  }
}

/** The CLI bundled beside run.js by tsup.bench.config.ts, from the same source as the bench. */
export function benchCli(figure: string): string {
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  if (!existsSync(cli))
    throw new Error(`${figure} needs the CLI at ${cli}: run the bench with \`npm run bench\``);
  return cli;
}

/** Lays out a CLI node folder around a ledger folder: `<dir>/ledger` and `<dir>/keys/sequencer.key`. */
export async function nodeFolder(dir: string, sequencerKey: string): Promise<void> {
  await mkdir(join(dir, 'keys'), { recursive: true });
  await writeFile(join(dir, 'keys', 'sequencer.key'), `${sequencerKey}\n`, { mode: 0o600 });
}
