/** The verifiable audit log (issue #6): RFC 6962 hashing, C2SP tlog-tiles/checkpoint/signed-note/witness. */
export { AuditError } from './errors.js';
export * as merkle from './merkle.js';
export { leafHash, nodeHash, inclusionProof, consistencyProof, verifyInclusion, verifyConsistency, CompactRange, EMPTY_ROOT, type Hash } from './merkle.js';
export { signNote, openNote, parseNote, parseVerifierKey, ed25519Signer, verifierKeyText, type Signer, type Verifier } from './note.js';
export { checkpointBody, parseCheckpointBody, signCheckpoint, openCheckpoint, type Checkpoint } from './checkpoint.js';
export { cosigner, verifyCosignature, witnessCosignatures, requestCosignature, addCheckpointBody, type WitnessConfig } from './witness.js';
export { encodeIndex, tilePath, parseTilePath, encodeBundle, decodeBundle, tileWidth, TileHashReader, TILE_WIDTH } from './tiles.js';
export { canonicalJson, encodeLeaf, decodeLeaf, eventLeaf, Committer, type Leaf, type RequestLeaf, type EventLeaf, type LostLeaf } from './leaf.js';
export { auditKeys, auditKeysFromVault, hkdfSecretFor, AUDIT_SECRET_PURPOSE, type AuditKeys, type SecretFor } from './keys.js';
export { AuditLog, lostLeaf, type AuditLogOptions } from './log.js';
export { storeSource, httpSource, type LogSource } from './source.js';
export { verifyLog, type VerifyOptions, type VerifyResult } from './verify.js';
export { auditHttp, isAuditPath, type AuditHttpOptions, type AuditHttpResponse } from './http.js';
