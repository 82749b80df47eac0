/**
 * Servers the publish tests publish to and follow from, all on 127.0.0.1:
 * s3rver, a real S3-compatible server, as a process of its own
 * (s3rver-child.mjs), and a plain static file server over a folder
 * (python3 -m http.server where python3 is installed, else a minimal
 * node:http one).
 *
 * s3rver answers GETs without an AWS signature (it checks signatures only on
 * requests that carry one), so the bucket's path-style address
 * http://127.0.0.1:PORT/<bucket>/<prefix>/ is readable as it is, as a bucket
 * with a public-read policy is on other stores; no policy or website
 * configuration is needed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';

const CHILD = join(import.meta.dirname, '../../scripts/s3rver-child.mjs');
/** s3rver's one account (its README): any other access key is InvalidAccessKeyId. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface RunningS3 {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly bucket: string;
  /** The bucket's HTTP address for a prefix, as a follower reads it: endpoint/bucket/prefix/ */
  url(prefix: string): string;
  /** Keys written (PUT), in the order the server stored them. */
  readonly puts: string[];
  /** The process environment a child `dirchain publish` needs for this server's credentials. */
  readonly env: Record<string, string>;
  readonly process: ChildProcess;
  close(): Promise<void>;
}

/** Waits for `child` to exit, at most `ms`; then SIGKILL. */
async function stopped(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

/** Starts s3rver keeping its data in `dir`, with `bucket` made. */
export async function startS3(dir: string, bucket = 'ledgers'): Promise<RunningS3> {
  const child = spawn(process.execPath, [CHILD, dir, bucket], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const puts: string[] = [];
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`s3rver did not start within 20 s: ${stderr}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited ${code}: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { port?: number; event?: string; key?: string };
      if (m.port !== undefined) {
        clearTimeout(timer);
        resolvePort(m.port);
      } else if (m.event?.startsWith('ObjectCreated') && m.key !== undefined) puts.push(m.key);
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    url: (prefix) => `${endpoint}/${bucket}/${prefix.replace(/^\/+|\/+$/g, '')}/`,
    puts,
    env: {
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      // Never ask an EC2 metadata address for credentials: these tests talk to 127.0.0.1 only.
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    process: child,
    close: async () => {
      child.kill('SIGTERM');
      await stopped(child, 10_000);
    },
  };
}

export interface StaticServer {
  /** http://127.0.0.1:PORT/ */
  readonly url: string;
  readonly kind: 'python3' | 'node';
  close(): Promise<void>;
}

const hasPython = (): boolean => {
  const r = spawnSync('python3', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
};

/** The static file servers this machine has: node:http always, python3's http.server where python3 is installed. */
export function staticServerKinds(): Array<StaticServer['kind']> {
  return hasPython() ? ['python3', 'node'] : ['node'];
}

/** A plain static file server over `folder`: python3's http.server (where installed), or node:http. */
export async function startStaticServer(
  folder: string,
  kind: StaticServer['kind'] = staticServerKinds()[0]!,
): Promise<StaticServer> {
  return kind === 'python3' ? pythonServer(folder) : nodeServer(folder);
}

async function pythonServer(folder: string): Promise<StaticServer> {
  const child = spawn(
    'python3',
    ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', folder],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  // Its request log goes to stderr: read, so the pipe never fills.
  child.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`python3 -m http.server did not start within 20 s: ${stderr}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`python3 -m http.server exited ${code}: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = / port (\d+)/.exec(line);
      if (m !== null) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    });
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    kind: 'python3',
    close: async () => {
      child.kill('SIGTERM');
      await stopped(child, 10_000);
    },
  };
}

/** GET and HEAD of the files under `folder`, 404 for anything else. */
async function nodeServer(folder: string): Promise<StaticServer> {
  const root = resolve(folder);
  const server = createServer((req, res) => {
    const path = resolve(root, `.${decodeURIComponent((req.url ?? '/').split('?')[0]!)}`);
    let size = -1;
    try {
      if (path.startsWith(root + sep)) size = statSync(path).isFile() ? statSync(path).size : -1;
    } catch {
      size = -1;
    }
    if (size < 0 || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Length': size, 'Content-Type': 'application/octet-stream' });
    if (req.method === 'HEAD') res.end();
    else createReadStream(path).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    kind: 'node',
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
