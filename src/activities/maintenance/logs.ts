/** Log rotation through logrotate, and error lines per service since the previous scan. */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { errorMessage } from '../../common/errors.js';
import { finding, type Finding } from '../../common/report.js';
import type { Config } from '../../config/config.js';
import { lastLines, runCommand } from '../../maintenance/run-command.js';
import { countErrorLines, errorMatchers, readScanMarker, scanWindowStart, writeScanMarker } from '../../maintenance/log-errors.js';
import type { ServiceManager } from '../../services/index.js';
import { activitySignal, rethrowIfCancelled, trackStep } from '../context.js';
import { count } from '../../common/words.js';

export interface MaintenanceLogDeps {
  config: Pick<Config, 'services' | 'maintenance'>;
  services: ServiceManager;
  /** @default logrotate */
  logrotate?: string;
}

const DAY_MS = 86_400_000;

/** The scan marker's file in the maintenance state folder. */
export function logScanMarkerPath(stateDir: string): string {
  return join(stateDir, 'log-scan.json');
}

export function createMaintenanceLogActivities({ config, services, logrotate = 'logrotate' }: MaintenanceLogDeps) {
  const logs = config.maintenance.logs;
  return {
    /**
     * Rotates the logs with the configured logrotate file (the seed's
     * `logrotate -f /etc/logrotate.d/kilocode-mcp`). No file is a `warn`; a
     * non-zero exit or an `error:` line (logrotate exits 0 when it ignores an
     * unsafe config file) is a `fail`.
     */
    async rotateLogs(): Promise<Finding> {
      const file = logs.logrotateConfig;
      const signal = activitySignal();
      const exists = await stat(file).then((s) => s.isFile(), () => false);
      if (!exists) return finding('logs.rotate', 'warn', `no logrotate configuration at ${file}: logs were not rotated`, { config: file });
      if (logs.logrotateStateFile) await mkdir(dirname(logs.logrotateStateFile), { recursive: true, mode: 0o750 });
      const argv = [logrotate, '--verbose', ...(logs.forceRotation ? ['--force'] : []), ...(logs.logrotateStateFile ? ['--state', logs.logrotateStateFile] : []), file];
      const r = await runCommand(argv, { timeoutMs: 10 * 60_000, signal, onOutputLines: trackStep('logrotate', 'lines') });
      const output = r.output;
      const data = { config: file, argv, exitCode: r.exitCode ?? null };
      if (r.notFound) return finding('logs.rotate', 'warn', `${logrotate} is not installed: logs were not rotated`, data);
      if (r.timedOut) return finding('logs.rotate', 'fail', `${logrotate} did not finish within 10 minutes`, data);
      if (r.error) return finding('logs.rotate', 'fail', `${logrotate} could not run: ${r.error}`, data);
      const considered = [...output.matchAll(/^considering log (\S+)/gm)].map((m) => m[1]!);
      const rotated = [...output.matchAll(/^rotating log (\S+?),/gm)].map((m) => m[1]!);
      const errors = output.split('\n').filter((l) => /^error:/.test(l));
      const full = { ...data, considered, rotated, errors };
      if (r.exitCode !== 0 || errors.length) {
        return finding('logs.rotate', 'fail', `${logrotate} ${file} ${r.exitCode !== 0 ? `exited with code ${String(r.exitCode)}` : 'reported errors'}: ${errors.join(' | ') || lastLines(output)}`, full);
      }
      return finding('logs.rotate', 'ok', `rotated ${rotated.length} of ${count(considered.length, 'log file')} with ${file}`, full);
    },

    /**
     * Error lines (the configured patterns, case-insensitive) per service since
     * the previous scan, from journald (systemd) or the log files and their
     * rotated copies (command). The first scan reads `firstScanDays` back. Line
     * texts stay on the host: logs may hold secrets, and reports are visible in
     * the Temporal UI.
     */
    async countLogErrors(req: { workflowId: string }): Promise<Finding[]> {
      const signal = activitySignal();
      const markerPath = logScanMarkerPath(config.maintenance.stateDir);
      const until = new Date();
      const since = scanWindowStart(await readScanMarker(markerPath), req.workflowId, new Date(until.getTime() - logs.firstScanDays * DAY_MS));
      const matchers = errorMatchers(logs.errorPatterns);
      const out: Finding[] = [];
      let complete = true;
      // Lines read so far, over the services done: each service's log is read whole, then counted.
      const report = trackStep('log scan', 'lines');
      let read = 0;
      report(read);
      for (const name of services.services) {
        const check = `logs.errors.${name}`;
        const where =
          services.type === 'systemd'
            ? `journalctl -u ${config.services.find((s) => s.name === name)?.unit ?? name} --since "${since.toISOString()}"`
            : (config.services.find((s) => s.name === name)?.logFiles ?? []).join(', ');
        try {
          const lines = (await services.logsSince(name, since, signal ? { signal } : {})).filter((l) => !l.time || Date.parse(l.time) < until.getTime());
          const c = countErrorLines(lines, matchers);
          read += lines.length;
          report(read);
          const data = { service: name, since: since.toISOString(), until: until.toISOString(), patterns: logs.errorPatterns, ...c };
          out.push(
            c.count > 0
              ? finding(check, 'warn', `${count(c.count, 'error line')} in ${name}'s log since ${since.toISOString()} (see ${where})`, data)
              : finding(check, 'ok', `no error lines in ${name}'s log since ${since.toISOString()} (${count(c.lines, 'line')} read)`, data),
          );
        } catch (err) {
          rethrowIfCancelled(err, signal);
          complete = false;
          out.push(finding(check, 'fail', `could not read ${name}'s log: ${errorMessage(err)}`, { service: name, since: since.toISOString() }));
        }
      }
      // A service whose log could not be read keeps the window open: the next scan reads it again.
      if (complete) {
        try {
          await writeScanMarker(markerPath, { scannedUntil: until.toISOString(), workflowId: req.workflowId, since: since.toISOString() });
        } catch (err) {
          out.push(finding('logs.errors', 'warn', `could not record the scan in ${markerPath} (${errorMessage(err)}): the next scan reads this window again`, { marker: markerPath }));
        }
      }
      return out;
    },
  };
}
