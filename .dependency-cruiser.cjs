/**
 * The Rules of /work/shared/ARCHITECTURE.md ("checked in CI by a dependency tool"),
 * for dependency-cruiser 17. Run: `npm run arch` (depcruise src --config .dependency-cruiser.cjs).
 * test/architecture.test.ts loads this same file and shows each rule failing on a small fixture.
 *
 * Paths are as dependency-cruiser names modules: relative to the folder it runs in,
 * with forward slashes (`src/crypto/note.ts`, `node_modules/msgpackr/...`); a node: builtin is
 * named without its prefix (`fs`) and has dependency type `core`.
 * Type-only imports count (tsPreCompilationDeps): a part that names another's types
 * depends on it.
 */

/** Crypto files that run only on Node (they import node:crypto, or one that does). */
const CRYPTO_NODE_ENGINES = '^src/crypto/(node-crypto|node-tree-hasher|sha256x4|keys)\\.ts$';
/** The storage half of state/: its files named *store*. */
const STATE_STORE = '^src/state/.*store[^/]*\\.ts$';

/** The pure parts. A module is in one when it matches PURE and not PURE_NOT. */
const PURE = '^src/(encoding|merkle|policy|privacy|crypto|state)/';
const PURE_NOT = [CRYPTO_NODE_ENGINES, STATE_STORE];

/** npm packages that are LevelDB or an HTTP stack. */
const LEVELDB_OR_HTTP_PACKAGES =
  '^node_modules/(classic-level|level|abstract-level|browser-level|memory-level|many-level|fastify|@fastify/[^/]+|undici|express|ws|node-fetch|axios|got)/';

/** What verify.ts (and the browser page / auditor command built on it) may reach. */
const VERIFY_MAY_REACH = [
  '^src/errors\\.ts$',
  '^src/verify\\.ts$',
  '^src/verify/',
  '^src/web/',
  '^src/encoding/',
  '^src/merkle/',
  '^src/crypto/',
  '^src/privacy/',
  '^src/state/',
  '^node_modules/(@noble/[^/]+|msgpackr)/',
].join('|');
/** ...except these, which are inside the folders above but not pure. */
const VERIFY_MAY_NOT_REACH = [
  CRYPTO_NODE_ENGINES,
  STATE_STORE,
  '^src/verify/standalone\\.ts$',
  '^src/web/build-page\\.ts$',
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles-between-parts',
      comment:
        'A part is a folder of src/ or a root file of src/. A cycle that passes through more than ' +
        'one part is forbidden; cycles inside one folder are allowed. (Every cross-part cycle has ' +
        'an edge that leaves a part; that edge is reported, with its cycle.)',
      severity: 'error',
      // $1 = the part of the importing module: "src/crypto/" or "src/index.ts".
      from: { path: '^(src/[^/]+/|src/[^/]+$)' },
      to: { circular: true, via: { pathNot: '^$1' } },
    },
    {
      name: 'pure-no-node-builtins',
      comment:
        'Pure parts (encoding, merkle, policy, privacy, crypto but its node-only engines, state but ' +
        'its *store* files) import no node: builtin; they run in browsers.',
      severity: 'error',
      from: { path: PURE, pathNot: PURE_NOT },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'pure-no-leveldb-or-http',
      comment: 'Pure parts import no LevelDB and no HTTP package.',
      severity: 'error',
      from: { path: PURE, pathNot: PURE_NOT },
      to: { path: LEVELDB_OR_HTTP_PACKAGES },
    },
    {
      name: 'pure-no-impure-parts',
      comment:
        'Pure parts import nothing from the parts that hold storage, processes, HTTP or the CLI ' +
        '(storage, sequencer, reader, node, sync, cli, audit, and ledger while it is being split), ' +
        'nor the node-only crypto engines or the state store.',
      severity: 'error',
      from: { path: PURE, pathNot: PURE_NOT },
      to: {
        path: ['^src/(storage|sequencer|reader|node|sync|cli|audit|ledger)/', CRYPTO_NODE_ENGINES, STATE_STORE],
      },
    },
    {
      name: 'verify-reaches-only-pure-parts',
      comment:
        'verify.ts (and the verifier page in web/ and the auditor command in verify/, which build ' +
        'on it) reach, through any chain of imports, only: errors.ts, encoding, merkle, crypto but ' +
        'its node-only engines, privacy, state but its store, verify itself, @noble/* and msgpackr. ' +
        'Not checked from verify/standalone.ts (it loads node:fs lazily when run as a command, see ' +
        'verify-standalone-static-imports) nor web/build-page.ts (a build step run by Node).',
      severity: 'error',
      from: {
        path: '^src/(verify\\.ts$|verify/|web/)',
        pathNot: ['^src/verify/standalone\\.ts$', '^src/web/build-page\\.ts$'],
      },
      // Anything outside the allowed folders, or one of the impure modules inside them.
      to: { reachable: true, path: [`^(?!${VERIFY_MAY_REACH})`, ...VERIFY_MAY_NOT_REACH] },
    },
    {
      name: 'verify-standalone-static-imports',
      comment:
        'dist/verify.js (src/verify/standalone.ts) is imported by browsers too: statically it may ' +
        'import only verify.ts; node: builtins and the command (verify/cli.ts) only by dynamic import().',
      severity: 'error',
      from: { path: '^src/verify/standalone\\.ts$' },
      to: { dependencyTypesNot: ['dynamic-import'], pathNot: '^src/verify\\.ts$' },
    },
    {
      name: 'local-store-not-served',
      comment:
        'Only the local-only store holds secrets, and nothing that serves, publishes, replicates or ' +
        'audits can read it: node/, sync/, reader/, audit/, web/, verify/ and the root verify*.ts ' +
        'files reach src/storage/local-store.ts through no chain of imports (type-only ones count).',
      severity: 'error',
      from: { path: '^src/((node|sync|reader|audit|web|verify)/|verify[^/]*\\.ts$)' },
      to: { reachable: true, path: '^src/storage/local-store\\.ts$' },
    },
    {
      name: 'no-imports-of-cli',
      comment: 'Nothing below the public entries knows the CLI: nothing outside src/cli/ imports src/cli/.',
      severity: 'error',
      from: { pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'cli-imports-only-public-entries',
      comment:
        'src/cli/ imports, of src/, only the public entries (index.ts, verify.ts, cli-api.ts) and ' +
        'its own files; npm packages and node builtins are fine.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(index\\.ts|verify\\.ts|cli-api\\.ts|cli/)' },
    },
    {
      name: 'not-to-unresolvable',
      comment:
        'An import that does not resolve (a moved file, a missing package) would hide a dependency ' +
        'from every rule above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-orphans',
      comment: 'A module nothing imports and that imports nothing: likely dead (or a new entry).',
      severity: 'warn',
      from: { orphan: true, pathNot: ['\\.d\\.(c|m)?ts$'] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
