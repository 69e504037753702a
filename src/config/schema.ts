/**
 * The configuration schema: one source for validation on load and for the JSON Schema that
 * editors use (`sekisho config schema`). Keys are snake_case as written in YAML.
 */
import { z } from 'zod';

export const LEVELS = ['L0', 'L1', 'L2', 'L3', 'L4'] as const;
export const Level = z.enum(LEVELS);

const countryCode = z
  .string()
  .regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 country code in capitals, such as JP')
  .describe('ISO 3166-1 alpha-2 country code');

const id = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-" (1–64 characters)');

const httpUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.username === '' && u.password === '' && u.hash === '' && u.search === '';
    } catch {
      return false;
    }
  }, 'an http:// or https:// URL without credentials, query or fragment (put keys in api_key_env)');

const ms = (def: number) => z.number().int().positive().max(3_600_000).default(def);

export const LevelRule = z
  .object({
    allow: z.boolean().default(true).describe('false blocks the level entirely'),
    countries: z.array(countryCode).min(1).optional().describe('processing must happen in one of these countries'),
    require_no_training: z.boolean().default(false).describe('the contract must forbid training on inputs'),
    max_retention_days: z.number().int().min(0).optional().describe('the contract must state retention of at most this many days'),
    forbid_click_through: z.boolean().default(false).describe('click-through (non-negotiated) services are excluded'),
    jurisdictions_only: z.array(countryCode).min(1).optional().describe('every jurisdiction whose law reaches the operator must be in this list'),
    allow_on_premises: z.boolean().default(false).describe('on-premises backends satisfy jurisdictions_only'),
    require_ismap: z.boolean().default(false).describe('the backend must be ISMAP-listed and not expired'),
  })
  .strict();

export const FlagRule = z.union([Level, z.literal('block')]);

export const Policy = z
  .object({
    levels: z.partialRecord(Level, LevelRule).default({}).describe('overrides of the default rule per level'),
    flags: z.record(z.string(), FlagRule).default({}).describe('flag → minimum level, or "block"'),
    pack: z
      .enum(['default', 'government', 'finance', 'healthcare'])
      .default('default')
      .describe('the Cedar policy pack deciding who may send which level to which backend (policies/<pack>/)'),
  })
  .strict();

const TrustedIssuer = z
  .object({
    id: z.string().min(1).max(2048).describe('the issuer identifier (iss) as it appears in credentials, such as did:web:… or did:jwk:…'),
    jwks: z
      .array(z.record(z.string(), z.unknown()))
      .max(16)
      .default([])
      .describe('the issuer\'s public keys (JWK, with kid and alg); a did:jwk issuer needs none'),
    status_lists: z
      .array(httpUrl)
      .max(16)
      .default([])
      .describe('status list URIs of this issuer that Sekisho may fetch (nothing else is ever fetched)'),
  })
  .strict();

export const Identity = z
  .object({
    enabled: z.boolean().default(true).describe('serve the tenant DID, OpenID4VCI and OpenID4VP, and accept credential sessions'),
    origin: httpUrl
      .optional()
      .describe('public origin of this gateway, such as https://sekisho.example.jp (did:web and issuer id); default: the listen address'),
    session_ttl_s: z.number().int().min(10).max(86_400).default(3600).describe('lifetime of a session token'),
    status_refresh_s: z.number().int().min(1).max(3600).default(60).describe('how often live sessions are re-checked against the status list'),
    clock_skew_s: z.number().int().min(0).max(600).default(60).describe('tolerated clock difference for iat/nbf/exp'),
    credential_ttl_days: z.number().int().min(1).max(3650).default(365),
    offer_ttl_s: z.number().int().min(60).max(30 * 86_400).default(7 * 86_400).describe('how long a credential offer may be redeemed'),
    signing_alg: z.enum(['ES256', 'EdDSA']).default('ES256').describe('algorithm of issued credentials (ES256 is the HAIP minimum)'),
    vp_response_mode: z
      .enum(['direct_post.jwt', 'direct_post'])
      .default('direct_post.jwt')
      .describe('OpenID4VP response mode: direct_post.jwt (encrypted to a per-request key, as HAIP requires) or plain direct_post'),
    trusted_issuers: z.array(TrustedIssuer).max(64).default([]).describe('other issuers whose credentials open sessions (the tenant itself is always trusted)'),
  })
  .strict();

