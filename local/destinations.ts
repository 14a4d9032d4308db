import type { _Record } from '@aws-sdk/client-kinesis';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { FunctionInvocationError } from './errors';
import type { DestinationSpec } from './wiring';

/** What a failed invocation returned, as Lambda reports it in an on-failure record. */
export interface FunctionFailure {
  errorType: string;
  errorMessage: string;
}

/** The function error of anything an invoker threw (a handler's own error in process, or Lambda's). */
export function functionFailure(error: unknown): FunctionFailure {
  if (error instanceof FunctionInvocationError)
    return { errorType: error.errorType, errorMessage: error.errorMessage };
  if (error instanceof Error) return { errorType: error.name, errorMessage: error.message };
  return { errorType: 'Error', errorMessage: String(error) };
}

/**
 * The record Lambda sends to an asynchronous invocation's `destinations.onFailure` once its retries are
 * exhausted (the AWS Lambda developer guide's "invocation record"): the event and the function's error.
 */
export function asyncFailureRecord(input: {
  requestId: string;
  functionArn: string;
  approximateInvokeCount: number;
  event: unknown;
  failure: FunctionFailure;
  timestamp: Date;
}) {
  return {
    version: '1.0',
    timestamp: input.timestamp.toISOString(),
    requestContext: {
      requestId: input.requestId,
      functionArn: `${input.functionArn}:$LATEST`,
      condition: 'RetriesExhausted',
      approximateInvokeCount: input.approximateInvokeCount,
    },
    requestPayload: input.event,
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: input.failure.errorType, errorMessage: input.failure.errorMessage },
  };
}

/**
 * The record a Kinesis event source mapping sends to its `destinations.onFailure` when it gives up on a batch:
 * where the records are (shard, sequence range, arrival times), not the records themselves, as on AWS.
 * `functionError` is there when the function failed, not when it reported item failures.
 */
export function kinesisFailureRecord(input: {
  requestId: string;
  functionArn: string;
  approximateInvokeCount: number;
  shardId: string;
  streamArn: string;
  records: _Record[];
  functionError: boolean;
  timestamp: Date;
}) {
  const first = input.records[0];
  const last = input.records[input.records.length - 1];
  return {
    requestContext: {
      requestId: input.requestId,
      functionArn: input.functionArn,
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: input.approximateInvokeCount,
    },
    responseContext: {
      statusCode: 200,
      executedVersion: '$LATEST',
      ...(input.functionError ? { functionError: 'Unhandled' } : {}),
    },
    version: '1.0',
    timestamp: input.timestamp.toISOString(),
    KinesisBatchInfo: {
      shardId: input.shardId,
      startSequenceNumber: first?.SequenceNumber,
      endSequenceNumber: last?.SequenceNumber,
      approximateArrivalOfFirstRecord: first?.ApproximateArrivalTimestamp?.toISOString(),
      approximateArrivalOfLastRecord: last?.ApproximateArrivalTimestamp?.toISOString(),
      batchSize: input.records.length,
      streamArn: input.streamArn,
    },
  };
}

/** Delivers on-failure records to the stack's queues and topics. */
export interface DestinationSender {
  send(destination: DestinationSpec, record: unknown): Promise<void>;
}

/** Sends to a queue (SendMessage, the record as JSON body) or a topic (Publish), as Lambda does. */
export class SqsSnsDestinations implements DestinationSender {
  constructor(private readonly clients: { sqs: SQSClient; sns: SNSClient }) {}

  async send(destination: DestinationSpec, record: unknown): Promise<void> {
    const body = JSON.stringify(record);
    if (destination.type === 'sns') {
      await this.clients.sns.send(new PublishCommand({ TopicArn: destination.arn, Message: body }));
      return;
    }
    await this.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrlOf(destination.arn), MessageBody: body }),
    );
  }
}

/** `arn:aws:sqs:<region>:<account>:<name>` as its queue URL (AWS's form; the local SQS reads region and name). */
export function queueUrlOf(arn: string): string {
  const [, , , region, account, name] = arn.split(':');
  return `https://sqs.${region}.amazonaws.com/${account}/${name}`;
}
