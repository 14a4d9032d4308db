import type { ClientEvent, EventType } from '../../../lib/schemas';

const envelope = {
  event_id: '0b6a5c1e-8f3d-4a9b-9c1d-2e7f4a6b8c90',
  schema_version: 1,
  user_id: 'u-1842',
  occurred_at: '2025-03-01T12:30:00.123+09:00',
} as const;

const valid: Record<EventType, ClientEvent> = {
  click: {
    ...envelope,
    event_type: 'click',
    article_id: 'a-77',
    tab: 'home',
    position: 3,
    platform: 'ios',
    app_version: '5.12.0',
  },
  impression: {
    ...envelope,
    event_type: 'impression',
    article_id: 'a-78',
    tab: 'ranking',
    position: 0,
    platform: 'android',
    app_version: '5.12.0',
  },
  ad_impression: {
    ...envelope,
    event_type: 'ad_impression',
    ad_id: 'ad-9',
    campaign_id: 'spring-sale',
    tab: 'home',
    position: 5,
    platform: 'web',
    app_version: '2025.02.1',
  },
  action: {
    ...envelope,
    event_type: 'action',
    action: 'share',
    properties: { channel: 'line', count: 2, from_push: false },
    article_id: 'a-77',
    platform: 'ios',
    app_version: '5.12.0',
  },
};

/** A fresh copy of a valid client event of the given type, safe to modify. */
export function validEvent(type: EventType): Record<string, unknown> {
  return structuredClone(valid[type]) as Record<string, unknown>;
}

/** A fresh copy of a valid stored event (client event plus the fields collect adds). */
export function validStoredEvent(type: EventType): Record<string, unknown> {
  return {
    ...validEvent(type),
    received_at: '2025-03-01T03:30:01.004Z',
    request_id: 'c1d2e3f4-0000-4000-8000-000000000001',
  };
}