const Timeouts = z
  .object({
    connect_ms: ms(5_000),
    first_byte_ms: ms(60_000),
    idle_ms: ms(60_000),
  })
  .strict();

const BackendCommon = {
  id,
  models: z.array(z.string().min(1).max(256)).min(1),
  location: z
    .object({
      country: countryCode,
      region: z.string().max(64).optional(),
      on_premises: z.boolean().default(false),
    })
    .strict(),
  operator: z
    .object({
      name: z.string().min(1).max(256),
      jurisdictions: z.array(countryCode).min(1).describe('every country whose law reaches the operator (parent companies included)'),
    })
    .strict(),
  contract: z
    .object({
      no_training: z.boolean().default(false),
      retention_days: z.number().int().min(0).optional(),
      click_through: z.boolean().default(false),
    })
    .strict()
    .default({ no_training: false, click_through: false }),
  ismap: z
    .object({ listed: z.boolean(), expires: z.iso.date().optional() })
    .strict()
    .optional(),
  approved: z.boolean().default(true).describe('false takes the backend out of every route'),
  weight: z.number().positive().max(1000).default(1),
};

export const OpenAIBackend = z
  .object({
    ...BackendCommon,
    kind: z.literal('openai'),
    url: httpUrl.describe('base URL of an OpenAI-compatible API, such as http://127.0.0.1:8000/v1'),
    api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional().describe('environment variable holding the API key'),
    timeouts: Timeouts.default({ connect_ms: 5_000, first_byte_ms: 60_000, idle_ms: 60_000 }),
    max_connections: z.number().int().positive().max(4096).default(128),
  })
  .strict();

export const LlamaCppBackend = z
  .object({
    ...BackendCommon,
    kind: z.literal('llama-cpp'),
    model_path: z.string().min(1).describe('path to a GGUF file (relative paths are relative to the config file)'),
    context_size: z.number().int().positive().max(1_048_576).default(2048),
    gpu: z.boolean().default(false),
    timeouts: Timeouts.default({ connect_ms: 5_000, first_byte_ms: 60_000, idle_ms: 60_000 }),
  })
  .strict();

export const Backend = z.discriminatedUnion('kind', [OpenAIBackend, LlamaCppBackend]);

export const ModelRoute = z
  .object({
    name: z.string().min(1).max(256),
    backends: z.array(id).min(1).describe('candidate backend ids in preference order'),
    strategy: z.enum(['priority', 'weighted', 'latency']).default('priority'),
  })
  .strict();

const FindingTypeName = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'a finding type in capitals, such as PERSON_NAME');

