/** Certificates made with openssl, read in-process with X509Certificate. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCertificates } from '../../src/maintenance/certificates.js';
import { certificateBetween, certificateValidFor } from '../helpers/certificates.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-certs-'));
  await certificateValidFor(join(dir, 'year.crt'), 365, 'year');
  await certificateValidFor(join(dir, 'ten.crt'), 10, 'ten');
  await certificateBetween(join(dir, 'expired.crt'), '20200101000000Z', '20200201000000Z', 'expired');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readCertificates', () => {
  it.each([
    ['year.crt', 'CN=year', 364, 365],
    ['ten.crt', 'CN=ten', 9, 10],
  ])('%s: subject and whole days left', async (file, subject, min, max) => {
    const [c] = await readCertificates(join(dir, file));
    expect(c!.subject).toBe(subject);
    expect(c!.daysLeft).toBeGreaterThanOrEqual(min);
    expect(c!.daysLeft).toBeLessThanOrEqual(max);
    expect(c!.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('an expired certificate (openssl ca with past dates, text before the PEM block) has negative days left', async () => {
    expect(await readFile(join(dir, 'expired.crt'), 'utf8')).toMatch(/^Certificate:/);
    const [c] = await readCertificates(join(dir, 'expired.crt'));
    expect(c).toMatchObject({ subject: 'CN=expired', validFrom: '2020-01-01T00:00:00.000Z', validTo: '2020-02-01T00:00:00.000Z' });
    expect(c!.daysLeft).toBeLessThan(-1000);
  });

  it('a chain file gives every certificate, soonest expiry first', async () => {
    const chain = join(dir, 'chain.pem');
    await writeFile(chain, (await readFile(join(dir, 'year.crt'), 'utf8')) + (await readFile(join(dir, 'ten.crt'), 'utf8')));
    expect((await readCertificates(chain)).map((c) => c.subject)).toEqual(['CN=ten', 'CN=year']);
  });

  it('a DER file is read too', async () => {
    const pem = await readFile(join(dir, 'year.crt'), 'utf8');
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
    await writeFile(join(dir, 'year.der'), der);
    expect((await readCertificates(join(dir, 'year.der')))[0]!.subject).toBe('CN=year');
  });

  it.each([
    ['a key, not a certificate', 'key', /no PEM certificate block and not a DER certificate/],
    ['a folder', 'folder', /EISDIR/],
    ['a missing file', 'missing', /ENOENT/],
  ])('%s is an error', async (_name, kind, message) => {
    const path = join(dir, `bad-${kind}`);
    if (kind === 'key') await writeFile(path, '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n');
    if (kind === 'folder') await (await import('node:fs/promises')).mkdir(path);
    await expect(readCertificates(path)).rejects.toThrow(message);
  });
});
