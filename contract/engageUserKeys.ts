/**
 * The standard keys of an Engage Source SDK User object (objects.md) a Cognigy profile value can be
 * mapped to. Everything else goes into `context_data`. Shared so the extension refuses exactly the
 * mappings the relay could not honour.
 */
export const ENGAGE_USER_KEYS = [
  'firstname',
  'lastname',
  'email',
  'home_phone',
  'mobile_phone',
  'avatar_url',
  'gender',
  'screenname',
] as const;
export type EngageUserKey = (typeof ENGAGE_USER_KEYS)[number];
