import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

const EVENTS_DIR = join(__dirname, '..', '..', 'events');
const cache = new Map<string, unknown>();

/**
 * Loads a fixture from events/<source>/<variant>.json and returns a deep copy, so a test can
 * change it freely. The same files drive `sls invoke local --path`.
 */
export function loadEvent<T = unknown>(source: string, variant: string): T {
  const file = join(EVENTS_DIR, source, `${variant}.json`);
  let parsed = cache.get(file);
  if (parsed === undefined) {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
    cache.set(file, parsed);
  }
  return structuredClone(parsed) as T;
}

/** An API Gateway HTTP API (payload 2.0) fixture from events/http/. */
export const httpEvent = (variant: string) => loadEvent<APIGatewayProxyEventV2>('http', variant);

/** The events inside an HTTP fixture's body (JSON `{"events": [...]}` bodies only). */
export function bodyEvents(event: APIGatewayProxyEventV2): Record<string, unknown>[] {
  return (JSON.parse(event.body ?? '') as { events: Record<string, unknown>[] }).events;
}

/** A Lambda context as the runtime passes it, with `remainingMs` left before the timeout. */
export function lambdaContext(remainingMs = 15_000, functionName = 'logbase-test-collect'): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:ap-northeast-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/11/20/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
