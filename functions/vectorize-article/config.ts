import { intEnv, optionalEnv, requireEnv } from '../../lib/config';

/** Everything vectorize-article reads from its environment (see serverless.yml), read once at start-up. */
export interface VectorizeConfig {
  dataBucket: string;
  articleVectorsTable: string;
  /** Most documents in one POST /v1/articles request. */
  maxDocuments: number;
  /** Most bytes of a decoded (gunzipped) request body. */
  maxBytes: number;
  /** SSM parameter holding the comma-separated API keys; empty on the local stage. */
  apiKeysParameter: string;
  /** Comma-separated API keys, used only when apiKeysParameter is empty. */
  apiKeys: string;
}

/** Reads and checks the settings; throws a ConfigError naming the first bad variable. */
export function loadVectorizeConfig(env: NodeJS.ProcessEnv = process.env): VectorizeConfig {
  return {
    dataBucket: requireEnv('DATA_BUCKET', env),
    articleVectorsTable: requireEnv('ARTICLE_VECTORS_TABLE', env),
    maxDocuments: intEnv('ARTICLES_MAX_DOCUMENTS', 500, env),
    maxBytes: intEnv('ARTICLES_MAX_BYTES', 1_048_576, env),
    apiKeysParameter: optionalEnv('API_KEYS_PARAMETER', '', env),
    apiKeys: optionalEnv('API_KEYS', '', env),
  };
}
