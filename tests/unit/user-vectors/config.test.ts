import { loadUpdateUserVectorsConfig } from '../../../functions/update-user-vectors/config';

const ENV = { USER_VECTORS_TABLE: 'u', ARTICLE_VECTORS_TABLE: 'a' };

describe("update-user-vectors' settings", () => {
  it('defaults to 50 clicks, a 24 h half-life and 32 writes in flight', () => {
    expect(loadUpdateUserVectorsConfig(ENV)).toEqual({
      userVectorsTable: 'u',
      articleVectorsTable: 'a',
      historyLength: 50,
      halfLifeMs: 24 * 3600 * 1000,
      writeConcurrency: 32,
    });
  });

  it('refuses a half-life that is not a positive number, and a history longer than 10000', () => {
    expect(() => loadUpdateUserVectorsConfig({ ...ENV, USER_VECTOR_HALF_LIFE_HOURS: '0' })).toThrow(
      'environment variable USER_VECTOR_HALF_LIFE_HOURS must be a positive number, got "0"',
    );
    expect(() => loadUpdateUserVectorsConfig({ ...ENV, USER_HISTORY_LENGTH: '20000' })).toThrow(
      'environment variable USER_HISTORY_LENGTH must be at most 10000, got 20000',
    );
    expect(() => loadUpdateUserVectorsConfig({ ARTICLE_VECTORS_TABLE: 'a' })).toThrow('USER_VECTORS_TABLE');
  });
});
