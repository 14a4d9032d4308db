/** Raised at start-up when a required setting is missing or malformed. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads a required environment variable; throws a ConfigError naming it when it is missing or empty. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigError(`environment variable ${name} is required but not set (see serverless.yml)`);
  }
  return value;
}

/** Reads an optional environment variable, falling back to `fallback` when unset or empty. */
export function optionalEnv(name: string, fallback: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  return value === undefined || value === '' ? fallback : value;
}

/** Reads a positive integer setting; throws a ConfigError when it is not one. */
export function intEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = optionalEnv(name, String(fallback), env);
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`environment variable ${name} must be a positive integer, got "${raw}"`);
  }
  return value;
}