export const Inspect = z
  .object({
    enabled: z.boolean().default(true).describe('inspect request and answer texts for personal data and secrets'),
    min_score: z.number().min(0).max(1).default(0.5),
    actions: z
      .record(FindingTypeName, z.enum(['allow', 'mask', 'pseudonymize', 'block']))
      .default({})
      .describe('per finding type: allow (raises the level), mask, pseudonymize (restored in the answer) or block'),
    answer_actions: z
      .record(FindingTypeName, z.enum(['allow', 'mask', 'block']))
      .default({ JP_MY_NUMBER: 'mask', CREDIT_CARD: 'mask', SECRET: 'mask' })
      .describe('what to do when an answer contains a finding of this type'),
    custom_patterns: z
      .array(
        z
          .object({
            type: FindingTypeName,
            pattern: z.string().min(1).max(4096).describe('RE2 syntax (linear time)'),
            flags: z.array(z.string()).default([]),
            level: Level.optional(),
            ignore_case: z.boolean().default(false),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name such as SEKISHO_VAULT_PASSPHRASE');
const LOOPBACK_HOSTS = ['127.0.0.1', '::1', '[::1]', 'localhost'];

export const FileKeystore = z
  .object({
    kind: z.literal('file'),
    path: z.string().min(1).optional().describe('the sealed key file (default <data_dir>/keys/tenant.keyfile; relative to the config file)'),
    passphrase_env: envName.default('SEKISHO_VAULT_PASSPHRASE').describe('environment variable holding the passphrase (else it is asked on the terminal)'),
    scrypt_log_n: z.number().int().min(14).max(22).default(15).describe('scrypt cost log2(N) when the key file is created'),
  })
  .strict();

export const Pkcs11Keystore = z
  .object({
    kind: z.literal('pkcs11'),
    library: z.string().min(1).describe('path of the PKCS#11 module, such as /usr/lib/softhsm/libsofthsm2.so'),
    token_label: z.string().min(1).max(32),
    pin_env: envName.default('SEKISHO_HSM_PIN').describe('environment variable holding the user PIN'),
    key_label: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,48}$/, 'letters, digits, ".", "_" or "-" (1–48 characters)')
      .default('sekisho-kek')
      .describe('KEK objects are labelled <key_label>-v<N>'),
  })
  .strict();

export const ExternalKeystore = z
  .object({
    kind: z.literal('external'),
    url: httpUrl.describe('base URL of an XKS-style key service (https, or http to a loopback address)'),
    key_ids: z
      .array(z.string().regex(/^[A-Za-z0-9._:/-]{1,128}$/, 'a key id (letters, digits, ".", "_", ":", "/", "-")'))
      .min(1)
      .max(64)
      .describe('key id per KEK version: version N uses key_ids[N-1]; add one to rotate'),
    allowed_hosts: z.array(z.string().min(1).max(253)).min(1).describe('the only hosts Sekisho will call (the url host must be listed)'),
    token_env: envName.optional().describe('environment variable holding a bearer token for the key service'),
    timeout_ms: z.number().int().positive().max(60_000).default(2_000),
  })
  .strict()
  .superRefine((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v.url);
    } catch {
      return;
    }
    if (!v.allowed_hosts.map((h) => h.toLowerCase()).includes(u.hostname.toLowerCase())) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: `a URL whose host is listed in allowed_hosts (${u.hostname} is not)` });
    }
    if (u.protocol === 'http:' && !LOOPBACK_HOSTS.includes(u.hostname)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'an https:// URL (plain http only to a loopback address)' });
    }
  });

const redisUrl = z
  .string()
  .refine((s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '' && u.username === '' && u.password === '' && u.hash === '' && u.search === '' && /^\/?(\d{1,2})?$/.test(u.pathname);
    } catch {
      return false;
    }
  }, 'a redis:// or rediss:// URL without credentials, such as redis://127.0.0.1:6379 (give the password through password_env)');

export const RedisConfig = z
  .object({
    url: redisUrl.describe('the Redis server shared by the gateway nodes: redis://host:port[/db], or rediss:// for TLS'),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-" (1–64 characters)')
      .optional()
      .describe('keys and channels are named sekisho:<prefix>:…; default: the tenant id'),
    username: z.string().min(1).max(256).optional().describe('ACL user name (Redis 6 or later)'),
    password_env: envName.optional().describe('environment variable holding the Redis password'),
    connect_timeout_ms: z.number().int().positive().max(60_000).default(5_000).describe('how long `serve` waits for Redis before refusing to start'),
    command_timeout_ms: z.number().int().positive().max(60_000).default(1_000).describe('a Redis command without an answer after this long fails (and the request is refused)'),
    session_cache_ms: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(10_000)
      .describe('how long a node trusts a cached session without reading Redis (revocations arrive at once over pub/sub; this bounds a missed message)'),
  })
  .strict();

