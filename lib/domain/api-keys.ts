import { createHash, timingSafeEqual } from 'node:crypto';

/** Splits a comma-separated key list (an SSM StringList or the API_KEYS setting), dropping blanks. */
export function parseApiKeys(value: string): string[] {
  return value
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * True when `presented` is one of `keys`. Compares fixed-size digests in constant time and always
 * checks every key, so the time taken says nothing about how close a guess was.
 */
export function isValidApiKey(presented: string, keys: readonly string[]): boolean {
  const candidate = digest(presented);
  let match = false;
  for (const key of keys) {
    if (timingSafeEqual(candidate, digest(key))) match = true;
  }
  return match;
}

/** Why a request's API key is refused: the 401 answer's message, and the log line's reason. */
export interface ApiKeyRefusal {
  message: 'missing x-api-key header' | 'invalid API key';
  log: 'refused: no x-api-key header' | 'refused: invalid API key';
}

/**
 * The check every keyed route makes (collect, articles, the user routes): undefined when `presented`
 * (the x-api-key header) is one of the keys, else why not. The keys are only fetched for a presented key.
 */
export async function apiKeyRefusal(
  presented: string | undefined,
  keys: () => Promise<readonly string[]>,
): Promise<ApiKeyRefusal | undefined> {
  if (presented === undefined || presented === '') {
    return { message: 'missing x-api-key header', log: 'refused: no x-api-key header' };
  }
  if (!isValidApiKey(presented, await keys()))
    return { message: 'invalid API key', log: 'refused: invalid API key' };
  return undefined;
}
