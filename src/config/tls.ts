/**
 * The TLS files a process uses, read and checked at start so that a wrong
 * path or a key that does not match its certificate is a ConfigError naming
 * the file, not a handshake failure later.
 *
 * What runs over TLS and what is verified (README, TLS): every connection to
 * a node, internode links and clients alike, is mutual TLS. The node presents
 * its certificate and requests the other side's; each side verifies the
 * other's chain against the cluster's CA, and a client also checks that the
 * node's certificate names the host it dialled (an IP address or DNS name in
 * its subjectAltName). Clients present the top-level pair of the cluster
 * file, so reading the cluster file is not enough to talk to a node: the
 * client key is needed too. Admin and internode calls still carry the
 * cluster secret on top.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ClusterConfig, ConfigError, TlsKeyPair } from './cluster';

/** PEM text of the CA, and of the certificate and key this process presents. */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

function readPem(path: string, what: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read the TLS ${what} ${path}: ${(err as Error).message}`);
  }
  if (!pem.includes('-----BEGIN ')) throw new ConfigError(`the TLS ${what} ${path} is not a PEM file`);
  return pem;
}

/**
 * The material for node `nodeId` (its own pair, or the top-level one), or
 * for a client when `nodeId` is undefined; undefined when the cluster runs
 * plain TCP.
 */
export function loadTls(config: ClusterConfig, nodeId?: number): TlsMaterial | undefined {
  const files = config.tls;
  if (files === undefined) return undefined;
  const pair: TlsKeyPair = (nodeId === undefined ? undefined : config.nodes[nodeId]?.tls) ?? files;
  const material = {
    ca: readPem(files.ca, 'CA certificate'),
    cert: readPem(pair.cert, 'certificate'),
    key: readPem(pair.key, 'private key'),
  };
  try {
    new X509Certificate(material.ca);
  } catch (err) {
    throw new ConfigError(`the TLS CA certificate ${files.ca} cannot be read as a certificate: ${(err as Error).message}`);
  }
  try {
    createSecureContext(material);
  } catch (err) {
    throw new ConfigError(`the TLS certificate ${pair.cert} and key ${pair.key} cannot be used together: ${(err as Error).message}`);
  }
  return material;
}

/** Why a certificate is outside its validity period at `nowMs`, or undefined when it is within it. */
export function validityProblem(cert: Buffer, nowMs: number): string | undefined {
  const x = new X509Certificate(cert);
  if (Date.parse(x.validTo) < nowMs) return `its TLS certificate expired on ${x.validTo}; peers and clients will refuse it`;
  if (Date.parse(x.validFrom) > nowMs) return `its TLS certificate is not valid before ${x.validFrom}; peers and clients will refuse it`;
  return undefined;
}