export const Retention = z.enum(['metadata', 'bodies']);

export const VaultConfig = z
  .object({
    keystore: z
      .discriminatedUnion('kind', [FileKeystore, Pkcs11Keystore, ExternalKeystore])
      .default({ kind: 'file', passphrase_env: 'SEKISHO_VAULT_PASSPHRASE', scrypt_log_n: 15 })
      .describe('where the tenant key-encryption keys live: file, pkcs11 (HSM) or external (key service)'),
    retention: z
      .partialRecord(Level, Retention)
      .default({})
      .describe('per level: metadata (the default: decision records only) or bodies (also the request and answer, encrypted)'),
    max_retained_bytes: z.number().int().positive().max(64 * 1024 * 1024).default(1024 * 1024).describe('request or answer bodies longer than this are cut when retained'),
    subject_cache_ms: z.number().int().min(0).max(3_600_000).default(60_000).describe('how long an unwrapped subject key stays in memory'),
    poll_ms: z.number().int().min(0).max(3_600_000).default(5_000).describe('how often a running gateway picks up rotations and erasures made by the CLI (0: never)'),
  })
  .strict();

export const Audit = z
  .object({
    origin: z
      .string()
      .regex(/^[^\s+]{1,256}$/, 'a log name without spaces or "+", such as audit.example.jp/sekisho')
      .optional()
      .describe('the log name: checkpoint origin and key name (default sekisho.local/<tenant id>/audit)'),
    checkpoint_interval_ms: ms(2_000).describe('publish a checkpoint at least this often when there are new entries'),
    checkpoint_entries: z.number().int().positive().max(1_000_000).default(10_000).describe('… or as soon as this many new entries wait'),
    witnesses: z
      .array(
        z
          .object({
            name: z.string().regex(/^[^\s+]{1,256}$/),
            url: httpUrl.describe('the witness submission prefix (POST <url>/add-checkpoint)'),
            vkey: z.string().min(1).max(512).describe('the witness verifier key (cosignature/v1, <name>+<hash>+<base64>)'),
          })
          .strict(),
      )
      .default([])
      .describe('C2SP tlog-witness witnesses asked to cosign each checkpoint'),
    read: z
      .object({
        access: z.enum(['public', 'auditor']).default('public').describe('who may read /audit/v1/: anyone, or auditors with a bearer token'),
        auditors: z
          .array(
            z
              .object({
                name: z.string().min(1).max(256),
                token_sha256: z.string().regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the bearer token, 64 lowercase hex digits'),
              })
              .strict(),
          )
          .default([]),
      })
      .strict()
      .default({ access: 'public', auditors: [] }),
  })
  .strict();

const ThreatAction = z.enum(['log', 'alert', 'block', 'step_up', 'quarantine']);

