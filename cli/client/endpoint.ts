import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';

/** The endpoint `logbase dev` serves. */
export const DEFAULT_ENDPOINT = 'http://127.0.0.1:3000';
/** Collect's route. */
export const EVENTS_PATH = '/v1/events';

/** Raised when a send cannot start: bad input file, no API key, an unusable endpoint. */
export class SendSetupError extends Error {
  override name = 'SendSetupError';
}

/** The URL to POST to: `path` (a route such as /v1/events) is appended when the endpoint has no path. */
export function routeUrl(endpoint: string, path: string): string {
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new SendSetupError(
      `--endpoint must be an http(s) URL such as ${DEFAULT_ENDPOINT}, got "${endpoint}"`,
    );
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = path;
  return url.toString();
}

/** The URL to POST events to: `/v1/events` is appended when the endpoint has no path. */
export function eventsUrl(endpoint: string): string {
  return routeUrl(endpoint, EVENTS_PATH);
}

/**
 * The local stage's API key: the first of params.local.apiKeys in serverless.yml.
 * CloudFormation tags (!GetAtt, !Sub, !Ref, ...) are read as plain values.
 */
export function localApiKey(serverlessYml: string): string | undefined {
  if (!existsSync(serverlessYml)) return undefined;
  const doc = parseYaml(readFileSync(serverlessYml, 'utf8'), { logLevel: 'error' }) as {
    params?: { local?: { apiKeys?: unknown } };
  };
  const keys = doc?.params?.local?.apiKeys;
  if (typeof keys !== 'string') return undefined;
  return keys
    .split(',')
    .map((k) => k.trim())
    .find((k) => k !== '');
}

/** Picks the API key: the flag, else LOGBASE_API_KEY, else the local stage's key from serverless.yml. */
export function resolveApiKey(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  serverlessYml: string[] = [resolve('serverless.yml'), resolve(__dirname, '../../serverless.yml')],
): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env.LOGBASE_API_KEY;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  for (const file of serverlessYml) {
    const key = localApiKey(file);
    if (key !== undefined) return key;
  }
  throw new SendSetupError(
    'no API key: pass --api-key, set LOGBASE_API_KEY, or run from the project (serverless.yml params.local.apiKeys)',
  );
}
