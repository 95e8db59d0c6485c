import { randomUUID } from 'node:crypto';
import express from 'express';
import { z } from 'zod';

/**
 * Files uploaded on a sandbox page (the user's in the chat, the agent's at the desk), kept in
 * memory and served back on the page's own origin, the way Cognigy's and Engage's file storage
 * hand out a URL for an upload. Bounded: at most MAX_FILES files of MAX_BYTES each.
 */

export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
const MAX_FILES = 200;

export interface UploadedFile {
  /** Cognigy Webchat v3's name for it (IUploadFileAttachmentData). */
  runtimeFileId: string;
  fileName: string;
  mimeType: string;
  size: number;
  url: string;
}

const nameSchema = z
  .string()
  .trim()
  .min(1)
  .max(120)
  .transform((n) => n.replace(/[^\w.\- ]+/g, '_'));

export class Uploads {
  private readonly files = new Map<string, { name: string; type: string; bytes: Buffer }>();

  /** POST /api/upload?name=<file name> with the raw bytes; GET /files/<id>/<name> serves them. */
  router(baseUrl: () => string): express.Router {
    const router = express.Router();
    router.post('/api/upload', express.raw({ type: () => true, limit: MAX_UPLOAD_BYTES }), (req, res) => {
      const name = nameSchema.safeParse(req.query.name);
      if (!name.success || !Buffer.isBuffer(req.body) || req.body.length === 0)
        return res.status(400).json({ error: 'a file name (?name=) and a non-empty body are required' });
      const type =
        String(req.headers['content-type'] ?? 'application/octet-stream')
          .split(';')[0]
          ?.trim() || 'application/octet-stream';
      if (this.files.size >= MAX_FILES) this.files.delete(this.files.keys().next().value as string);
      const id = randomUUID();
      this.files.set(id, { name: name.data, type, bytes: req.body });
      const file: UploadedFile = {
        runtimeFileId: id,
        fileName: name.data,
        mimeType: type,
        size: req.body.length,
        url: `${baseUrl()}/files/${id}/${encodeURIComponent(name.data)}`,
      };
      res.json(file);
    });
    router.get('/files/:id/:name', (req, res) => {
      const file = this.files.get(String(req.params.id));
      if (!file) return res.status(404).end();
      res.type(file.type).set('Content-Disposition', `inline; filename="${file.name}"`).send(file.bytes);
    });
    return router;
  }
}
