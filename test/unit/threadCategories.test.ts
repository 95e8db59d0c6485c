import { categoryChangeFor, mergeCategories } from '../../relay/src/engage/threadCategories';

const tenant = { botCategoryId: 'bot', agentCategoryId: 'agent' };

describe('thread categories (update_categories replaces the whole set)', () => {
  it('swaps Bot for Agent on handover and adds the additional categories, keeping everything else', () => {
    expect(mergeCategories(['rule', 'bot'], categoryChangeFor(tenant, 'handover', ['billing']))).toEqual(['rule', 'agent', 'billing']);
  });

  it('swaps Agent back for Bot on return and keeps the additional and rule categories', () => {
    expect(mergeCategories(['rule', 'agent', 'billing'], categoryChangeFor(tenant, 'return_to_bot'))).toEqual(['rule', 'billing', 'bot']);
  });

  it('asks for no call when the thread already has the right set', () => {
    expect(mergeCategories(['agent', 'rule'], categoryChangeFor(tenant, 'handover'))).toBeNull();
  });

  it('never removes a category the same move adds (Bot and Agent configured alike)', () => {
    expect(mergeCategories([], categoryChangeFor({ botCategoryId: 'same', agentCategoryId: 'same' }, 'handover'))).toEqual(['same']);
  });
});
