import { join } from 'node:path';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { S3Event } from 'aws-lambda';
import { s3Client } from '../../lib/aws/clients';
import { PatternLineCheck } from '../../lib/domain/format/stored-lines';
import { ParquetWriter } from '../../lib/format/duckdb';
import { logger, metrics, tracer } from '../../lib/powertools';
import { type FormatConfig, loadFormatConfig } from './config';
import { type FormatDeps, formatS3Event } from './format';

/** The real dependencies: a traced S3 client and one DuckDB per container, opened on first use. */
export function formatDeps(config: FormatConfig): FormatDeps {
  let writer: Promise<ParquetWriter> | undefined;
  // Its patterns are compiled once per container; objects are formatted one after the other.
  const check = new PatternLineCheck();
  return {
    config,
    s3: tracer.captureAWSv3Client(s3Client()),
    writer: () => {
      writer ??= ParquetWriter.open({
        tempDirectory: join(config.workDir, 'duckdb-spill'),
        memoryLimit: config.duckDbMemoryLimit,
      });
      return writer;
    },
    check: () => check,
    logger,
    metrics,
    now: () => new Date(),
  };
}

/** The middy chain: logger, tracer (responses not captured: a manifest per object), metrics. */
export function createHandler(deps: FormatDeps) {
  return middy<S3Event, unknown>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(async (event) => {
      const results = await formatS3Event(event, deps);
      return { objects: results.length };
    });
}

// Settings and clients are created once per container, at start-up.
const deps = formatDeps(loadFormatConfig());

/** S3 ObjectCreated under raw/events/ and raw/clicks/ (async invocation: a thrown error is retried). */
export const handler = createHandler(deps);
