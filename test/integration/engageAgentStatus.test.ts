import axios from 'axios';
import { DEFAULT_AGENT_ID, EngageSimulator } from '../../sandbox/engage';
import { DeskServer } from '../../sandbox/engage/deskServer';

/**
 * The simulator's agent status as Engage documents it: `GET /1.0/status` (transfers.md, openapi
 * getAllAgentStatus) with status per channel and busyness, `GET /1.0/channels` naming the source's
 * channel, and the sandbox desk switching its agent between available and away.
 */
describe('Engage simulator: agent status and channels', () => {
  const token = 'rest-token-status-0123456789';
  let engage: EngageSimulator;
  let desk: DeskServer;
  let deskUrl: string;
  beforeAll(async () => {
    engage = new EngageSimulator({
      sourceId: 'src-status',
      realtimeAccessToken: 'rt-token-0123456789abcdef',
      apiAccessToken: token,
      agentHardCapability: 1,
    });
    await engage.start();
    desk = new DeskServer({ engage, queueTickMs: 60_000 });
    deskUrl = await desk.start();
  });
  afterAll(async () => {
    await desk?.stop();
    await engage?.stop();
  });

  const rest = async (path: string) => {
    const response = await axios.get<unknown>(`${engage.baseApiUrl}${path}`, {
      headers: { Authorization: `Bearer ${token}` },
      validateStatus: () => true,
    });
    return { status: response.status, body: response.data };
  };

  it('lists the source channel and the connected agents with status and busyness', async () => {
    const channels = await rest('/channels');
    expect(channels).toMatchObject({ status: 200, body: { records: [{ name: 'Realtime', source_ids: ['src-status'] }] } });
    const channelId = (channels.body as { records: { id: string }[] }).records[0]?.id;
    const status = await rest('/status?source_ids[]=src-status');
    expect(status).toMatchObject({
      status: 200,
      body: [
        {
          agent_id: DEFAULT_AGENT_ID,
          channels: [{ id: channelId, name: 'Realtime', status: 'available', busyness: 'unoccupied' }],
          custom_status: null,
        },
      ],
    });
    expect((await rest('/status?source_ids[]=other-source')).body).toEqual([]);
    expect((await rest(`/status?category_ids[]=${engage.categories.botId}`)).body).toEqual([]);
  });

  it('lets the desk set the sandbox agent away and back', async () => {
    expect((await axios.post(`${deskUrl}/api/agent/status`, { status: 'away' })).data).toMatchObject({ status: 'away' });
    expect((await rest('/status')).body).toMatchObject([{ agent_id: DEFAULT_AGENT_ID, channels: [{ status: 'away' }] }]);
    expect((await axios.post(`${deskUrl}/api/agent/status`, { status: 'asleep' }, { validateStatus: () => true })).status).toBe(400);
    await axios.post(`${deskUrl}/api/agent/status`, { status: 'available' });
    expect((await axios.get(`${deskUrl}/api/agent/status`)).data).toEqual({ status: 'available' });
    engage.setAgentStatus(DEFAULT_AGENT_ID, null);
    expect((await rest('/status')).body).toEqual([]);
    engage.setAgentStatus(DEFAULT_AGENT_ID, 'available');
  });
});
