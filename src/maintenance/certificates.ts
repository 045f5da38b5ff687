/** TLS certificate expiry, parsed in-process with Node's X509Certificate (no `openssl` at run time). */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  validFrom: string;
  validTo: string;
  fingerprint256: string;
  /** Whole days until `validTo` (negative once expired). */
  daysLeft: number;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate in a PEM file (a chain gives several), or the one DER certificate the file holds. */
export function parseCertificates(content: Buffer): X509Certificate[] {
  const blocks = content.toString('latin1').match(PEM_BLOCK);
  if (blocks?.length) return blocks.map((b) => new X509Certificate(b));
  try {
    return [new X509Certificate(content)];
  } catch (err) {
    throw new Error('no PEM certificate block and not a DER certificate', { cause: err });
  }
}

/** Subject, issuer, validity and whole days left of one certificate at `now`. */
export function describeCertificate(cert: X509Certificate, now: Date): CertificateInfo {
  const validTo = new Date(cert.validTo);
  return {
    subject: cert.subject.replaceAll('\n', ', '),
    issuer: cert.issuer.replaceAll('\n', ', '),
    serialNumber: cert.serialNumber,
    validFrom: new Date(cert.validFrom).toISOString(),
    validTo: validTo.toISOString(),
    fingerprint256: cert.fingerprint256,
    daysLeft: Math.floor((validTo.getTime() - now.getTime()) / 86_400_000),
  };
}

/** The certificates of a file, soonest expiry first. Throws when the file cannot be read or holds no certificate. */
export async function readCertificates(path: string, now = new Date()): Promise<CertificateInfo[]> {
  const content = await readFile(path);
  return parseCertificates(content)
    .map((c) => describeCertificate(c, now))
    .sort((a, b) => a.validTo.localeCompare(b.validTo));
}
