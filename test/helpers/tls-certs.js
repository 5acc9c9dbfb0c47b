'use strict';
// Throwaway certificates for the TLS tests, made with the openssl CLI in a temp dir at first
// use (never checked in): a CA, a server certificate it signs (localhost, 127.0.0.1), a client
// certificate it signs, and a self-signed certificate that no CA vouches for.
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

let cached = null;

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCerts() {
  if (cached !== null) return cached;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-tls-'));
  const key = (name) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`], dir);
  const ext = (name, text) => fs.writeFileSync(path.join(dir, `${name}.ext`), text);
  key('ca');
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-days', '2', '-subj', '/CN=evloop test CA', '-out', 'ca.pem'], dir);
  const signed = (name, cn, extText) => {
    key(name);
    openssl(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`], dir);
    ext(name, extText);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], dir);
  };
  signed('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  signed('client', 'evloop client', 'extendedKeyUsage=clientAuth\n');
  key('self');
  openssl(['req', '-x509', '-new', '-key', 'self.key', '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-out', 'self.pem'], dir);
  const read = (f) => fs.readFileSync(path.join(dir, f));
  cached = {
    ca: read('ca.pem'),
    server: { key: read('server.key'), cert: read('server.pem') },
    client: { key: read('client.key'), cert: read('client.pem') },
    self: { key: read('self.key'), cert: read('self.pem') },
  };
  fs.rmSync(dir, { recursive: true, force: true });
  return cached;
}

module.exports = { makeCerts };
