import type { FiltersConfig } from '../config/sections/filters.js';
import { NotFoundError, ValidationError } from '../util/errors.js';
import { auto, faded, film, grain, lowlight, sepia, vignette } from './classical.js';
import { portrait, privacy } from './face-filters.js';
import { denoise, upscale } from './model-filters.js';
import { resolveParams } from './params.js';
import type { FaceFinder, FilterDef, ModelProvider, ParamValues } from './types.js';

export const BUILTIN_FILTERS: readonly FilterDef[] = [
  denoise,
  upscale,
  lowlight,
  auto,
  film,
  sepia,
  faded,
  vignette,
  grain,
  portrait,
  privacy,
];

export type RecipeStep = FiltersConfig['recipes'][string][number];

export interface ResolvedStep {
  filter: FilterDef;
  params: ParamValues;
}

export interface FilterInfo {
  name: string;
  title: string;
  description: string;
  kind: FilterDef['kind'];
  cost: FilterDef['cost'];
  params: FilterDef['params'];
  available: boolean;
  /** Why it cannot run (missing model, no face detector). */
  problems: string[];
}

/** The filters and the recipes of the config, resolved and validated against each other. */
export class FilterRegistry {
  private readonly filters = new Map<string, FilterDef>();

  constructor(
    filters: readonly FilterDef[] = BUILTIN_FILTERS,
    private readonly recipes: Record<string, RecipeStep[]> = {},
  ) {
    for (const f of filters) this.filters.set(f.name, f);
    const errors = validateRecipes(recipes, this);
    if (errors.length)
      throw new ValidationError(`invalid filters.recipes:\n${errors.join('\n')}`, errors, 'bad-recipe');
  }

  get(name: string): FilterDef | undefined {
    return this.filters.get(name);
  }

  list(): FilterDef[] {
    return [...this.filters.values()];
  }

  recipeNames(): string[] {
    return Object.keys(this.recipes);
  }

  recipe(name: string): RecipeStep[] | undefined {
    return this.recipes[name];
  }

  /** A filter name (with params) or a recipe name (its params are its own) → steps with checked params. */
  resolve(nameOrRecipe: string, params: Record<string, unknown> = {}): ResolvedStep[] {
    const filter = this.filters.get(nameOrRecipe);
    if (filter) return [{ filter, params: resolveParams(filter, params) }];
    const recipe = this.recipes[nameOrRecipe];
    if (!recipe) {
      throw new NotFoundError(
        `unknown filter or recipe "${nameOrRecipe}" (filters: ${[...this.filters.keys()].join(', ')}${this.recipeNames().length ? `; recipes: ${this.recipeNames().join(', ')}` : ''})`,
        'unknown-filter',
      );
    }
    if (Object.keys(params).length)
      throw new ValidationError(
        `recipe ${nameOrRecipe} sets its own parameters; --param applies to a single filter`,
        undefined,
        'bad-param',
      );
    return recipe.map((step) => resolveStep(step, this));
  }

  /** Why these steps cannot run now, if anything. */
  async problems(steps: ResolvedStep[], models: ModelProvider, faces: FaceFinder | undefined): Promise<string[]> {
    const out: string[] = [];
    for (const { filter, params } of steps) {
      if (filter.needsFaces) {
        const p = faces ? await faces.problem?.() : 'face detection is off (vision.faces.enabled)';
        if (p) out.push(`${filter.name}: ${p}`);
      }
      for (const m of filter.models?.(params) ?? []) {
        const p = await models.problem(m);
        if (p) out.push(`${filter.name}: ${p}`);
      }
    }
    return out;
  }

  async info(models: ModelProvider, faces: FaceFinder | undefined): Promise<FilterInfo[]> {
    const out: FilterInfo[] = [];
    for (const f of this.filters.values()) {
      // Every model any param value may need: a filter is listed as available only if all its variants are.
      const variants = Object.entries(f.params).filter(([, s]) => s.type === 'enum');
      const paramSets: ParamValues[] = variants.length
        ? variants.flatMap(([k, s]) => (s.type === 'enum' ? s.values.map((v) => resolveParams(f, { [k]: v })) : []))
        : [resolveParams(f)];
      const problems = new Set<string>();
      for (const ps of paramSets)
        for (const p of await this.problems([{ filter: f, params: ps }], models, faces)) problems.add(p);
      out.push({
        name: f.name,
        title: f.title,
        description: f.description,
        kind: f.kind,
        cost: f.cost,
        params: f.params,
        available: problems.size === 0,
        problems: [...problems],
      });
    }
    return out;
  }
}

function resolveStep(step: RecipeStep, reg: FilterRegistry): ResolvedStep {
  const [name, params] = typeof step === 'string' ? [step, {}] : (Object.entries(step)[0] ?? ['', {}]);
  const filter = reg.get(name);
  if (!filter) throw new ValidationError(`unknown filter "${name}"`, undefined, 'unknown-filter');
  return { filter, params: resolveParams(filter, params) };
}

/** `filters.recipes.<name>[i]: message` lines for every problem; empty when all recipes are valid. */
export function validateRecipes(recipes: Record<string, RecipeStep[]>, reg: Pick<FilterRegistry, 'get'>): string[] {
  const errors: string[] = [];
  for (const [name, steps] of Object.entries(recipes)) {
    if (reg.get(name)) errors.push(`filters.recipes.${name}: a recipe cannot have the name of a filter`);
    steps.forEach((step, i) => {
      try {
        resolveStep(step, reg as FilterRegistry);
      } catch (e) {
        errors.push(`filters.recipes.${name}[${i}]: ${(e as Error).message}`);
      }
    });
  }
  return errors;
}
