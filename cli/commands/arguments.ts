import { InvalidArgumentError } from 'commander';

/** Argument parsers shared by the commands (commander `argParser`s that explain what they expect). */

/** A whole number from 1 to `max`. */
export function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? '>= 1' : `from 1 to ${max}`;
      throw new InvalidArgumentError(`${name} must be a whole number ${range}, got "${raw}"`);
    }
    return value;
  };
}

/** A --seed: digits are a number, anything else a string seed. */
export function seedOf(raw: string | undefined): number | string | undefined {
  if (raw === undefined) return undefined;
  return /^\d+$/.test(raw) ? Number(raw) : raw;
}
