/**
 * Checks LevelDB's own files before LevelDB reads them.
 *
 * classic-level opens LevelDB with neither `paranoid_checks` nor
 * `verify_checksums`, so LevelDB reads a damaged table block without checking
 * its CRC, and garbage that happens to parse reaches an assertion that aborts
 * the whole process (e.g. `ExtractUserKey: internal_key.size() >= 8`), or is
 * returned as a value. Here every block of every live table is checked
 * against its CRC-32C: when a folder is opened, and once for each table
 * LevelDB adds while it is open. Tables never change once written, so each is
 * checked once per open.
 *
 * Formats, from LevelDB 1.20, one file each: the MANIFEST and the live
 * tables and logs of the current version (leveldb-version.ts), the log
 * format (leveldb-log.ts), the table format (leveldb-table.ts); the reader
 * and the damage they share are in leveldb-bytes.ts.
 */
export { FileDamage } from './leveldb-bytes.js';
export { checkTable, checkTableGently, tableFile } from './leveldb-table.js';
export { checkLogs, type LiveTable, liveTables, readVersion, type Version } from './leveldb-version.js';
