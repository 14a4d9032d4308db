import { intEnv, optionalEnv, requireEnv } from '../../lib/config';
import type { CollectLimits } from '../../lib/domain/collect';

/** Everything collect reads from its environment (see serverless.yml), read once at start-up. */
export interface CollectConfig {
  dataBucket: string;
  eventsDeliveryStream: string;
  clicksStream: string;
  limits: CollectLimits;
  /** SSM parameter holding the comma-separated API keys; empty on the local stage. */
  apiKeysParameter: string;
  /** Comma-separated API keys, used only when apiKeysParameter is empty. */
  apiKeys: string;
}

/** Reads and checks collect's settings; throws a ConfigError naming the first bad variable. */
export function loadCollectConfig(env: NodeJS.ProcessEnv = process.env): CollectConfig {
  return {
    dataBucket: requireEnv('DATA_BUCKET', env),
    eventsDeliveryStream: requireEnv('EVENTS_DELIVERY_STREAM', env),
    clicksStream: requireEnv('CLICKS_STREAM', env),
    limits: {
      maxEvents: intEnv('COLLECT_MAX_EVENTS', 500, env),
      maxBytes: intEnv('COLLECT_MAX_BYTES', 1_048_576, env),
      futureSkewSeconds: intEnv('COLLECT_FUTURE_SKEW_SECONDS', 300, env),
    },
    apiKeysParameter: optionalEnv('API_KEYS_PARAMETER', '', env),
    apiKeys: optionalEnv('API_KEYS', '', env),
  };
}