export const Threats = z
  .object({
    enabled: z.boolean().default(true).describe('run the threat detectors (prompt injection, jailbreak, exfiltration …) in the inspect stage'),
    threshold: z.number().min(0).max(1).default(0.5).describe('score from which a text counts as an attack (CLI verdict and the built-in rules)'),
    rules_dir: z.string().min(1).optional().describe('a folder of Sigma rules (YAML, logsource product: sekisho) added to the built-in rules/ (relative to the config file)'),
    builtin_rules: z.boolean().default(true).describe('load the Sigma rules shipped in rules/'),
    actions: z
      .record(z.string().regex(/^[A-Za-z0-9._-]{1,128}$/), ThreatAction)
      .default({})
      .describe('per rule id or name: override the action the rule file gives (log, alert, block, step_up, quarantine)'),
    incident_window_s: z.number().int().min(1).max(7 * 86_400).default(3600).describe('alerts of the same principal and rule within this window join one incident'),
    limits: z
      .object({
        principal_requests_per_minute: z.number().int().positive().optional(),
        tenant_requests_per_minute: z.number().int().positive().optional(),
        principal_tokens_per_day: z.number().int().positive().optional(),
        tenant_tokens_per_day: z.number().int().positive().optional(),
      })
      .strict()
      .default({})
      .describe('unbounded consumption: rate limits and token budgets (429 with Retry-After when exceeded)'),
    auth: z
      .object({
        max_failures_per_ip: z.number().int().positive().default(20).describe('failed authentications from one source IP within window_s before it is refused'),
        max_failures_per_credential: z.number().int().positive().default(10).describe('failed attempts on one credential (an API key, an offer and its PIN, a presented credential) from any IP within window_s before that credential is locked'),
        window_s: z.number().int().min(1).max(86_400).default(300),
        block_s: z.number().int().min(1).max(86_400).default(900).describe('how long a source IP or a locked credential stays refused'),
      })
      .strict()
      .default({ max_failures_per_ip: 20, max_failures_per_credential: 10, window_s: 300, block_s: 900 }),
    anomaly: z
      .object({
        enabled: z.boolean().default(true),
        min_history_hours: z.number().int().min(1).max(10_000).default(24).describe('hours of history before an identity is compared with its own baseline (the tenant-wide one before)'),
        mad_threshold: z.number().positive().max(100).default(6).describe('robust z-score (median/MAD) from which an hour is anomalous'),
      })
      .strict()
      .default({ enabled: true, min_history_hours: 24, mad_threshold: 6 }),
    webhooks: z
      .array(
        z
          .object({
            url: httpUrl.describe('where alerts are POSTed (only configured URLs; no redirects)'),
            secret_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/).optional().describe('environment variable holding the HMAC-SHA256 key (header x-sekisho-signature)'),
            timeout_ms: z.number().int().positive().max(30_000).default(3000),
          })
          .strict(),
      )
      .max(16)
      .default([]),
    syslog: z
      .object({
        host: z.string().min(1).max(253),
        port: z.number().int().min(1).max(65535).default(514),
        protocol: z.enum(['udp', 'tcp']).default('udp'),
      })
      .strict()
      .optional()
      .describe('RFC 5424 syslog for alerts'),
    taxii: z
      .object({
        enabled: z.boolean().default(true).describe('serve TAXII 2.1 under /taxii2/ (administrators only)'),
        title: z.string().min(1).max(256).default('Sekisho threat sharing'),
      })
      .strict()
      .default({ enabled: true, title: 'Sekisho threat sharing' }),
  })
  .strict();

