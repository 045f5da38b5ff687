/** PostgreSQL maintenance: slow statements, connection usage (weekly), VACUUM ANALYZE (monthly). */
import { errorMessage } from '../../common/errors.js';
import { finding, type Finding } from '../../common/report.js';
import type { Config } from '../../config/config.js';
import { withPgClient } from '../../postgres/client.js';
import { connectionUsage, serverVersionNum, slowQueries, statStatementsColumns, statStatementsState, vacuumAnalyze } from '../../postgres/maintenance.js';
import { activitySignal, rethrowIfCancelled, trackStep } from '../context.js';
import { count } from '../../common/words.js';

export interface MaintenancePostgresDeps {
  config: Pick<Config, 'postgres' | 'thresholds' | 'maintenance'>;
}

const ENABLE_HINT =
  "add pg_stat_statements to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements', then restart PostgreSQL) and run CREATE EXTENSION pg_stat_statements in the database";

export function createMaintenancePostgresActivities({ config }: MaintenancePostgresDeps) {
  const m = config.maintenance.postgres;
  const notConfigured = (check: string) => finding(check, 'ok', 'skipped: this host has no postgres section in its config', { configured: false });
  return {
    /**
     * Slow statements (mean execution time above `maintenance.postgres.slowQueryMs`)
     * from pg_stat_statements, with the server version's column names, and
     * client connections against max_connections (`warn` above
     * `thresholds.dbConnectionsPercent`). Without the extension: a `warn` that says
     * how to enable it. An unreachable database fails both checks.
     */
    async checkPostgres(): Promise<Finding[]> {
      const pg = config.postgres;
      if (!pg) return [notConfigured('postgres.slow-queries'), notConfigured('postgres.connections')];
      const where = `${pg.host}:${pg.port}/${pg.database}`;
      try {
        return await withPgClient(pg, async (c) => {
          const version = await serverVersionNum(c);
          const out: Finding[] = [];
          const state = await statStatementsState(c);
          const base = { database: pg.database, serverVersionNum: version, thresholdMs: m.slowQueryMs };
          if (!state.installed || !state.schema) {
            out.push(finding('postgres.slow-queries', 'warn', `pg_stat_statements is not installed in ${pg.database}, so slow queries cannot be listed: ${ENABLE_HINT}`, { ...base, extension: false, preloaded: state.preloaded }));
          } else if (!state.preloaded) {
            out.push(finding('postgres.slow-queries', 'warn', `pg_stat_statements is installed in ${pg.database} but not loaded by the server: ${ENABLE_HINT}`, { ...base, extension: true, preloaded: false }));
          } else {
            const slow = await slowQueries(c, { versionNum: version, schema: state.schema, thresholdMs: m.slowQueryMs, limit: m.slowQueryLimit });
            const data = { ...base, extension: true, extensionVersion: state.extensionVersion, columns: statStatementsColumns(version), count: slow.total, queries: slow.queries };
            out.push(
              slow.total > 0
                ? finding('postgres.slow-queries', 'warn', `${count(slow.total, 'statement')} in ${pg.database} ${slow.total === 1 ? 'takes' : 'take'} more than ${m.slowQueryMs} ms on average; slowest: ${slow.queries[0]!.meanMs} ms ${slow.queries[0]!.query.slice(0, 80)}`, data)
                : finding('postgres.slow-queries', 'ok', `no statement in ${pg.database} takes more than ${m.slowQueryMs} ms on average`, data),
            );
          }
          const usage = await connectionUsage(c);
          const threshold = config.thresholds.dbConnectionsPercent;
          const text = `${usage.connections} of ${usage.maxConnections} connections in use (${usage.usedPercent}%)`;
          out.push(
            usage.usedPercent > threshold
              ? finding('postgres.connections', 'warn', `${text}, above ${threshold}%`, { ...usage, thresholdPercent: threshold })
              : finding('postgres.connections', 'ok', text, { ...usage, thresholdPercent: threshold }),
          );
          return out;
        });
      } catch (err) {
        const message = `cannot query PostgreSQL at ${where}: ${errorMessage(err)}`;
        return [finding('postgres.slow-queries', 'fail', message, { database: pg.database }), finding('postgres.connections', 'fail', message, { database: pg.database })];
      }
    },

    /** `VACUUM ANALYZE` of the configured database (never a REINDEX: the seed's REINDEX of pg_stat_statements targeted a view). */
    async vacuumDatabase(): Promise<Finding> {
      const pg = config.postgres;
      if (!pg) return notConfigured('postgres.vacuum');
      const signal = activitySignal();
      try {
        const r = await vacuumAnalyze(pg, { timeoutMinutes: m.vacuumTimeoutMinutes, ...(signal ? { signal } : {}), progress: trackStep(`vacuum ${pg.database} (blocks)`, 'items') });
        const text = `${r.command} of ${r.database} took ${r.seconds}s; dead rows ${r.deadRowsBefore} -> ${r.deadRowsAfter}, size ${r.sizeBefore} -> ${r.sizeAfter} bytes`;
        return r.skipped.length
          ? finding('postgres.vacuum', 'warn', `${text}; ${count(r.skipped.length, 'table')} skipped (${r.skipped[0]})`, { ...r, skipped: r.skipped.slice(0, 20), skippedCount: r.skipped.length })
          : finding('postgres.vacuum', 'ok', text, { ...r });
      } catch (err) {
        rethrowIfCancelled(err, signal);
        return finding('postgres.vacuum', 'fail', `VACUUM ANALYZE of ${pg.host}:${pg.port}/${pg.database} failed: ${errorMessage(err)}`, { database: pg.database, timeoutMinutes: m.vacuumTimeoutMinutes });
      }
    },
  };
}
