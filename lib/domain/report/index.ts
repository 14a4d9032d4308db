/** The daily KPI report: its versioned JSON model and its one-page HTML rendering. Pure: no AWS imports. */
export {
  compact,
  count,
  duration,
  eventTypeLabel,
  percent,
  platformLabel,
  stageLabel,
  tabLabel,
} from './labels';
export {
  type CtrFigure,
  figure,
  type HeadlineFigure,
  InvalidReportError,
  KPI_REPORT_VERSION,
  type KpiReport,
  KpiReportV1,
  type PlatformCtr,
  parseReport,
  REPORT_STAGES,
  type ReportStage,
  ratio,
  reportInconsistencies,
  type StageQuarantine,
  type TabCtr,
} from './model';
export { attentionItems, escapeHtml, jsonForScript, renderReportHtml } from './render';