export const Config = z
  .object({
    listen: z
      .object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(8787) })
      .strict()
      .default({ host: '127.0.0.1', port: 8787 }),
    data_dir: z.string().default('./data').describe('where generated keys and the default SQLite file live'),
    store: z
      .object({
        sqlite: z.string().min(1).optional().describe('the SQLite file (default <data_dir>/sekisho.db; relative to the config file); one gateway node'),
        postgres: z
          .string()
          .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL')
          .optional()
          .describe('PostgreSQL instead of SQLite, as a URL (postgres://user@host:5432/db; PGPASSWORD and the other libpq variables apply): several gateway nodes share it and one audit log'),
        pool_max: z.number().int().min(2).max(200).optional().describe('PostgreSQL connections per gateway node (default 10)'),
      })
      .strict()
      .refine((s) => !(s.sqlite && s.postgres), { message: 'give store.sqlite or store.postgres, not both' })
      .default({}),
    tenant: z.object({ id, name: z.string().min(1).max(256) }).strict(),
    redis: RedisConfig.optional().describe('several gateway nodes: rate limits, budgets, sessions, revocation and config reload shared over Redis (absent: one node, in memory)'),
    backends: z.array(Backend).default([]),
    models: z.array(ModelRoute).default([]),
    expose_backend_models: z.boolean().default(true).describe('also accept the backends\' own model names'),
    policy: Policy.default({ levels: {}, flags: {}, pack: 'default' }),
    identity: Identity.default({
      enabled: true,
      session_ttl_s: 3600,
      status_refresh_s: 60,
      clock_skew_s: 60,
      credential_ttl_days: 365,
      offer_ttl_s: 7 * 86_400,
      signing_alg: 'ES256',
      vp_response_mode: 'direct_post.jwt',
      trusted_issuers: [],
    }),
    inspect: Inspect.default({
      enabled: true,
      min_score: 0.5,
      actions: {},
      answer_actions: { JP_MY_NUMBER: 'mask', CREDIT_CARD: 'mask', SECRET: 'mask' },
      custom_patterns: [],
    }),
    limits: z
      .object({
        max_body_bytes: z.number().int().positive().max(64 * 1024 * 1024).default(1024 * 1024),
        max_response_bytes: z.number().int().positive().max(256 * 1024 * 1024).default(16 * 1024 * 1024),
        body_timeout_ms: ms(30_000),
        shutdown_grace_ms: ms(30_000),
      })
      .strict()
      .default({ max_body_bytes: 1024 * 1024, max_response_bytes: 16 * 1024 * 1024, body_timeout_ms: 30_000, shutdown_grace_ms: 30_000 }),
    routing: z
      .object({
        failure_threshold: z.number().int().positive().max(1000).default(3),
        open_ms: ms(10_000),
        max_attempts: z.number().int().positive().max(16).default(3),
      })
      .strict()
      .default({ failure_threshold: 3, open_ms: 10_000, max_attempts: 3 }),
    vault: VaultConfig.default({
      keystore: { kind: 'file', passphrase_env: 'SEKISHO_VAULT_PASSPHRASE', scrypt_log_n: 15 },
      retention: {},
      max_retained_bytes: 1024 * 1024,
      subject_cache_ms: 60_000,
      poll_ms: 5_000,
    }),
    audit: Audit.default({ checkpoint_interval_ms: 2_000, checkpoint_entries: 10_000, witnesses: [], read: { access: 'public', auditors: [] } }),
    admin: z
      .object({
        api_keys: z.array(z.string().min(1).max(256)).max(1000).default([]).describe('names of API keys that may use the console, TAXII and the admin API'),
        roles: z.array(z.string().min(1).max(128)).max(100).default(['admin']).describe('credential roles (the `role` claim) that make a person an administrator'),
      })
      .strict()
      .default({ api_keys: [], roles: ['admin'] }),
    threats: Threats.default({
      enabled: true,
      threshold: 0.5,
      builtin_rules: true,
      actions: {},
      incident_window_s: 3600,
      limits: {},
      auth: { max_failures_per_ip: 20, max_failures_per_credential: 10, window_s: 300, block_s: 900 },
      anomaly: { enabled: true, min_history_hours: 24, mad_threshold: 6 },
      webhooks: [],
      taxii: { enabled: true, title: 'Sekisho threat sharing' },
    }),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export type Config = z.infer<typeof Config>;
export type BackendConfig = z.infer<typeof Backend>;
export type OpenAIBackendConfig = z.infer<typeof OpenAIBackend>;
export type LlamaCppBackendConfig = z.infer<typeof LlamaCppBackend>;
export type LevelRuleConfig = z.infer<typeof LevelRule>;
export type ModelRouteConfig = z.infer<typeof ModelRoute>;
export type LevelName = z.infer<typeof Level>;
export type IdentityConfig = z.infer<typeof Identity>;
export type VaultConfigT = z.infer<typeof VaultConfig>;
export type AuditConfig = z.infer<typeof Audit>;
export type AdminConfig = Config['admin'];
export type ThreatsConfig = z.infer<typeof Threats>;
export type RedisConfigT = z.infer<typeof RedisConfig>;

export function jsonSchema(): unknown {
  return z.toJSONSchema(Config, { io: 'input', target: 'draft-2020-12' });
}
