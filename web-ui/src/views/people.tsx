import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { onWs } from '../ws';

interface PeopleStatus {
  enabled: boolean;
  people: number;
  faces: number;
  queued: number;
  state?: string;
  reason?: string;
  repaired?: string;
}

interface Person {
  id: string;
  name: string | null;
  faces: number;
  photos: number;
  cover: string;
}

interface FaceItem {
  id: string;
  photoId: string;
}

export const PEOPLE_SENTENCE =
  'People groups the faces in your photos by person. For each face it keeps a descriptor (128 numbers) and a small thumbnail here on the camera only: never in the photos, their metadata or anything synced, and they are deleted with their photo.';

const faceThumb = (faceId: string) => `/api/people/faces/${faceId}/thumb`;
const label = (p: Person) => p.name ?? 'Unnamed';

function PersonCard(props: { person: Person; others: Person[]; onChanged: () => void }) {
  const { person } = props;
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(person.name ?? '');
  const [merging, setMerging] = useState(false);
  const [showFaces, setShowFaces] = useState<FaceItem[] | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      props.onChanged();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const loadFaces = async () => {
    const r = await api<{ person: { faceList: FaceItem[] } }>('GET', `/api/people/${person.id}`);
    setShowFaces(r.person.faceList);
  };

  return (
    <div class="person" data-person={person.id}>
      <img class="face-img" src={faceThumb(person.cover)} alt={label(person)} loading="lazy" />
      {renaming ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void act(async () => {
              await api('PATCH', `/api/people/${person.id}`, { name: name.trim() || null });
              setRenaming(false);
            });
          }}
        >
          <input
            value={name}
            maxLength={60}
            aria-label="Name"
            onInput={(e) => setName(e.currentTarget.value)}
            data-testid="person-name-input"
          />
          <button type="submit" class="primary">
            Save
          </button>
        </form>
      ) : (
        <strong data-testid="person-name">{label(person)}</strong>
      )}
      <span class="muted">
        {person.faces} {person.faces === 1 ? 'face' : 'faces'} · {person.photos}{' '}
        {person.photos === 1 ? 'photo' : 'photos'}
      </span>
      <div class="person-actions">
        <a class="button" href={`#/gallery?person=${person.id}`} data-testid="person-photos">
          Photos
        </a>
        <button type="button" onClick={() => setRenaming(!renaming)}>
          Rename
        </button>
        {props.others.length > 0 && (
          <button type="button" onClick={() => setMerging(!merging)}>
            Merge…
          </button>
        )}
        <button type="button" onClick={() => (showFaces ? setShowFaces(null) : void loadFaces())}>
          Faces
        </button>
        {confirmDelete ? (
          <button
            type="button"
            class="danger"
            onClick={() => act(() => api('DELETE', `/api/people/${person.id}`))}
            data-testid="person-delete-confirm"
          >
            Really delete
          </button>
        ) : (
          <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
            Delete
          </button>
        )}
      </div>
      {merging && (
        <select
          aria-label="Merge with"
          data-testid="merge-select"
          onChange={(e) => {
            const from = e.currentTarget.value;
            if (from) void act(() => api('POST', `/api/people/${person.id}/merge`, { from }));
          }}
        >
          <option value="">Same person as…</option>
          {props.others.map((o) => (
            <option key={o.id} value={o.id}>
              {label(o)} ({o.faces})
            </option>
          ))}
        </select>
      )}
      {showFaces && (
        <div class="faces-grid">
          {showFaces.map((f) => (
            <div class="face-tile" key={f.id}>
              <a href={`#/gallery/${f.photoId}`}>
                <img class="face-img" src={faceThumb(f.id)} alt="" loading="lazy" />
              </a>
              <button
                type="button"
                class="small"
                onClick={() =>
                  act(async () => {
                    await api('DELETE', `/api/people/${person.id}/faces/${f.id}`);
                    await loadFaces().catch(() => setShowFaces(null));
                  })
                }
                data-face={f.id}
              >
                Not {label(person)}
              </button>
            </div>
          ))}
        </div>
      )}
      {error && <p class="error">{error}</p>}
    </div>
  );
}

/** The People tab: off until the owner turns it on; then one card per person. */
export function People() {
  const [status, setStatus] = useState<PeopleStatus | null>(null);
  const [people, setPeople] = useState<Person[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [confirmOff, setConfirmOff] = useState(false);
  const timer = useRef<number>();

  const load = () =>
    api<{ status: PeopleStatus; people: Person[] }>('GET', '/api/people')
      .then((r) => {
        setStatus(r.status);
        setPeople(r.people);
        setError(null);
      })
      .catch((e) => setError(errorText(e)));

  useEffect(() => {
    void load();
    const off = onWs('people', () => {
      // A back-fill changes People once per photo: reload at most twice a second.
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(() => void load(), 500);
    });
    return () => {
      off();
      window.clearTimeout(timer.current);
    };
  }, []);

  const setEnabled = async (on: boolean) => {
    setConfirmOff(false);
    try {
      await api('POST', `/api/people/${on ? 'enable' : 'disable'}`, {});
      await load();
    } catch (e) {
      setError(errorText(e));
    }
  };

  if (!status) return <div class="center muted">{error ?? 'Loading…'}</div>;
  return (
    <div class="people">
      <div class="toolbar">
        <h2>People</h2>
        {status.enabled &&
          (confirmOff ? (
            <button type="button" class="danger" onClick={() => setEnabled(false)} data-testid="people-off-confirm">
              Turn off and delete
            </button>
          ) : (
            <button type="button" onClick={() => setConfirmOff(true)} data-testid="people-off">
              Turn off
            </button>
          ))}
      </div>
      <p class="muted" data-testid="people-sentence">
        {PEOPLE_SENTENCE}
      </p>
      {!status.enabled ? (
        <button type="button" class="primary" onClick={() => setEnabled(true)} data-testid="people-on">
          Turn on People
        </button>
      ) : (
        <>
          <p data-testid="people-status">
            {status.people} {status.people === 1 ? 'person' : 'people'}, {status.faces} faces
            {status.queued > 0 ? `, ${status.queued} photos waiting` : ''}
            {status.state === 'unavailable' && status.reason ? ` — paused: ${status.reason}` : ''}
          </p>
          {confirmOff && (
            <p class="warn">Turning People off deletes every face descriptor, name and merge. Photos are kept.</p>
          )}
          {status.repaired && <p class="warn">{status.repaired}</p>}
          <div class="people-grid" data-testid="people-grid">
            {people.map((p) => (
              <PersonCard key={p.id} person={p} others={people.filter((o) => o.id !== p.id)} onChanged={load} />
            ))}
          </div>
        </>
      )}
      {error && <p class="error">{error}</p>}
    </div>
  );
}
