import { ConfigError, intEnv, requireEnv } from '../../lib/config';
import { DEFAULT_OPTIONS } from '../../lib/domain/user-vectors';

/** Everything update-user-vectors reads from its environment (see serverless.yml), read once at start-up. */
export interface UpdateUserVectorsConfig {
  userVectorsTable: string;
  articleVectorsTable: string;
  /** Clicks kept per user (N). */
  historyLength: number;
  /** Half-life of a click's weight, in ms. */
  halfLifeMs: number;
  writeConcurrency: number;
}

/** Reads and checks the settings; throws a ConfigError naming the first bad variable. */
export function loadUpdateUserVectorsConfig(env: NodeJS.ProcessEnv = process.env): UpdateUserVectorsConfig {
  const halfLifeHours = Number(env.USER_VECTOR_HALF_LIFE_HOURS ?? '24');
  if (!Number.isFinite(halfLifeHours) || halfLifeHours <= 0) {
    throw new ConfigError(
      `environment variable USER_VECTOR_HALF_LIFE_HOURS must be a positive number, got "${env.USER_VECTOR_HALF_LIFE_HOURS}"`,
    );
  }
  const historyLength = intEnv('USER_HISTORY_LENGTH', DEFAULT_OPTIONS.historyLength, env);
  if (historyLength > 10_000) {
    throw new ConfigError(
      `environment variable USER_HISTORY_LENGTH must be at most 10000, got ${historyLength}`,
    );
  }
  return {
    userVectorsTable: requireEnv('USER_VECTORS_TABLE', env),
    articleVectorsTable: requireEnv('ARTICLE_VECTORS_TABLE', env),
    historyLength,
    halfLifeMs: halfLifeHours * 3600 * 1000,
    writeConcurrency: intEnv('USER_VECTORS_WRITE_CONCURRENCY', DEFAULT_OPTIONS.writeConcurrency, env),
  };
}
