import { useEffect, useState } from 'preact/hooks';
import { api, errorText, type Photo } from '../api';
import { onWs } from '../ws';

const BADGE: Record<string, [string, string]> = {
  synced: ['✓', 'Synced'],
  queued: ['↑', 'Waiting to sync'],
  uploading: ['⟳', 'Uploading'],
  failed: ['!', 'Sync failed'],
};

function SyncBadge({ photo }: { photo: Photo }) {
  const s = photo.sync?.state;
  if (!s) return null;
  const [icon, label] = BADGE[s];
  return (
    <span class={`badge sync-${s}`} data-testid="sync-badge" data-state={s} title={label} role="img" aria-label={label}>
      {icon}
    </span>
  );
}

const PAGE = 30;

/** The whole gallery, or one person's photos (`#/gallery?person=ID`, from the People tab). */
export function Gallery({ person }: { person?: string } = {}) {
  const [photos, setPhotos] = useState<Photo[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [selecting, setSelecting] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [confirming, setConfirming] = useState(false);

  const load = async (from: string | null, replace: boolean) => {
    setLoading(true);
    try {
      const q = `limit=${PAGE}${from ? `&cursor=${encodeURIComponent(from)}` : ''}`;
      const base = person ? `/api/people/${person}/photos` : '/api/photos';
      const page = await api<{ photos: Photo[]; nextCursor: string | null }>('GET', `${base}?${q}`);
      setPhotos((p) => (replace ? page.photos : [...p, ...page.photos]));
      setCursor(page.nextCursor);
      setError(null);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void load(null, true);
  }, []);

  // Upload state changes: refresh the badges of the photos on screen (one request for the first page).
  useEffect(() => {
    let t: number | undefined;
    const off = onWs('sync', () => {
      window.clearTimeout(t);
      t = window.setTimeout(async () => {
        try {
          const page = await api<{ photos: Photo[] }>('GET', `/api/photos?limit=${PAGE}`);
          const byId = new Map(page.photos.map((p) => [p.id, p]));
          setPhotos((ps) => ps.map((p) => (byId.has(p.id) ? { ...p, sync: byId.get(p.id)?.sync } : p)));
        } catch {
          /* the next event or a reload shows it */
        }
      }, 300);
    });
    return () => {
      off();
      window.clearTimeout(t);
    };
  }, []);

  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };

  const deleteSelected = async () => {
    setConfirming(false);
    const failed: string[] = [];
    for (const id of selected) {
      try {
        await api('DELETE', `/api/photos/${id}`);
      } catch {
        failed.push(id);
      }
    }
    setPhotos((p) => p.filter((x) => !selected.has(x.id) || failed.includes(x.id)));
    setSelected(new Set(failed));
    if (failed.length) setError(`${failed.length} photo(s) could not be deleted.`);
  };

  const zipHref = `/api/archive.zip?ids=${[...selected].join(',')}`;

  return (
    <div class="gallery">
      <div class="toolbar">
        <h2>Gallery</h2>
        {person && (
          <a class="chip active" href="#/gallery" data-testid="person-filter">
            One person ×
          </a>
        )}
        <button
          type="button"
          onClick={() => {
            setSelecting(!selecting);
            setSelected(new Set());
            setConfirming(false);
          }}
        >
          {selecting ? 'Done' : 'Select'}
        </button>
      </div>
      {selecting && (
        <div class="toolbar selection">
          <span>{selected.size} selected</span>
          <a
            class={`button${selected.size ? '' : ' disabled'}`}
            href={selected.size ? zipHref : undefined}
            download="pinhole-photos.zip"
          >
            Download zip
          </a>
          {confirming ? (
            <button type="button" class="danger" onClick={deleteSelected}>
              Delete {selected.size}?
            </button>
          ) : (
            <button type="button" class="danger" disabled={!selected.size} onClick={() => setConfirming(true)}>
              Delete
            </button>
          )}
        </div>
      )}
      {error && <p class="error">{error}</p>}
      {!loading && photos.length === 0 && !error && <p class="muted center">No photos yet. Take one!</p>}
      <div class="grid" data-testid="grid">
        {photos.map((p) =>
          selecting ? (
            <button
              type="button"
              key={p.id}
              class={`cell${selected.has(p.id) ? ' selected' : ''}`}
              onClick={() => toggle(p.id)}
              aria-pressed={selected.has(p.id)}
            >
              <img src={`/api/photos/${p.id}/thumb`} alt={p.takenAt} loading="lazy" />
            </button>
          ) : (
            <a key={p.id} class="cell" href={`#/gallery/${p.id}`} data-photo={p.id}>
              <img src={`/api/photos/${p.id}/thumb`} alt={p.takenAt} loading="lazy" />
              <SyncBadge photo={p} />
            </a>
          ),
        )}
      </div>
      {cursor && (
        <button type="button" class="more" disabled={loading} onClick={() => load(cursor, false)}>
          {loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </div>
  );
}
