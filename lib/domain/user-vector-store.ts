/**
 * What update-user-vectors needs from storage, as an interface the Lambda (DynamoDB, lib/aws/user-vectors.ts),
 * the unit tests and the benchmark implement. Pure: no AWS imports.
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

/**
 * A UserVectorStore in memory, counting its calls as DynamoDB would bill them (BatchGetItem: 100 keys a
 * call). For unit tests and the benchmark; `beforePut` lets a test interleave another writer.
 */
export class MemoryUserVectorStore implements UserVectorStore {
  readonly users = new Map<string, StoredUser>();
  readonly articles = new Map<string, Uint8Array>();
  readonly calls = { batchGetUsers: 0, batchGetArticles: 0, puts: 0, conflicts: 0 };
  beforePut?: (item: StoredUser) => void | Promise<void>;

  async getUsers(userIds: readonly string[]): Promise<Map<string, StoredUser>> {
    this.calls.batchGetUsers += Math.ceil(userIds.length / 100);
    const out = new Map<string, StoredUser>();
    for (const id of userIds) {
      const user = this.users.get(id);
      if (user) out.set(id, user);
    }
    return out;
  }

  async getArticleVectors(articleIds: readonly string[]): Promise<Map<string, Uint8Array>> {
    this.calls.batchGetArticles += Math.ceil(articleIds.length / 100);
    const out = new Map<string, Uint8Array>();
    for (const id of articleIds) {
      const vector = this.articles.get(id);
      if (vector) out.set(id, vector);
    }
    return out;
  }

  async putUser(item: StoredUser, expectedVersion: number | undefined): Promise<boolean> {
    if (this.beforePut) await this.beforePut(item);
    this.calls.puts++;
    if (this.users.get(item.userId)?.version !== expectedVersion) {
      this.calls.conflicts++;
      return false;
    }
    this.users.set(item.userId, item);
    return true;
  }
}
