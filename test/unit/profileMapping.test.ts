import { buildEngageUser, sanitizeContextKey } from '../../relay/src/engage/profileMapping';

const now = '2026-01-01T00:00:00.000Z';

describe('profile mapping to an Engage user', () => {
  it('maps known Engage keys and puts every other key into context_data with [a-zA-Z-] keys', () => {
    const user = buildEngageUser({
      authorId: 'u1',
      now,
      profile: {
        firstname: 'Jane',
        lastname: 'Doe',
        email: 'jane@example.com',
        profilepic: 'https://x/p.png',
        gender: 'female',
        accepted_gdpr: true,
        'customer.tier2': 'gold',
        age: 41,
        nothing: null,
      },
    });
    expect(user).toMatchObject({
      id: 'u1',
      screenname: 'Jane Doe',
      firstname: 'Jane',
      lastname: 'Doe',
      email: 'jane@example.com',
      avatar_url: 'https://x/p.png',
      gender: 'woman',
      created_at: now,
      updated_at: now,
    });
    expect(user.context_data).toEqual({ 'accepted-gdpr': 'true', 'customer-tier': 'gold', age: '41' });
    for (const key of Object.keys(user.context_data ?? {})) expect(key).toMatch(/^[a-zA-Z-]+$/);
  });

  it('keeps an unrecognised gender in context_data instead of sending an invalid value', () => {
    const user = buildEngageUser({ authorId: 'u1', now, profile: { gender: 'nonbinary' } });
    expect(user.gender).toBeUndefined();
    expect(user.context_data).toEqual({ gender: 'nonbinary' });
  });

  it('lets explicit mappings add and override, including into context_data', () => {
    const user = buildEngageUser({
      authorId: 'u1',
      now,
      profile: { phone_home: '+491', email: 'a@b.c', crm_id: 'C-7' },
      mapping: { phone_home: 'home_phone', email: 'context_data.contact-email', crm_id: 'context_data.crm' },
    });
    expect(user.home_phone).toBe('+491');
    expect(user.email).toBeUndefined();
    expect(user.context_data).toEqual({ 'contact-email': 'a@b.c', crm: 'C-7' });
    expect(user.screenname).toBe('Customer');
  });

  it('never overwrites a context value when two keys sanitise to the same name', () => {
    const user = buildEngageUser({ authorId: 'u1', now, profile: { address1: 'A', address2: 'B' } });
    expect(Object.values(user.context_data ?? {}).sort()).toEqual(['A', 'B']);
  });

  it('sanitises keys to letters and dashes only', () => {
    expect(sanitizeContextKey('order_id.v2')).toBe('order-id-v');
    expect(sanitizeContextKey('__')).toBe('');
  });
});
