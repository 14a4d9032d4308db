import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import type * as HandlerModule from '../../../functions/get-user-vector/handler';
import { encodeVector } from '../../../lib/domain/vectors';
import { lambdaContext } from '../../helpers/events';
import { unitVector } from './reference';

const KEY = 'lb_test_key';
const dynamoMock = mockClient(DynamoDBClient);
let handler: typeof HandlerModule.handler;

const request = (id: string, headers: Record<string, string> = { 'x-api-key': KEY }) =>
  ({
    version: '2.0',
    routeKey: 'GET /v1/users/{id}/vector',
    rawPath: `/v1/users/${id}/vector`,
    headers,
    pathParameters: { id },
    requestContext: { http: { method: 'GET', path: `/v1/users/${id}/vector` } },
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2;

async function get(event: APIGatewayProxyEventV2) {
  const response = (await handler(
    event,
    lambdaContext(6_000, 'logbase-test-getUserVector'),
  )) as APIGatewayProxyStructuredResultV2;
  return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') };
}

beforeAll(() => {
  Object.assign(process.env, {
    AWS_REGION: 'ap-northeast-1',
    USER_VECTORS_TABLE: 'logbase-test-UserVectors',
    API_KEYS_PARAMETER: '',
    API_KEYS: KEY,
    POWERTOOLS_SERVICE_NAME: 'logbase',
    POWERTOOLS_METRICS_NAMESPACE: 'logbase',
  });
  handler = (require('../../../functions/get-user-vector/handler') as typeof HandlerModule).handler;
});

beforeEach(() => {
  dynamoMock.reset();
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
});

afterEach(() => jest.restoreAllMocks());

describe('When a client asks GET /v1/users/{id}/vector', () => {
  it('answers the vector as 128 numbers, with the history length and the last update', async () => {
    // Prepare
    const vector = unitVector(7);
    dynamoMock.on(GetItemCommand, { Key: { user_id: { S: 'u_1' } } }).resolves({
      Item: {
        user_id: { S: 'u_1' },
        version: { N: '4' },
        vector: { B: encodeVector(vector) },
        history: { B: new Uint8Array(20) },
        history_length: { N: '12' },
        pending: { N: '1' },
        updated_at: { S: '2026-12-01T12:00:00.000Z' },
      },
    });

    // Act
    const { status, body } = await get(request('u_1'));

    // Assess
    expect(status).toBe(200);
    expect(body).toMatchObject({
      user_id: 'u_1',
      history_length: 12,
      pending: 1,
      updated_at: '2026-12-01T12:00:00.000Z',
      version: 4,
    });
    expect(body.vector).toEqual(Array.from(vector));
    expect(dynamoMock).toHaveReceivedCommandWith(GetItemCommand, {
      ConsistentRead: true,
      TableName: 'logbase-test-UserVectors',
    });
  });

  it('answers 404 with a message for a user with no item', async () => {
    dynamoMock.on(GetItemCommand).resolves({});
    const { status, body } = await get(request('u_unknown'));
    expect(status).toBe(404);
    expect(body).toEqual({
      message: 'no vector for user "u_unknown": none of their clicks has been applied',
    });
  });

  it('answers 400 for a user id longer than 128 characters', async () => {
    const { status, body } = await get(request('u'.repeat(129)));
    expect(status).toBe(400);
    expect(body.message).toBe('the path needs a user id of 1-128 characters: /v1/users/{id}/vector');
  });

  it('answers 401 without reading the table when the key is missing or wrong', async () => {
    expect((await get(request('u_1', {}))).status).toBe(401);
    expect((await get(request('u_1', { 'x-api-key': 'nope' }))).body).toEqual({ message: 'invalid API key' });
    expect(dynamoMock).not.toHaveReceivedAnyCommand();
  });
});
