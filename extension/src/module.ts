import { createExtension } from '@cognigy/extension-tools';
import { rceHandoverConnection } from './connection';
import { checkAgentAvailabilityNodes } from './nodes/checkAgentAvailability';
import { closeRceHandoverNodes } from './nodes/closeHandover';
import { getQueueStatusNodes } from './nodes/getQueueStatus';
import { handoverToRceNodes } from './nodes/handoverToRce';
import { mirrorToRceNodes } from './nodes/mirrorToRce';
import { sendProfileNodes } from './nodes/sendProfile';

export default createExtension({
  nodes: [
    ...handoverToRceNodes,
    ...checkAgentAvailabilityNodes,
    ...closeRceHandoverNodes,
    ...getQueueStatusNodes,
    ...sendProfileNodes,
    ...mirrorToRceNodes,
  ],
  connections: [rceHandoverConnection],
  options: { label: 'RingCentral Engage Handover' },
});
