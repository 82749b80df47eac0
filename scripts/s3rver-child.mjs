/**
 * s3rver (a real S3-compatible server, npm `s3rver`) as a process of its own,
 * for the publish tests (test/sync/s3-server.ts) and figure 4 (bench/replication.ts).
 *
 *   node s3rver-child.mjs <data folder> <bucket>
 *
 * Listens on 127.0.0.1, a free port, with <bucket> made; prints {"port":N} once
 * listening, then one line {"event":"ObjectCreated:Put","key":"..."} per object
 * written, in the order the server stored them. Exits on SIGTERM.
 */
import S3rver from 's3rver';

const [directory, bucket] = process.argv.slice(2);
if (directory === undefined || bucket === undefined) {
  process.stderr.write('usage: node s3rver-child.mjs <data folder> <bucket>\n');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  vhostBuckets: false,
  configureBuckets: [{ name: bucket, configs: [] }],
});
server.on('event', (e) => {
  for (const r of e.Records)
    process.stdout.write(`${JSON.stringify({ event: r.eventName, key: r.s3.object.key })}\n`);
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.once('SIGTERM', () => {
  server.close().finally(() => process.exit(0));
});
