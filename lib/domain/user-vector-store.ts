/**
 * What update-user-vectors needs from storage, as an interface the Lambda (DynamoDB, lib/aws/user-vectors.ts),
 * the unit tests and the benchmark (memory, tests/helpers/memory-store.ts) implement. Pure: no AWS imports.
 */

/** A UserVectors item, as the function reads and writes it (attribute names in docs/ARCHITECTURE.md). */
export interface StoredUser {
  userId: string;
  /** Incremented by every write; a write is conditional on the version it read. */
  version: number;
  /** 128 float32 LE, L2-normalised (lib/domain/vectors.ts); all zeros while no click has a vector. */
  vector: Uint8Array;
  /** The packed click history (lib/domain/user-history.ts). */
  history: Uint8Array;
  historyLength: number;
  /** Entries of the history whose article had no vector yet when last computed. */
  pending: number;
  /** ISO-8601 time of the write. */
  updatedAt: string;
}

/** Storage of user and article vectors. */
export interface UserVectorStore {
  /** The current items of these users (strongly consistent reads); a user with no item is left out. */
  getUsers(userIds: readonly string[]): Promise<Map<string, StoredUser>>;
  /** The `vector` attribute of these articles; an article with no item (or no vector) is left out. */
  getArticleVectors(articleIds: readonly string[]): Promise<Map<string, Uint8Array>>;
  /**
   * Writes a user's item when its stored version is still `expectedVersion` (`undefined`: when the user
   * has no item yet). Resolves false when it is not (another writer got there first); throws when the
   * write failed.
   */
  putUser(item: StoredUser, expectedVersion: number | undefined): Promise<boolean>;
}
