/**
 * The runbooks' search attributes must exist in the namespace before the first
 * run: a workflow that upserts an unknown attribute fails its workflow tasks
 * and stays stuck. The orchestrator checks at start, registers what is missing
 * where the server allows it (a dev server, a self-hosted cluster), and
 * otherwise refuses to start with the commands that register them.
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../common/search-attributes.js';
import { errorMessage } from '../common/errors.js';

/** Thrown when the namespace lacks the search attributes and they cannot be registered from here. */
export class SearchAttributesMissingError extends Error {
  override readonly name = 'SearchAttributesMissingError';
  readonly missing: readonly string[];
  constructor(namespace: string, missing: readonly string[], cause: unknown) {
    super(
      `namespace ${namespace} lacks the search attributes ${missing.join(', ')} and they could not be registered (${errorMessage(cause)}). ` +
        `Register them once: ${missing.map((n) => `temporal operator search-attribute create --namespace ${namespace} --name ${n} --type Keyword`).join('; ')}`,
      { cause },
    );
    this.missing = missing;
  }
}

/** Names of the runbooks' search attributes that the namespace does not have. */
export async function missingSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const r = await client.connection.operatorService.listSearchAttributes({ namespace });
  const have = new Set([...Object.keys(r.customAttributes ?? {}), ...Object.keys(r.systemAttributes ?? {})]);
  return Object.values(SEARCH_ATTRIBUTES).filter((n) => !have.has(n));
}

/** Registers the missing ones (Keyword); returns what it registered. */
export async function ensureSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const missing = await missingSearchAttributes(client, namespace);
  if (missing.length === 0) return [];
  const keyword = proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  try {
    await client.connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((n) => [n, keyword])) });
  } catch (err) {
    // A concurrent orchestrator may have registered them first.
    const still = await missingSearchAttributes(client, namespace).catch(() => missing);
    if (still.length > 0) throw new SearchAttributesMissingError(namespace, still, err);
  }
  return missing;
}
