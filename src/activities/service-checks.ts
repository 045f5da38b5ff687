/** The checks a service must pass after it was restarted or restored, beyond being active. */
import type { Config } from '../config/config.js';
import { errorMessage } from '../common/errors.js';
import { finding, type Finding } from '../common/report.js';
import { withPgClient } from '../postgres/client.js';
import { getMemoryStats } from '../system/memory-service.js';

/** `ok` when the memory service answers `GET /get_stats`, else `fail` naming why. */
export async function memoryServiceAnswers(config: Config): Promise<Finding> {
  try {
    const stats = await getMemoryStats(config.memoryService.url, config.memoryService.timeoutSeconds * 1000);
    return finding('memory.get_stats', 'ok', `memory service answers: ${stats.size} memories`, { ...stats });
  } catch (err) {
    return finding('memory.get_stats', 'fail', `memory service does not answer: ${errorMessage(err)}`, { url: config.memoryService.url });
  }
}

/** `ok` when the configured database answers `SELECT 1`; nothing without a postgres section. */
export async function databaseAnswers(config: Config): Promise<Finding[]> {
  if (!config.postgres) return [];
  const database = config.postgres.database;
  try {
    await withPgClient(config.postgres, (c) => c.query('SELECT 1'));
    return [finding('postgres.select1', 'ok', `database ${database} answers SELECT 1`, { database })];
  } catch (err) {
    return [finding('postgres.select1', 'fail', `database ${database} does not answer: ${errorMessage(err)}`, { database })];
  }
}
