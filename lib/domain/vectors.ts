/**
 * The vector contract shared by the writer of article vectors (`vectorize-article`) and their readers
 * (`update-user-vectors`, the batch scoring chain). Pure: no AWS imports.
 *
 * An ArticleVectors item, as stored in DynamoDB:
 *
 * | attribute      | type | meaning                                                             |
 * |----------------|------|---------------------------------------------------------------------|
 * | `article_id`   | S    | the key                                                              |
 * | `vector`       | B    | {@link VECTOR_DIMENSIONS} float32, little-endian, L2-normalised      |
 * | `model`        | S    | the vectorizer that made it (e.g. `hash-v1`); vectors of different models are never mixed |
 * | `category`     | S    | the article's category                                               |
 * | `published_at` | S    | ISO-8601 UTC instant (`toISOString()` form)                          |
 * | `title`        | S    | for people reading recommendations                                   |
 * | `updated_at`   | S    | when this vector was written                                         |
 *
 * A vector as a binary attribute is 512 bytes and marshals far faster than a list of 128 numbers.
 */

/** Dimensions of every article and user vector. */
export const VECTOR_DIMENSIONS = 128;

/** Bytes of one encoded vector. */
export const VECTOR_BYTES = VECTOR_DIMENSIONS * 4;

/** Encodes a vector as the `vector` attribute stores it: float32, little-endian. */
export function encodeVector(vector: Float32Array): Uint8Array {
  if (vector.length !== VECTOR_DIMENSIONS) {
    throw new RangeError(`a vector has ${VECTOR_DIMENSIONS} dimensions, this one has ${vector.length}`);
  }
  const out = new Uint8Array(VECTOR_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < VECTOR_DIMENSIONS; i++) view.setFloat32(i * 4, vector[i] as number, true);
  return out;
}

/** Decodes a `vector` attribute; throws a RangeError naming the size when it is not one vector's bytes. */
export function decodeVector(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength !== VECTOR_BYTES) {
    throw new RangeError(`a vector attribute holds ${VECTOR_BYTES} bytes, this one ${bytes.byteLength}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(VECTOR_DIMENSIONS);
  for (let i = 0; i < VECTOR_DIMENSIONS; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** Scales a vector to unit length in place and returns it; a zero vector stays zero. */
export function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += (vector[i] as number) ** 2;
  if (sum === 0) return vector;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) * scale;
  return vector;
}
