import type { S3Client } from '@aws-sdk/client-s3';
import { getBytes, listKeys } from '../lib/aws/batch';
import { latestReportDate, reportKeys } from '../lib/domain/report/kpi';
import { escapeHtml } from '../lib/domain/report/render';

/** A page the stack's HTTP front answers itself (never forwarded to serverless-offline). */
export interface LocalPage {
  status: number;
  contentType: string;
  body: Uint8Array | string;
}

/** Where `logbase dev` serves the newest KPI report. */
export const LATEST_REPORT_PATH = '/reports/kpi/latest';

const NO_REPORT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>No KPI report yet · logbase</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#111827}code{background:#f3f4f6;padding:2px 6px;border-radius:4px}</style></head>
<body><h1>no report yet: run <code>logbase run batch-scoring</code></h1>
<p>The batch-scoring run publishes the KPI report of its date under <code>reports/kpi/dt=YYYY-MM-DD/</code>
in the data bucket; this page shows the newest one. With <code>npm start -- --demo</code> the demo ends with a run.</p>
</body></html>
`;

const notFound = (what: string): LocalPage => ({
  status: 404,
  contentType: 'text/html; charset=utf-8',
  body: NO_REPORT.replace('<h1>no report yet', `<h1>${escapeHtml(what)}`),
});

/**
 * The KPI report pages of the local stack, read from the data bucket: `/reports/kpi/latest` (the newest
 * `reports/kpi/dt=*\/index.html`), `/reports/kpi/dt=YYYY-MM-DD/` (one date's page) and
 * `/reports/kpi/dt=YYYY-MM-DD/report.json`. Any other path under /reports/ is undefined (not ours).
 */
export function reportPages(s3: () => S3Client, bucket: string) {
  return async (path: string): Promise<LocalPage | undefined> => {
    if (!path.startsWith('/reports/kpi/')) return undefined;
    const page = async (key: string, contentType: string): Promise<LocalPage | undefined> => {
      const keys = await listKeys(s3(), bucket, key);
      if (!keys.includes(key)) return undefined;
      return { status: 200, contentType, body: await getBytes(s3(), bucket, key) };
    };
    if (path === LATEST_REPORT_PATH || path === `${LATEST_REPORT_PATH}/`) {
      const date = latestReportDate(await listKeys(s3(), bucket, 'reports/kpi/'));
      const found = date && (await page(reportKeys(date).html, 'text/html; charset=utf-8'));
      return found || notFound('no report yet');
    }
    const m = /^\/reports\/kpi\/dt=(\d{4}-\d{2}-\d{2})\/(index\.html|report\.json)?$/.exec(path);
    if (!m) return notFound(`no such page: ${path}`);
    const date = m[1] as string;
    const found =
      m[2] === 'report.json'
        ? await page(reportKeys(date).json, 'application/json')
        : await page(reportKeys(date).html, 'text/html; charset=utf-8');
    return found ?? notFound(`no report for ${date} yet`);
  };
}
