import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type CatalogEntry, errorText, type Job, type Photo } from '../api';
import { onWs } from '../ws';
import { Alternates, isAlternate } from './alternates';
import { CatalogOptions } from './catalog-options';
import { ScanCorners } from './scan';

/** Neighbours for swiping: the newest page around this photo. */
async function neighbours(id: string): Promise<{ prev?: string; next?: string }> {
  const page = await api<{ photos: Photo[] }>('GET', '/api/photos?limit=100');
  const i = page.photos.findIndex((p) => p.id === id);
  if (i < 0) return {};
  return { prev: page.photos[i - 1]?.id, next: page.photos[i + 1]?.id };
}

export function Viewer({ id }: { id: string }) {
  const [photo, setPhoto] = useState<Photo | null>(null);
  const [variant, setVariant] = useState('original');
  const [split, setSplit] = useState(50);
  const [compare, setCompare] = useState(false);
  const [nav, setNav] = useState<{ prev?: string; next?: string }>({});
  const [catalog, setCatalog] = useState<{ filters: CatalogEntry[]; recipes: CatalogEntry[] }>({
    filters: [],
    recipes: [],
  });
  const [apply, setApply] = useState('');
  const [job, setJob] = useState<Job | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [editCorners, setEditCorners] = useState(false);
  const touchX = useRef<number | null>(null);

  const reload = () =>
    api<{ photo: Photo }>('GET', `/api/photos/${id}`)
      .then((r) => setPhoto(r.photo))
      .catch((e) => setError(errorText(e)));

  useEffect(() => {
    setPhoto(null);
    setVariant('original');
    setJob(null);
    setConfirmDelete(false);
    void reload();
    neighbours(id)
      .then(setNav)
      .catch(() => {});
  }, [id]);

  useEffect(() => {
    api<typeof catalog>('GET', '/api/filters')
      .then(setCatalog)
      .catch(() => {});
  }, []);

  useEffect(
    () =>
      onWs('job', (d) => {
        const j = d as Job;
        if (j.photoId !== id) return;
        setJob(j);
        if (j.state === 'done') {
          void reload().then(() => j.variant && setVariant(j.variant));
        }
      }),
    [id],
  );

  const src = (v: string) => `/api/photos/${id}/file${v === 'original' ? '' : `?variant=${encodeURIComponent(v)}`}`;

  const startJob = async () => {
    if (!apply) return;
    setError(null);
    const isRecipe = catalog.recipes.some((r) => r.name === apply) && !catalog.filters.some((f) => f.name === apply);
    try {
      const r = await api<{ job: Job }>(
        'POST',
        `/api/photos/${id}/variants`,
        isRecipe ? { recipe: apply } : { filter: apply },
      );
      setJob(r.job);
    } catch (e) {
      setError(errorText(e));
    }
  };

  const remove = async () => {
    try {
      await api('DELETE', `/api/photos/${id}`);
      location.hash = nav.next ? `#/gallery/${nav.next}` : '#/gallery';
    } catch (e) {
      setError(errorText(e));
    }
  };

  const share = async () => {
    try {
      const blob = await (await fetch(src(variant))).blob();
      const file = new File([blob], `pinhole-${id}.jpg`, { type: 'image/jpeg' });
      if (navigator.canShare?.({ files: [file] })) await navigator.share({ files: [file], title: 'Pinhole photo' });
    } catch (e) {
      if ((e as Error).name !== 'AbortError') setError(errorText(e));
    }
  };
  const canShare = typeof navigator.share === 'function' && window.isSecureContext;

  const onTouchStart = (e: TouchEvent) => {
    touchX.current = e.touches[0]?.clientX ?? null;
  };
  const onTouchEnd = (e: TouchEvent) => {
    if (touchX.current === null || compare) return;
    const dx = (e.changedTouches[0]?.clientX ?? touchX.current) - touchX.current;
    touchX.current = null;
    if (dx < -60 && nav.next) location.hash = `#/gallery/${nav.next}`;
    if (dx > 60 && nav.prev) location.hash = `#/gallery/${nav.prev}`;
  };

  // Best-shot alternates have their own strip; the chips are the filtered versions.
  const variants = (photo?.variants ?? []).filter((v) => !isAlternate(v));
  return (
    <div class="viewer">
      <div class="toolbar">
        <a href="#/gallery">‹ Gallery</a>
        <span class="muted">{photo ? new Date(photo.takenAt).toLocaleString() : ''}</span>
      </div>
      <div class="photo" onTouchStart={onTouchStart} onTouchEnd={onTouchEnd}>
        {compare && variant !== 'original' ? (
          <div class="compare" data-testid="compare">
            <img src={src(variant)} alt="After" />
            <img
              src={src('original')}
              alt="Before"
              class="before"
              style={{ clipPath: `inset(0 ${100 - split}% 0 0)` }}
            />
            <input
              type="range"
              min={0}
              max={100}
              value={split}
              onInput={(e) => setSplit(Number(e.currentTarget.value))}
              aria-label="Before / after"
            />
          </div>
        ) : (
          <img src={src(variant)} alt={`Shot ${id}`} data-testid="photo" />
        )}
        {nav.prev && (
          <a class="nav prev" href={`#/gallery/${nav.prev}`} aria-label="Newer">
            ‹
          </a>
        )}
        {nav.next && (
          <a class="nav next" href={`#/gallery/${nav.next}`} aria-label="Older">
            ›
          </a>
        )}
      </div>
      {photo && (
        <Alternates
          photo={photo}
          variant={variant}
          onSelect={setVariant}
          onPromoted={(p) => {
            setPhoto(p);
            setVariant('original');
          }}
        />
      )}
      {variants.length > 0 && (
        <div class="variants">
          {['original', ...variants.map((v) => v.name)].map((v) => (
            <button
              type="button"
              key={v}
              class={v === variant ? 'chip active' : 'chip'}
              onClick={() => setVariant(v)}
              data-variant={v}
            >
              {v}
            </button>
          ))}
          {variant !== 'original' && (
            <button type="button" class={compare ? 'chip active' : 'chip'} onClick={() => setCompare(!compare)}>
              Before/after
            </button>
          )}
          {variants.some((v) => v.name === 'scan') && (
            <button
              type="button"
              class={editCorners ? 'chip active' : 'chip'}
              onClick={() => setEditCorners(!editCorners)}
              data-testid="scan-corners"
            >
              Print corners
            </button>
          )}
        </div>
      )}
      {photo && editCorners && <ScanCorners photo={photo} onQueued={() => setEditCorners(false)} />}
      <div class="actions">
        <a class="button" href={`${src(variant)}${variant === 'original' ? '?' : '&'}download=1`} download>
          Download
        </a>
        {canShare && (
          <button type="button" onClick={share}>
            Share
          </button>
        )}
        {confirmDelete ? (
          <>
            <button type="button" class="danger" onClick={remove}>
              Really delete
            </button>
            <button type="button" onClick={() => setConfirmDelete(false)}>
              Keep
            </button>
          </>
        ) : (
          <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
            Delete
          </button>
        )}
      </div>
      <div class="apply">
        <select value={apply} onChange={(e) => setApply(e.currentTarget.value)} data-testid="apply-filter">
          <option value="">Apply a filter…</option>
          <CatalogOptions catalog={catalog} />
        </select>
        <button
          type="button"
          class="primary"
          disabled={!apply || (job !== null && (job.state === 'queued' || job.state === 'running'))}
          onClick={startJob}
        >
          Apply
        </button>
      </div>
      {job && (
        <div class="job" data-testid="job" data-state={job.state}>
          {job.state === 'failed'
            ? `Failed: ${job.error ?? 'unknown error'}`
            : job.state === 'done'
              ? 'Done.'
              : `${job.state === 'queued' ? 'Queued' : 'Working'}…`}
          <progress max={1} value={job.state === 'done' ? 1 : (job.progress ?? 0)} />
        </div>
      )}
      {error && <p class="error">{error}</p>}
    </div>
  );
}
