/** Engage Digital simulator: Send API, REST subset, Source SDK calls to the Base URI, webhooks. */
export {
  EngageSimulator,
  BOT_USER_ID,
  DEFAULT_AGENT_ID,
  DEFAULT_CATEGORIES,
  type EngageSimulatorOptions,
  type MessageView,
  type ThreadView,
} from './simulator';
export type { AgentReplyInput, AgentReplyResult, QueuingUpdateInput, QueuingUpdateResult } from './agentActions';
export { DeskError, type DeskErrorCode } from './desk';
export type { FaultSpec } from './faults';
export { MAX_SEND_API_BYTES, SEND_API_ERRORS } from './sendApi';
export { REST_ERROR_IDS } from './restApi';
export { DIMELO_SECRET_HEADER } from './webhookDispatcher';
export type { DeliveryLogEntry, RegisterResult, WebhookSubscription } from './webhookDispatcher';
export type {
  ChangeEvent,
  DroppedItem,
  Identity,
  QueueInfo,
  SendApiLogEntry,
  SimIntervention,
  SimMessage,
  SimTask,
  SimThread,
  SourceCallRecord,
} from './state';
export * from './objects';
