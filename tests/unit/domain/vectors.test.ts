import {
  decodeVector,
  encodeVector,
  normalize,
  VECTOR_BYTES,
  VECTOR_DIMENSIONS,
} from '../../../lib/domain/vectors';

describe('the stored vector format', () => {
  it('decodes what it encoded, float for float, from 512 little-endian bytes', () => {
    // Prepare
    const vector = normalize(Float32Array.from({ length: VECTOR_DIMENSIONS }, (_, i) => Math.sin(i + 1)));

    // Act
    const bytes = encodeVector(vector);

    // Assess
    expect(bytes.byteLength).toBe(VECTOR_BYTES);
    expect(Buffer.from(bytes).readFloatLE(4)).toBe(vector[1]);
    expect(decodeVector(bytes)).toEqual(vector);
  });

  it('decodes a vector that sits at an odd offset inside a larger buffer', () => {
    const vector = normalize(Float32Array.from({ length: VECTOR_DIMENSIONS }, (_, i) => i - 60));
    const padded = new Uint8Array(VECTOR_BYTES + 3);
    padded.set(encodeVector(vector), 3);

    expect(decodeVector(padded.subarray(3))).toEqual(vector);
  });

  it('refuses a vector of the wrong size, naming both sizes', () => {
    expect(() => encodeVector(new Float32Array(3))).toThrow('a vector has 128 dimensions, this one has 3');
    expect(() => decodeVector(new Uint8Array(12))).toThrow('a vector attribute holds 512 bytes, this one 12');
  });

  it('normalizes to unit length and leaves a zero vector at zero', () => {
    const unit = normalize(Float32Array.from([3, 4]));
    expect(Array.from(unit)).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(normalize(new Float32Array(2)))).toEqual([0, 0]);
  });
});
