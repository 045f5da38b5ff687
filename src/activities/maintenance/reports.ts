/** Writes the monthly report files on the host: `reports/monthly-report-YYYYMM.txt` and `.json`. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurably } from '../../archive/manifest.js';
import type { RunbookReport } from '../../common/report.js';
import type { Config } from '../../config/config.js';
import { buildMonthlyReport, monthlyReportBaseName, renderMonthlyReportText } from '../../report/monthly.js';

export interface MaintenanceReportDeps {
  config: Pick<Config, 'paths'>;
}

export interface ReportFiles {
  text: string;
  json: string;
  recommendations: number;
}

export function createMaintenanceReportActivities({ config }: MaintenanceReportDeps) {
  return {
    /**
     * Renders the run's report with the seed's sections and writes both files
     * atomically (temporary file, fsync, rename), mode 0640. A second run in the
     * same month replaces them.
     */
    async writeMonthlyReport(req: { report: RunbookReport; workflowId: string }): Promise<ReportFiles> {
      const dir = config.paths.reportsDir;
      await mkdir(dir, { recursive: true, mode: 0o750 });
      const monthly = buildMonthlyReport(req.report, req.workflowId);
      const base = join(dir, monthlyReportBaseName(req.report.startedAt));
      const files = { text: `${base}.txt`, json: `${base}.json` };
      await writeFileDurably(files.json, `${JSON.stringify(monthly, null, 2)}\n`, 0o640);
      await writeFileDurably(files.text, renderMonthlyReportText(monthly, req.report), 0o640);
      return { ...files, recommendations: monthly.recommendations.length };
    },
  };
}
