import type { CatalogEntry } from '../api';

/** The `<option>`s of every filter and recipe, for the viewfinder's look picker and the viewer's apply picker. */
export function CatalogOptions({ catalog }: { catalog: { filters: CatalogEntry[]; recipes: CatalogEntry[] } }) {
  return (
    <>
      {catalog.filters.map((f) => (
        <option key={f.name} value={f.name}>
          {f.title ?? f.name}
        </option>
      ))}
      {catalog.recipes.map((f) => (
        <option key={`r-${f.name}`} value={f.name}>
          {f.title ?? f.name} (recipe)
        </option>
      ))}
    </>
  );
}
