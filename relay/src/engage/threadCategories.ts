import type { TenantConfig } from '../config';

/**
 * Engage's `PUT /content_threads/{id}/update_categories` replaces the thread's whole category set
 * (openapi `categorizeThread`: "the new categories to set on the thread"). A handover therefore reads
 * the current `thread_category_ids` and changes only the ones it owns, so categories that Engage rules
 * or agents set survive.
 */
export type CategoryMove = 'handover' | 'return_to_bot';

export interface CategoryChange {
  add: string[];
  remove: string[];
}

/**
 * Handover: Bot out, Agent and the node's additional categories in. Return: Agent out, Bot in. The
 * additional categories stay after the return: we cannot tell them from the same ids set by a rule.
 */
export function categoryChangeFor(
  tenant: Pick<TenantConfig, 'botCategoryId' | 'agentCategoryId'>,
  move: CategoryMove,
  additionalCategoryIds: readonly string[] = [],
): CategoryChange {
  return move === 'handover'
    ? { add: [tenant.agentCategoryId, ...additionalCategoryIds], remove: [tenant.botCategoryId] }
    : { add: [tenant.botCategoryId], remove: [tenant.agentCategoryId] };
}

/** The thread's next category set, keeping the current order; null when nothing would change. */
export function mergeCategories(current: readonly string[], change: CategoryChange): string[] | null {
  const removed = new Set(change.remove.filter((id) => !change.add.includes(id)));
  const next = current.filter((id) => !removed.has(id));
  for (const id of change.add) if (!next.includes(id)) next.push(id);
  const unchanged = next.length === current.length && next.every((id) => current.includes(id));
  return unchanged ? null : next;
}
