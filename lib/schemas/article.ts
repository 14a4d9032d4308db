import * as Tb from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { capErrors, explainObject, type FieldError, show } from './explain';
import { registerFormats } from './formats';

registerFormats();

/**
 * A crawled article as `POST /v1/articles` and the objects under `articles/` carry it. Fields
 * outside the schema are refused (a misspelt `tag` would otherwise be dropped in silence).
 */
export const ArticleDocumentSchema = Tb.Object(
  {
    article_id: Tb.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[A-Za-z0-9._:-]+$',
      description: 'the article id clicks refer to (letters, digits, . _ : -)',
    }),
    title: Tb.String({ minLength: 1, maxLength: 500, description: 'headline' }),
    body: Tb.String({ minLength: 1, maxLength: 200_000, description: 'article text' }),
    category: Tb.String({ minLength: 1, maxLength: 64, description: 'section, e.g. sports' }),
    published_at: Tb.String({
      format: 'date-time',
      maxLength: 40,
      description: 'publication time, RFC 3339 with offset',
    }),
    tags: Tb.Optional(
      Tb.Array(Tb.String({ minLength: 1, maxLength: 64 }), { maxItems: 32, description: 'editorial tags' }),
    ),
  },
  { $id: 'article', additionalProperties: false },
);

/** A valid crawled article. */
export type ArticleDocument = Tb.Static<typeof ArticleDocumentSchema>;

const check = TypeCompiler.Compile(ArticleDocumentSchema);
const HINTS = {
  unknownField: () => 'unknown field; an article has article_id, title, body, category, published_at, tags',
};

/** Validates one document: the typed article, or every problem found (capped), each with its JSON pointer. */
export function validateArticle(
  value: unknown,
): { ok: true; article: ArticleDocument } | { ok: false; errors: FieldError[] } {
  if (check.Check(value)) return { ok: true, article: value };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, errors: [{ path: '', message: `an article must be an object, got ${show(value)}` }] };
  }
  const errors: FieldError[] = [];
  explainObject(ArticleDocumentSchema, value as Record<string, unknown>, '', errors, HINTS);
  if (errors.length === 0) errors.push({ path: '', message: 'does not match the article schema' });
  return { ok: false, errors: capErrors(errors) };
}
