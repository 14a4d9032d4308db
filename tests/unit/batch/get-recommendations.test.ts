import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import {
  getRecommendations,
  loadGetRecommendationsConfig,
} from '../../../functions/get-recommendations/handler';
import { marshalRecommendation } from '../../../lib/batch/tasks';

const ddb = mockClient(DynamoDBClient);
const KEY = 'lb_test_0123456789abcdef';
const deps = {
  config: loadGetRecommendationsConfig({ RECOMMENDATIONS_TABLE: 'R', API_KEYS: KEY }),
  dynamodb: new DynamoDBClient({}),
  apiKeys: async () => [KEY],
};
const get = (id: string | undefined, key: string | null = KEY) =>
  getRecommendations(
    {
      headers: key ? { 'X-Api-Key': key } : {},
      pathParameters: id === undefined ? {} : { id },
    } as unknown as APIGatewayProxyEventV2,
    deps,
  );
const item = (source: 'personal' | 'popular') =>
  marshalRecommendation({
    user_id: 'u1',
    source,
    articles: ['a', 'b'],
    scores: source === 'personal' ? [0.5, 0.25] : [],
    date: '2026-11-30',
    run_id: 'r',
    generated_at: '2026-12-01T00:00:00.000Z',
    expires_at: 1,
  });

describe('GET /v1/users/{id}/recommendations', () => {
  beforeEach(() => ddb.reset());

  it('answers a known user with the ranked articles, their scores, the run and its time', async () => {
    // Prepare
    ddb.on(GetItemCommand).resolves({ Item: item('personal') });

    // Act
    const answer = await get('u1');

    // Assess
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body as string)).toEqual({
      user_id: 'u1',
      popular: false,
      articles: [
        { article_id: 'a', score: 0.5 },
        { article_id: 'b', score: 0.25 },
      ],
      generated_at: '2026-12-01T00:00:00.000Z',
      run_id: 'r',
      date: '2026-11-30',
    });
    expect(ddb.commandCalls(GetItemCommand)[0]?.args[0].input).toEqual({
      TableName: 'R',
      Key: { user_id: { S: 'u1' } },
    });
  });

  it('marks the popular list as such, and answers 404 for an unknown user', async () => {
    // Prepare
    ddb.on(GetItemCommand, { Key: { user_id: { S: 'u1' } } }).resolves({ Item: item('popular') });
    ddb.on(GetItemCommand, { Key: { user_id: { S: 'nobody' } } }).resolves({});

    // Act
    const popular = await get('u1');
    const unknown = await get('nobody');

    // Assess
    expect(JSON.parse(popular.body as string)).toMatchObject({
      popular: true,
      articles: [{ article_id: 'a' }, { article_id: 'b' }],
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('refuses a request without a valid API key or without a user id', async () => {
    // Act / Assess
    expect((await get('u1', null)).statusCode).toBe(401);
    expect((await get('u1', 'lb_wrong_key_000000000')).statusCode).toBe(401);
    expect((await get('')).statusCode).toBe(400);
    expect((await get(undefined)).statusCode).toBe(400);
    expect(ddb.commandCalls(GetItemCommand)).toHaveLength(0);
  });
});
