/** Real certificates made with the openssl command line, for the expiry checks (which never run openssl). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed certificate valid from now for `days` days. */
export async function certificateValidFor(out: string, days: number, cn = 'mcp-test'): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'mcp-cert-'));
  try {
    await execa('openssl', ['req', '-x509', ...KEY, '-keyout', join(work, 'key.pem'), '-out', out, '-days', String(days), '-subj', `/CN=${cn}`]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A self-signed certificate valid between two past (or future) times, e.g. `20200101000000Z`; made with `openssl ca -selfsign`. */
export async function certificateBetween(out: string, start: string, end: string, cn = 'mcp-test-dated'): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'mcp-cert-'));
  try {
    const key = join(work, 'key.pem');
    const csr = join(work, 'req.csr');
    await execa('openssl', ['req', '-new', ...KEY, '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
    await writeFile(join(work, 'index.txt'), '');
    await writeFile(join(work, 'serial'), '01\n');
    await writeFile(
      join(work, 'ca.cnf'),
      `[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = ${join(work, 'index.txt')}\nnew_certs_dir = ${work}\nserial = ${join(work, 'serial')}\ndefault_md = sha256\npolicy = p\n[ p ]\ncommonName = supplied\n`,
    );
    await execa('openssl', ['ca', '-batch', '-config', join(work, 'ca.cnf'), '-selfsign', '-keyfile', key, '-in', csr, '-startdate', start, '-enddate', end, '-out', out]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
