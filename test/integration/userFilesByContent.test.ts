import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/**
 * USER_FILES_BY_CONTENT: user files behind storage Engage cannot reach go to Engage as
 * `{content: <base64>, filename}` (objects.md Messages), fetched by the relay from a private
 * file server on 127.0.0.1; a file that cannot be had keeps its URL.
 */

const session: CognigySession = { URLToken: 'endpoint-files', userId: 'user-files', sessionId: 'session-files' };
const PHOTO = Buffer.alloc(3000, 7);

describe('user files sent to Engage by content', () => {
  let journey: RelayRig;
  let files: http.Server;
  let filesUrl: string;
  let threadId: string;
  let counter = 0;
  const requests: string[] = [];
  const call = (route: Parameters<typeof signedRelayCall>[2], extra: Record<string, unknown>) =>
    signedRelayCall(journey.relayUrl, journey.tenant, route, { ...envelopeFor(journey.tenant, session, `files-${++counter}`), ...extra });

  beforeAll(async () => {
    files = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/private/photo.png')
        return void res.writeHead(200, { 'content-type': 'image/png', 'content-length': PHOTO.length }).end(PHOTO);
      if (req.url === '/private/huge.mp4')
        return void res.writeHead(200, { 'content-type': 'video/mp4', 'content-length': 11 * 1024 * 1024 }).end();
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => files.listen(0, '127.0.0.1', resolve));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
    journey = await startRelayRig({ store: 'sqlite', settings: { userFilesByContent: true, allowHttpAttachments: true } });
    threadId = threadIdFor(journey.tenant.sourceId, session);
    await call('startHandover', { firstMessage: 'Here come my files.' });
  });
  afterAll(async () => {
    await journey?.close();
    await new Promise((resolve) => files?.close(resolve));
  });

  it('sends a fetchable file as content with its name, and keeps the URL of a file over 10 MB or one that is gone', async () => {
    const response = await call('userMessage', {
      text: 'photo',
      attachments: [
        { url: `${filesUrl}/private/photo.png`, filename: 'photo.png' },
        { url: `${filesUrl}/private/huge.mp4`, filename: 'huge.mp4' },
        { url: `${filesUrl}/private/gone.pdf` },
      ],
    });
    expect(response.body).toMatchObject({ forwarded: true });
    await waitUntil('files in Engage', () => journey.engage.thread(threadId)?.messages.some((m) => m.body === 'photo') === true);
    const message = journey.engage.thread(threadId)?.messages.find((m) => m.body === 'photo');
    expect(message?.attachments).toEqual([
      { url: null, filename: 'photo.png', type: null, contentBytes: PHOTO.length },
      { url: `${filesUrl}/private/huge.mp4`, filename: 'huge.mp4', type: null, contentBytes: null },
      { url: `${filesUrl}/private/gone.pdf`, filename: null, type: null, contentBytes: null },
    ]);
    expect(requests).toEqual(['/private/photo.png', '/private/huge.mp4', '/private/gone.pdf']);
  });
});
