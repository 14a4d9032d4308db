import { StackHealth } from '../../../local/health';

describe('StackHealth', () => {
  it('names every service from the start, as starting until its check is set', async () => {
    // Prepare
    const health = new StackHealth(['s3', 'offline']);
    health.set('s3', async () => ({ state: 'up', endpoint: 'http://127.0.0.1:4569' }));

    // Act
    const report = await health.report();

    // Assess
    expect(report).toEqual({
      status: 'starting',
      services: { s3: { state: 'up', endpoint: 'http://127.0.0.1:4569' }, offline: { state: 'starting' } },
    });
  });

  it('is ready only once marked ready with every service up, and degraded when one goes down after', async () => {
    // Prepare
    let offline: 'up' | 'down' = 'up';
    const health = new StackHealth(['s3', 'offline']);
    health.set('s3', async () => ({ state: 'up' }));
    health.set('offline', async () => ({ state: offline }));

    // Act
    const beforeReady = await health.report();
    health.markReady();
    const ready = await health.report();
    offline = 'down';
    const degraded = await health.report();

    // Assess
    expect([beforeReady.status, ready.status, degraded.status]).toEqual(['starting', 'ready', 'degraded']);
  });

  it('reports a check that does not answer within the timeout, or throws, as down', async () => {
    // Prepare
    const health = new StackHealth(['slow', 'broken'], 50);
    health.set('slow', () => new Promise(() => {}));
    health.set('broken', async () => {
      throw new Error('socket hang up');
    });
    health.markReady();

    // Act
    const report = await health.report();

    // Assess
    expect(report).toEqual({
      status: 'degraded',
      services: {
        slow: { state: 'down', detail: 'no answer within 50 ms' },
        broken: { state: 'down', detail: 'Error: socket hang up' },
      },
    });
  });
});
