/** The service's serverless.yml could not be resolved (`sls print` failed or printed something unusable). */
export class ServiceConfigError extends Error {
  override name = 'ServiceConfigError';
}

/** A resource or function event in serverless.yml cannot be turned into local wiring. */
export class WiringError extends Error {
  override name = 'WiringError';
}

/** The local data dir cannot be used (locked by another stack, or not safe to wipe). */
export class DataDirError extends Error {
  override name = 'DataDirError';
}

/** An emulator or the serverless-offline child failed to start. */
export class LocalStackStartError extends Error {
  override name = 'LocalStackStartError';
}

/** A function invocation returned a function error (the handler threw or timed out). */
export class FunctionInvocationError extends Error {
  override name = 'FunctionInvocationError';
  constructor(
    readonly functionName: string,
    readonly errorType: string,
    /** The function's own errorMessage. */
    readonly errorMessage: string,
  ) {
    super(`${functionName} failed: ${errorType}: ${errorMessage}`);
  }
}
