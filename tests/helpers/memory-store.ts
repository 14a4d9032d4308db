import type { StoredUser, UserVectorStore } from '../../lib/domain/user-vectors';

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
