import { clearCaches } from '@aws-lambda-powertools/parameters';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { loadApiKeys, NoApiKeysError } from '../../../lib/aws/api-keys';
import { apiKeyRefusal, isValidApiKey, parseApiKeys } from '../../../lib/domain/api-keys';

const ssmMock = mockClient(SSMClient);

beforeAll(() => {
  process.env.AWS_REGION ??= 'ap-northeast-1';
});
beforeEach(() => {
  ssmMock.reset();
  clearCaches();
});

describe('parseApiKeys', () => {
  it('splits a comma-separated list and drops blanks and spaces', () => {
    // Act and Assess
    expect(parseApiKeys(' k1, k2 ,,k3 ,')).toEqual(['k1', 'k2', 'k3']);
    expect(parseApiKeys('')).toEqual([]);
  });
});

describe('isValidApiKey', () => {
  const keys = ['lb_local_0123456789abcdef', 'lb_other_key'];

  it('accepts any configured key', () => {
    // Act and Assess
    expect(isValidApiKey('lb_local_0123456789abcdef', keys)).toBe(true);
    expect(isValidApiKey('lb_other_key', keys)).toBe(true);
  });

  it.each([
    ['a wrong key', 'lb_local_0123456789abcdeX'],
    ['a prefix of a key', 'lb_local_'],
    ['a key with extra characters', 'lb_other_key '],
    ['an empty string', ''],
  ])('refuses %s', (_, presented) => {
    // Act and Assess
    expect(isValidApiKey(presented, keys)).toBe(false);
  });

  it('refuses everything when no key is configured', () => {
    // Act and Assess
    expect(isValidApiKey('anything', [])).toBe(false);
  });
});

describe('loadApiKeys', () => {
  it('uses the inline keys when no SSM parameter is configured', async () => {
    // Act
    const keys = await loadApiKeys({ parameterName: '', inlineKeys: 'lb_local_0123456789abcdef' });

    // Assess
    expect(keys).toEqual(['lb_local_0123456789abcdef']);
    expect(ssmMock).not.toHaveReceivedAnyCommand();
  });

  it('reads the SSM parameter with decryption and caches it between calls', async () => {
    // Prepare
    ssmMock
      .on(GetParameterCommand)
      .resolves({ Parameter: { Name: '/logbase/dev/api-keys', Value: 'k1,k2' } });
    const settings = { parameterName: '/logbase/dev/api-keys', inlineKeys: 'ignored' };

    // Act
    const first = await loadApiKeys(settings);
    const second = await loadApiKeys(settings);

    // Assess
    expect(first).toEqual(['k1', 'k2']);
    expect(second).toEqual(['k1', 'k2']);
    expect(ssmMock).toHaveReceivedCommandTimes(GetParameterCommand, 1);
    expect(ssmMock).toHaveReceivedCommandWith(GetParameterCommand, {
      Name: '/logbase/dev/api-keys',
      WithDecryption: true,
    });
  });

  it('fails loudly when the configured source holds no key', async () => {
    // Prepare
    ssmMock.on(GetParameterCommand).resolves({ Parameter: { Name: '/logbase/dev/api-keys', Value: ' , ' } });

    // Act and Assess
    await expect(loadApiKeys({ parameterName: '/logbase/dev/api-keys', inlineKeys: '' })).rejects.toThrow(
      new NoApiKeysError('no API keys configured: SSM parameter /logbase/dev/api-keys is empty'),
    );
    await expect(loadApiKeys({ parameterName: '', inlineKeys: '' })).rejects.toThrow(
      'no API keys configured: API_KEYS is empty',
    );
  });
});

describe('apiKeyRefusal', () => {
  it('refuses a missing or empty key without fetching the keys, a wrong one after, and passes a right one', async () => {
    // Prepare
    const fetched: number[] = [];
    const keys = async () => {
      fetched.push(1);
      return ['lb_local_0123456789abcdef'];
    };
    // Act
    const missing = await apiKeyRefusal(undefined, keys);
    const empty = await apiKeyRefusal('', keys);
    const fetchesBefore = fetched.length;
    const wrong = await apiKeyRefusal('lb_guess', keys);
    const right = await apiKeyRefusal('lb_local_0123456789abcdef', keys);
    // Assess
    expect(missing).toEqual({ message: 'missing x-api-key header', log: 'refused: no x-api-key header' });
    expect(empty).toEqual(missing);
    expect(fetchesBefore).toBe(0);
    expect(wrong).toEqual({ message: 'invalid API key', log: 'refused: invalid API key' });
    expect(right).toBeUndefined();
  });
});
