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
