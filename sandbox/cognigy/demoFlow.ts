import type { INodeDescriptor } from '@cognigy/extension-tools';
import extension from '../../extension/src/module';
import { ALL_SET_PAYLOAD } from '../../extension/src/handoverLogic';
import { placeNode, type Flow } from './flowRunner';

/**
 * The sandbox's demo Flow, built exactly as the README's "For bot builders" section says:
 *  1. a callback offer answered after "On Long Wait": If the text is "Call me back" and
 *     {{context.rceHandover.longWaitTaken}} → Close RCE Handover → Say (before the guard, or the
 *     guard would forward the answer to the agent);
 *  2. the guard: If {{context.rceHandover.active}} → Go To "Handover to RCE" (continue);
 *  3. "agent?" → Check RCE Agent Availability (business hours) → On Available: Go To Get
 *     Transcript (into input.transcript) → Handover to RCE (Set Entrypoint, Transcript =
 *     {{input.transcript}}); On Unavailable: an offline Say; On Error: try the handover anyway;
 *  4. each Handover branch ends in a Say; the guard brings the next input back to the node;
 *  5. after the agent closed (On Return to Bot), the Flow asks its own satisfaction question with
 *     what the completed event carries (input.data.handover: agentId, interventionId,
 *     engageThreadId, endedAt; the node's state: agentName, startedAt) and an If after the guard
 *     takes the 1–5 answer and thanks the user;
 *  6. the bot keeps helping while the user waits ("While Waiting"): a question it can answer gets
 *     a tip with an "I'm all set" quick reply that withdraws the request in one click.
 */

export const DEMO_CONNECTION = 'sandbox';
export const CALLBACK_REPLY = 'Call me back';
export const CSAT_QUESTION = 'How satisfied are you with the chat with our agent {{context.rceHandover.agentName}}? 1 = poor, 5 = great.';
export const CSAT_THANKS = 'Thank you for your rating ({{input.text}} of 5). I passed it on.';
export const CSAT_RATINGS = ['1', '2', '3', '4', '5'];
export const ALL_SET_TITLE = "I'm all set";
export const WAITING_TIP = `While you wait: you can reset your password yourself at https://example.com/reset. If that solved it, tap "${ALL_SET_TITLE}" and I withdraw your request to the agents.`;
/** The sandbox is open around the clock so it works whenever you try it; change the hours to see "On Unavailable". */
export const DEMO_BUSINESS_HOURS = {
  useBusinessHours: true,
  timeZone: 'Europe/Berlin',
  weeklyHours: {
    mon: '00:00-24:00',
    tue: '00:00-24:00',
    wed: '00:00-24:00',
    thu: '00:00-24:00',
    fri: '00:00-24:00',
    sat: '00:00-24:00',
    sun: '00:00-24:00',
  },
  closedDates: [],
};

function descriptor(type: string): INodeDescriptor {
  const found = extension.nodes.find((n) => n.type === type);
  if (!found) throw new Error(`${type} node missing from the extension`);
  return found;
}

const say = (text: string, data?: unknown) => ({ type: 'say', config: data === undefined ? { text } : { text, data } });

/** A Say with quick replies, Cognigy's default-channel shape. */
function sayWithQuickReplies(text: string, replies: (string | { title: string; payload: string })[]) {
  const quickReplies = replies
    .map((reply) => (typeof reply === 'string' ? { title: reply, payload: reply } : reply))
    .map(({ title, payload }) => ({ contentType: 'postback', payload, title }));
  return say(text, { _cognigy: { _default: { _quickReplies: { type: 'quick_replies', text, quickReplies } } } });
}

