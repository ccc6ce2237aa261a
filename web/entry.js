// What the pages use of age-encryption, bundled as one ES module.
export { Encrypter, Decrypter, Stanza, identityToRecipient } from 'age-encryption';
export { bech32 } from '@scure/base';
// For re-sealing a file to other readers without touching its payload: a
// new header around the same file key (the package exports neither).
export { X25519Recipient } from './node_modules/age-encryption/dist/recipients.js';
export { encodeHeader, encodeHeaderNoMAC } from './node_modules/age-encryption/dist/format.js';
export { hmac } from '@noble/hashes/hmac.js';
export { hkdf } from '@noble/hashes/hkdf.js';
export { sha256 } from '@noble/hashes/sha2.js';
