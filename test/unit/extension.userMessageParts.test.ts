import { userMessageRequestSchema } from '../../contract/relayApi';
import { encodeChoicePayload } from '../../contract/structuredChoice';
import { refusalMessage, userMessageParts, userMessageRequest } from '../../extension/src/userMessageParts';

const MB = 1024 * 1024;

describe('userMessageParts: a user input during a handover, for Engage', () => {
  it('reads Cognigy Webchat uploads (fileName, mimeType, size, url) as attachments', () => {
    const parts = userMessageParts({
      text: 'Here is the photo',
      data: {
        attachments: [
          {
            runtimeFileId: 'f1',
            fileName: 'broken.png',
            mimeType: 'image/png',
            size: 20_000,
            url: 'https://files.cognigy.example/f1?sig=abc',
          },
        ],
      },
    });
    expect(parts).toEqual({
      text: 'Here is the photo',
      attachments: [{ url: 'https://files.cognigy.example/f1?sig=abc', filename: 'broken.png', contentType: 'image/png', size: 20_000 }],
      refused: [],
    });
  });

  it("reads the file-upload plugin's data.file and plain URL lists", () => {
    const parts = userMessageParts({
      text: '',
      data: { file: 'https://s3.example.com/bucket/invoice.pdf', attachments: ['https://cdn.example.com/a.jpg', 'javascript:alert(1)'] },
    });
    expect(parts.attachments.map((a) => a.url)).toEqual(['https://cdn.example.com/a.jpg', 'https://s3.example.com/bucket/invoice.pdf']);
  });

  it('refuses files of 10 MB or more and types Engage does not accept, and tells the agent when nothing else is left', () => {
    const parts = userMessageParts({
      text: '',
      data: {
        attachments: [
          { fileName: 'video.mp4', mimeType: 'video/mp4', size: 10 * MB, url: 'https://f.example/v' },
          { fileName: 'tool.exe', mimeType: 'application/octet-stream', size: 100, url: 'https://f.example/t' },
        ],
      },
    });
    expect(parts.attachments).toEqual([]);
    expect(parts.refused).toEqual([
      { name: 'video.mp4', reason: 'too_large' },
      { name: 'tool.exe', reason: 'type_not_allowed' },
    ]);
    expect(parts.text).toBe('[The customer tried to send video.mp4, tool.exe, which could not be delivered.]');
    expect(refusalMessage(parts.refused)).toBe(
      'Sorry, your file could not be sent to the agent: "video.mp4" is too large (the limit is 10 MB). "tool.exe" has a file type the agent cannot receive. Allowed: images, PDF, Office documents, audio and video.',
    );
  });

  it('takes the extension from the MIME type when the name has none', () => {
    const parts = userMessageParts({ data: { attachments: [{ url: 'https://f.example/upload/123', mimeType: 'image/jpeg', size: 10 }] } });
    expect(parts.attachments).toHaveLength(1);
    expect(parts.refused).toEqual([]);
  });

  it('turns a clicked option into its title and the documented structured reply', () => {
    const text = encodeChoicePayload({ inReplyToId: 'agent-reply-1', title: 'Small', payload: 'size_s' });
    expect(userMessageParts({ text })).toEqual({
      text: 'Small',
      attachments: [],
      structuredReply: { inReplyToId: 'agent-reply-1', payload: 'size_s' },
      refused: [],
    });
    const withoutPayload = encodeChoicePayload({ inReplyToId: 'agent-reply-1', title: 'Large', payload: null });
    expect(userMessageParts({ text: withoutPayload }).structuredReply).toEqual({ inReplyToId: 'agent-reply-1' });
  });

  it('leaves typed text that only looks like a choice as text', () => {
    expect(userMessageParts({ text: 'rce-choice:not-base64-json' })).toEqual({
      text: 'rce-choice:not-base64-json',
      attachments: [],
      refused: [],
    });
  });

  it('builds a request the relay contract accepts, and says the refusal to the user once', () => {
    const said: string[] = [];
    const body = userMessageRequest(
      { text: 'see file', data: { attachments: [{ fileName: 'a.exe', url: 'https://f.example/a.exe' }] } },
      { say: (t) => said.push(t) },
    );
    expect(said).toHaveLength(1);
    const parsed = userMessageRequestSchema.safeParse({
      ...body,
      requestId: 'r1',
      connection: { sourceId: 's', botCategoryId: 'b', agentCategoryId: 'a', apiAccessTokenFingerprint: '0123456789abcdef' },
      session: { URLToken: 'u', userId: 'u', sessionId: 's' },
    });
    expect(parsed.success).toBe(true);
    expect(body).toEqual({ role: 'user', text: 'see file', attachments: [] });
  });
});
