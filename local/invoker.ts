import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { FunctionInvocationError } from './errors';

/** Which function to invoke: its key under `functions:` and its deployed name. */
export interface InvokeTarget {
  key: string;
  name: string;
}

/** Runs a function with an event and returns its result; throws when the function fails. */
export interface Invoker {
  invoke(target: InvokeTarget, event: unknown): Promise<unknown>;
}

/**
 * Invokes functions through the Lambda Invoke API (serverless-offline's endpoint locally), as AWS event
 * sources do. A function error (`FunctionError` set) is thrown as a FunctionInvocationError.
 */
export class LambdaInvoker implements Invoker {
  constructor(private readonly client: LambdaClient) {}

  async invoke(target: InvokeTarget, event: unknown): Promise<unknown> {
    const response = await this.client.send(
      new InvokeCommand({
        FunctionName: target.name,
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(event)),
      }),
    );
    const text = response.Payload ? Buffer.from(response.Payload).toString('utf8') : '';
    const payload = text === '' ? undefined : parseJson(text);
    if (response.FunctionError) {
      const body = (payload ?? {}) as { errorType?: string; errorMessage?: string; Message?: string };
      throw new FunctionInvocationError(
        target.name,
        body.errorType ?? response.FunctionError,
        body.errorMessage ?? body.Message ?? text,
      );
    }
    return payload;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A handler run in this process by InProcessInvoker (a Lambda handler's shape, without the context). */
// biome-ignore lint/suspicious/noExplicitAny: each handler declares its own event type (S3Event, KinesisStreamEvent, ...)
export type LocalHandler = (event: any) => unknown;

/**
 * Runs handlers in this process, keyed by function key or full name: what tests pass to see exactly which
 * events a function received. A thrown error is a function error, as on Lambda.
 */
export class InProcessInvoker implements Invoker {
  constructor(private readonly handlers: Record<string, LocalHandler>) {}

  async invoke(target: InvokeTarget, event: unknown): Promise<unknown> {
    const handler = this.handlers[target.key] ?? this.handlers[target.name];
    if (!handler) {
      throw new FunctionInvocationError(
        target.name,
        'HandlerNotFound',
        `no in-process handler for ${target.key}`,
      );
    }
    // A structured clone, like the JSON round trip of a real invocation: handlers cannot share objects.
    return await handler(structuredClone(event));
  }
}
