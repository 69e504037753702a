/** Backend adapters by kind. */
import type { BackendConfig } from '../config/schema.js';
import { createOpenAIBackend } from './openai.js';
import type { BackendAdapter } from './types.js';

export * from './types.js';

export async function createBackend(cfg: BackendConfig, opts: { configDir: string; env?: NodeJS.ProcessEnv }): Promise<BackendAdapter> {
  switch (cfg.kind) {
    case 'openai':
      return createOpenAIBackend(cfg, opts.env);
    case 'llama-cpp': {
      const { createLlamaCppBackend } = await import('./llama-cpp.js');
      return createLlamaCppBackend(cfg, { configDir: opts.configDir });
    }
  }
}
