/** Compares two Kinesis sequence numbers (decimal strings of up to 128 bits): <0, 0 or >0. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
