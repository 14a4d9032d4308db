/** Realistic, seedable news-app traffic for `logbase send`, the benchmarks and tests. */
export { DEFECT_KINDS, type DefectKind, type EventRecord } from './defects';
export {
  clickThroughRate,
  formatTimestamp,
  type GeneratedEvent,
  generateTraffic,
  steadyClock,
  TrafficGenerator,
  type TrafficOptions,
  TrafficOptionsError,
} from './generator';
export { TABS, type Tab } from './population';
export { Random, WeightedSampler, zipfWeights } from './random';
