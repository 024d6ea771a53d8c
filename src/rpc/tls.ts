/**
 * TLS options for both ends of a connection, and its failures in one plain
 * sentence. OpenSSL reports a refused certificate in two ways: the side that
 * refused it has a verification error (`certificate has expired`, `self-signed
 * certificate in certificate chain`), the side that was refused gets an alert
 * (`tlsv1 alert unknown ca`, `sslv3 alert certificate expired`). With TLS 1.3
 * a client learns that the node refused its certificate only after its own
 * handshake finished, as an error on the first read: connection.ts reports
 * that the same way.
 */
import net from 'node:net';
import tls from 'node:tls';
import { TLS_HANDSHAKE_TIMEOUT_MS } from '../common/limits';
import type { TlsMaterial } from '../config/tls';

/**
 * A node's listener: presents its certificate and requests the other side's.
 * The chain is verified against the CA during the handshake, but the
 * verdict is acted on in server.ts (verdictOf): Node's TLS server, asked to
 * reject an unverified client itself, closes it without a word, and both
 * sides would only see a closed connection.
 */
export function serverOptions(material: TlsMaterial): tls.TlsOptions {
  return {
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    requestCert: true,
    rejectUnauthorized: false,
    handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
    minVersion: 'TLSv1.2',
  };
}

/** A client end: verifies the node's chain and that it names `host`; presents its own pair. */
export function connectOptions(material: TlsMaterial, host: string, port: number): tls.ConnectionOptions {
  return {
    host,
    port,
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    // SNI takes DNS names only; an IP address is matched against the certificate's IP SANs without it.
    ...(net.isIP(host) === 0 ? { servername: host } : {}),
  };
}

/** Verification codes of a chain that does not lead to the cluster's CA. */
const UNKNOWN_ISSUER = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);

/** Why a TLS client's certificate is refused, or undefined when it is verified. */
export function verdictOf(socket: tls.TLSSocket): string | undefined {
  if (socket.authorized) return undefined;
  if (Object.keys(socket.getPeerCertificate()).length === 0) return 'no client certificate';
  const code = String(socket.authorizationError);
  if (code === 'CERT_HAS_EXPIRED') return 'certificate has expired';
  if (code === 'CERT_NOT_YET_VALID') return 'certificate is not yet valid';
  if (UNKNOWN_ISSUER.has(code)) return `certificate is not signed by the cluster's CA (${code})`;
  return `certificate refused (${code})`;
}

/** An OpenSSL error: the library's `reason`, e.g. "tlsv1 alert unknown ca". */
interface SslError extends Error {
  code?: string;
  reason?: string;
}

/** Whether `err` came from TLS rather than from the TCP connection under it. */
export function isTlsError(err: Error): boolean {
  const { code, reason } = err as SslError;
  return (
    reason !== undefined ||
    (code !== undefined && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || /CERT|SIGNATURE|ISSUER/.test(code)))
  );
}

/**
 * Why a handshake failed, as the end of a sentence. `other` names the far
 * side ("the node", "the client") for alerts, which mean that side refused
 * what this side presented (or what it asked for).
 */
export function describeTlsFailure(err: Error, other: string): string {
  const { code, reason } = err as SslError;
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return `no TLS handshake within ${TLS_HANDSHAKE_TIMEOUT_MS} ms`;
  // What a TLS client does when it refuses the node's certificate: it hangs up without an alert.
  if (code === 'ECONNRESET' && reason === undefined) return `${other} hung up during the handshake (does it trust our certificate?)`;
  if (code !== undefined && UNKNOWN_ISSUER.has(code)) return `${other}'s certificate is not signed by the cluster's CA (${err.message})`;
  if (reason === undefined) return err.message;
  if (reason.includes('alert certificate required')) return `${other} requires a client certificate (${reason})`;
  if (reason.includes('alert')) return `${other} refused our certificate (${reason})`;
  if (/wrong version number|http request|unknown protocol|packet length too long|record layer failure/.test(reason)) {
    return `not TLS: the other side sent plain bytes (${reason})`;
  }
  return reason;
}
