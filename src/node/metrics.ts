/**
 * The node's Prometheus metrics (docs/http-api.md "Metrics").
 *
 * Each node has its own registry, not prom-client's global one, so two nodes
 * in one process (tests, a node beside its witness) keep separate counts and
 * never register the same name twice.
 *
 * Labels never carry member ids, resource ids or paths: only an HTTP method,
 * a fixed route name, a status and an error code, each checked against a
 * closed shape and otherwise counted as "other". A label value that came from
 * a request would let any client grow the registry without bound, and an id in
 * a label would tell whoever scrapes the metrics who is writing what. What the
 * metrics do reveal is load and refusal rates, which is why the docs advise a
 * private `--metrics-listen`.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface NodeMetrics {
  readonly registry: Registry;
  /** A record (or batch event) acknowledged durable. */
  appended(count: number): void;
  /** A submission refused, by error code (label `code`; codes are a fixed set like E_CLOCK_SKEW). */
  refused(code: string): void;
  /** One block written: seconds from the block's first admission to durable (histogram dirchain_block_write_seconds). */
  blockWritten(seconds: number): void;
  /** Submissions waiting in the node (gauge dirchain_queue_depth); the node calls this with the current value. */
  setQueueDepth(n: number): void;
  /** One HTTP request answered: method, route (a fixed route name such as "tile", "records", "query" — never a raw path), status, seconds. */
  request(method: string, route: string, status: number, seconds: number): void;
  /** Prometheus text exposition and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

export interface NodeMetricsOptions {
  /** Process metrics (CPU, memory, event loop, GC) in the same registry; default true. */
  readonly defaultMetrics?: boolean;
}

/** The label value of anything outside a label's closed set. */
const OTHER = 'other';

// RFC 9110 §9 and RFC 5789 (PATCH); node:http also parses WebDAV and others, which would each be a series.
const METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
]);
const ROUTE = /^[a-z][a-z0-9_-]{0,31}$/;
const CODE = /^E_[A-Z_]{1,40}$/;

// From one fsync on an idle node (a millisecond) to a block held up behind a slow disk (seconds).
const BLOCK_WRITE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2];
// From a tile served from memory to a submission that waits for its block to be durable.
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const methodLabel = (method: string): string => (METHODS.has(method) ? method : OTHER);
const routeLabel = (route: string): string => (ROUTE.test(route) ? route : OTHER);
const codeLabel = (code: string): string => (CODE.test(code) ? code : OTHER);
const statusLabel = (status: number): string =>
  Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : OTHER;

/**
 * A value a counter or histogram can take. prom-client throws on the others;
 * a bookkeeping slip must not fail the append or request it was counting, so
 * such a value is not recorded.
 */
const measurable = (n: number): boolean => Number.isFinite(n) && n >= 0;

/** Metrics of one node, in a registry of their own. */
export function createNodeMetrics(options: NodeMetricsOptions = {}): NodeMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const appends = new Counter({
    name: 'dirchain_appends_total',
    help: 'Records and batch events acknowledged durable.',
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'dirchain_refusals_total',
    help: 'Submissions refused, by error code.',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  const blockWrite = new Histogram({
    name: 'dirchain_block_write_seconds',
    help: "Seconds from a block's first admission to the block being durable.",
    buckets: BLOCK_WRITE_BUCKETS,
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: 'dirchain_queue_depth',
    help: 'Submissions waiting in the node.',
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'dirchain_http_request_duration_seconds',
    help: 'Seconds to answer an HTTP request, by method, route name and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });

  return {
    registry,
    appended(count) {
      if (measurable(count)) appends.inc(count);
    },
    refused(code) {
      refusals.inc({ code: codeLabel(code) });
    },
    blockWritten(seconds) {
      if (measurable(seconds)) blockWrite.observe(seconds);
    },
    setQueueDepth(n) {
      if (measurable(n)) queueDepth.set(n);
    },
    request(method, route, status, seconds) {
      if (!measurable(seconds)) return;
      requestDuration.observe(
        { method: methodLabel(method), route: routeLabel(route), status: statusLabel(status) },
        seconds,
      );
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
