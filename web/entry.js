// What the pages use of age-encryption, bundled as one ES module.
export { Encrypter, Decrypter, Stanza, identityToRecipient } from 'age-encryption';
export { bech32 } from '@scure/base';
