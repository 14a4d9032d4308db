import { getParameter } from '@aws-lambda-powertools/parameters/ssm';
import { parseApiKeys } from '../domain/api-keys';

/** Seconds an SSM-fetched key list is cached in the Lambda container before it is fetched again. */
export const API_KEYS_MAX_AGE_SECONDS = 300;

/** Raised when the configured key source yields no key at all (every request would be refused). */
export class NoApiKeysError extends Error {
  override name = 'NoApiKeysError';
}

/**
 * The accepted API keys: from the SSM parameter `parameterName` (decrypted, cached for
 * API_KEYS_MAX_AGE_SECONDS) or, when no parameter is configured (local stage), from `inlineKeys`.
 */
export async function loadApiKeys(
  settings: { parameterName: string; inlineKeys: string },
  fetch: typeof getParameter = getParameter,
): Promise<string[]> {
  const source =
    settings.parameterName === ''
      ? settings.inlineKeys
      : await fetch(settings.parameterName, { decrypt: true, maxAge: API_KEYS_MAX_AGE_SECONDS });
  const keys = parseApiKeys(source ?? '');
  if (keys.length === 0) {
    const where = settings.parameterName === '' ? 'API_KEYS' : `SSM parameter ${settings.parameterName}`;
    throw new NoApiKeysError(`no API keys configured: ${where} is empty`);
  }
  return keys;
}
