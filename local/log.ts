/** Where the local stack reports what it does (each dispatch, retries, failures). */
export interface StackLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Says nothing: the default for tests. */
export const silentLog: StackLog = { info: () => {}, warn: () => {}, error: () => {} };

/** Prints one line per message, prefixed with the time; warnings and errors go to stderr. */
export function consoleLog(prefix = ''): StackLog {
  const time = () => new Date().toISOString().slice(11, 23);
  return {
    info: (m) => console.log(`${time()} ${prefix}${m}`),
    warn: (m) => console.warn(`${time()} ${prefix}WARN ${m}`),
    error: (m) => console.error(`${time()} ${prefix}ERROR ${m}`),
  };
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error
    ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`
    : String(error);
}