export function demoFlow(): Flow {
  return {
    start: 'callback',
    nodes: [
      {
        id: 'callback',
        type: 'ifTextMatches',
        label: 'Callback asked after a long wait?',
        config: { pattern: `^${CALLBACK_REPLY}$`, when: '{{context.rceHandover.longWaitTaken}}', target: 'close-for-callback' },
        next: 'guard',
      },
      {
        id: 'guard',
        type: 'goToIf',
        label: 'Handover running?',
        config: { value: '{{context.rceHandover.active}}', target: 'handover', mode: 'continue' },
        next: 'csat-answer',
      },
      {
        id: 'csat-answer',
        type: 'ifTextMatches',
        label: 'Answer to the satisfaction question?',
        config: { pattern: '^[1-5]$', when: '{{context.csat.pending}}', target: 'csat-store' },
        next: 'wants-agent',
      },
      {
        id: 'csat-store',
        type: 'setContext',
        label: 'Keep the rating with the intervention it rates',
        config: {
          key: 'csat',
          value: {
            pending: false,
            rating: '{{input.text}}',
            agentId: '{{context.csat.agentId}}',
            agentName: '{{context.csat.agentName}}',
            interventionId: '{{context.csat.interventionId}}',
            engageThreadId: '{{context.csat.engageThreadId}}',
            startedAt: '{{context.csat.startedAt}}',
            endedAt: '{{context.csat.endedAt}}',
          },
        },
        next: 'csat-thanks',
      },
      { id: 'csat-thanks', type: 'say', config: { text: CSAT_THANKS } },
      {
        id: 'wants-agent',
        type: 'ifTextMatches',
        label: 'Asks for a human?',
        config: { pattern: '\\b(agent|human|person|someone)\\b', target: 'availability' },
        next: 'smalltalk',
      },
      { id: 'smalltalk', type: 'say', config: { text: 'I am only a demo bot. Type "agent" and I will hand you over to a human.' } },
      ...placeNode(descriptor('checkAgentAvailability'), {
        id: 'availability',
        config: { connection: DEMO_CONNECTION, ...DEMO_BUSINESS_HOURS },
        branches: {
          checkAgentAvailabilityOnAvailable: [{ type: 'goTo', config: { target: 'transcript', mode: 'continue' } }],
          checkAgentAvailabilityOnUnavailable: [
            say('Sorry, no agent is available right now ({{input.rceAvailability.reason}}). Please try again during our opening hours.'),
          ],
          // Could not check: try the handover anyway; it has its own error branch.
          checkAgentAvailabilityOnError: [{ type: 'goTo', config: { target: 'transcript', mode: 'continue' } }],
        },
      }),
      {
        id: 'transcript',
        type: 'getTranscript',
        label: 'Get Transcript',
        entrypoint: true,
        config: { storeLocation: 'input', key: 'transcript', limit: 10 },
        next: 'handover',
      },
      ...placeNode(descriptor('handoverToRce'), {
        id: 'handover',
        entrypoint: true,
        config: {
          connection: DEMO_CONNECTION,
          transcript: '{{input.transcript}}',
          contextData: { channel: 'webchat', intent: 'talk-to-agent' },
          // Two chats waiting make the second one number 2 with about 2 minutes: a long wait here.
          longWaitMinutes: 1,
          longWaitPosition: 3,
          helpWhileWaiting: true,
        },
        branches: {
          onAgentJoined: [say('An agent has joined the conversation.')],
          onReturnToBot: [
            say('The agent closed the conversation. I am back: type "agent" any time to talk to a human again.'),
            // What the completed event carries, kept so the answer (next input, at the Flow start) can be tied to it.
            {
              type: 'setContext',
              config: {
                key: 'csat',
                value: {
                  pending: true,
                  agentId: '{{input.data.handover.agentId}}',
                  agentName: '{{context.rceHandover.agentName}}',
                  interventionId: '{{input.data.handover.interventionId}}',
                  engageThreadId: '{{input.data.handover.engageThreadId}}',
                  startedAt: '{{context.rceHandover.startedAt}}',
                  endedAt: '{{input.data.handover.endedAt}}',
                },
              },
            },
            sayWithQuickReplies(CSAT_QUESTION, CSAT_RATINGS),
          ],
          onCancel: [say('Okay, I cancelled the request. I am here if you need me.')],
          onError: [say('Sorry, I could not reach an agent right now. Please try again later.')],
          onLongWait: [
            sayWithQuickReplies('It is busy right now. You can keep waiting, or we call you back.', [CALLBACK_REPLY, 'Keep waiting']),
          ],
          // The agent got the message; the bot answers what it can (anything else: it stays quiet).
          onWhileWaiting: [
            { type: 'ifTextMatches', label: 'Something the bot knows?', config: { pattern: '\\bpassword\\b', target: 'waiting-tip' } },
          ],
        },
      }),
      { ...sayWithQuickReplies(WAITING_TIP, [{ title: ALL_SET_TITLE, payload: ALL_SET_PAYLOAD }, 'Keep waiting']), id: 'waiting-tip' },
      ...placeNode(descriptor('closeRceHandover'), {
        id: 'close-for-callback',
        config: { connection: DEMO_CONNECTION, reason: 'callback_requested' },
        branches: {
          closeRceHandoverOnClosed: [say('Done: an agent will call you back at the number in your profile. Anything else I can do?')],
          closeRceHandoverOnNotRunning: [say('Your request had already ended. Type "agent" to talk to a human.')],
          closeRceHandoverOnError: [say('Sorry, something went wrong while arranging the callback. Please try again in a moment.')],
        },
      }),
    ],
  };
}
